"""The ``grader`` command, called in-process (grader/cli.py)."""
from __future__ import annotations

import argparse
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import notebook_with_region, tiny_reference_body

from grader.cli import SUBCOMMANDS, main, parser
from grader.core.files import safe_file_name
from grader.notebook.regions import placeholder_for

TINY_RESULT = safe_file_name("Tiny") + ".json"  # the result of a student's Tiny.ipynb


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")


# --- the parser ---------------------------------------------------------------------------------

def _commands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_parser_built_for_one_command_reads_it_as_the_whole_parser_does():
    whole = _commands(parser())
    assert set(whole) == {name for names, _ in SUBCOMMANDS for name in names}
    for names, _ in SUBCOMMANDS:
        for name in names:
            alone = _commands(parser(name))
            assert set(alone) == set(names), name
            assert alone[name].format_help() == whole[name].format_help(), name


def test_help_and_unknown_commands_still_list_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["nonsense"])
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err
    for names, _ in SUBCOMMANDS:
        assert all(repr(name) in err for name in names)


# --- grade ----------------------------------------------------------------------------------

@pytest.mark.kernel
def test_grade_a_folder_writes_results_and_reports(capsys, tiny_warm, tiny_submission, tmp_path):
    folder = tmp_path / "class"
    tiny_submission("alice", "y = factor * x", folder=folder)
    tiny_submission("bob", "y = x + factor", folder=folder)
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "grade", folder, "--solutions", tiny_warm, "--out", out)
    assert code == 0
    for student in ("alice", "bob"):
        result = json.loads((out / student / TINY_RESULT).read_text(encoding="utf-8"))
        assert result["student"] == student
        assert result["status"] == "graded"
        report = (out / student / "report.html").read_text(encoding="utf-8")
        assert "<html" in report.lower()
    alice = json.loads((out / "alice" / TINY_RESULT).read_text(encoding="utf-8"))
    bob = json.loads((out / "bob" / TINY_RESULT).read_text(encoding="utf-8"))
    assert alice["score"] == alice["max_score"]
    assert bob["score"] == 0
    lines = stdout.splitlines()
    alice_line = next(line for line in lines if line.startswith("alice"))
    bob_line = next(line for line in lines if line.startswith("bob"))
    assert lines.index(alice_line) < lines.index(bob_line)  # student order, whichever finished first
    assert alice_line.endswith(f"{alice['score']:g} / {alice['max_score']:g}")
    assert bob_line.endswith(f"0 / {bob['max_score']:g}")


@pytest.mark.kernel
def test_grade_json_output_and_an_unreadable_file(capsys, tiny_warm, tiny_submission, tmp_path):
    folder = tmp_path / "class"
    tiny_submission("carol", "y = factor * x", folder=folder)
    (folder / "dave").mkdir()
    (folder / "dave" / "Tiny.ipynb").write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "grade", folder, "--solutions", tiny_warm, "--out", out, "--json")
    assert code == 0  # the unreadable notebook got a result: 0 points with the reason
    results = {r["student"]: r for r in json.loads(stdout)}
    assert set(results) == {"carol", "dave"}
    assert results["carol"]["status"] == "graded"
    assert results["dave"]["status"] == "unreadable"
    assert results["dave"]["message"].startswith("not valid JSON")
    assert results["dave"]["max_score"] == results["carol"]["max_score"]  # known from the file name
    assert (out / "dave" / TINY_RESULT).exists()
    assert (out / "dave" / "report.html").exists()


def test_grade_unreadable_only_is_a_result_and_exits_0_without_a_kernel(capsys, tiny_folder, tmp_path):
    path = tmp_path / "erin" / "Tiny.ipynb"
    path.parent.mkdir()
    path.write_bytes(b"")
    code, stdout, _ = run(capsys, "grade", path, "--solutions", tiny_folder, "--out", tmp_path / "out")
    assert code == 0
    assert json.loads((tmp_path / "out" / "erin" / TINY_RESULT).read_text(encoding="utf-8"))["score"] == 0
    line = next(l for l in stdout.splitlines() if l.startswith("erin"))
    assert "unreadable" in line and "empty" in line


def test_unknown_assignment_is_a_usage_error(capsys, tiny_folder, tiny_submission, tmp_path):
    path = tiny_submission("frank", "y = factor * x", folder=tmp_path)
    code, _, err = run(capsys, "grade", path, "--solutions", tiny_folder, "--assignment", "nope",
                       "--out", tmp_path / "out")
    assert code == 2
    no_traceback(err)
    assert "nope" in err


def test_solutions_folder_without_specs_is_a_usage_error(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "grade", tmp_path, "--solutions", empty, "--out", tmp_path / "out")
    assert code == 2
    no_traceback(err)


# --- release and check -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def released_by_cli(tiny_warm, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_release") / "assignments"
    assert main(["release", "--solutions", str(tiny_warm), "--out", str(out)]) == 0
    return out


@pytest.mark.kernel
def test_release_writes_the_students_folder(capsys, tiny_warm, tmp_path):
    out = tmp_path / "assignments"
    code, stdout, _ = run(capsys, "release", "--solutions", tiny_warm, "--out", out)
    assert code == 0
    assert (out / "Tiny.ipynb").exists()
    assert (out / "tiny_cases.py").exists()
    assert (out / "checks" / "Tiny.json").exists()
    printed = {line.strip() for line in stdout.splitlines() if line.strip()}
    assert str(out / "Tiny.ipynb") in printed
    assert tiny_reference_body() not in (out / "Tiny.ipynb").read_text(encoding="utf-8")


def student_notebook(released, region: str, folder):
    """What a student hands in: the released notebook with the region filled in."""
    template = nbformat.read(str(released / "Tiny.ipynb"), as_version=4)
    nb = notebook_with_region(template, placeholder_for(tiny_reference_body()), region)
    path = folder / "Tiny.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.mark.kernel
def test_check_passes_with_exit_0(capsys, released_by_cli, tmp_path):
    path = student_notebook(released_by_cli, "y = factor * x", tmp_path / "gina")
    code, stdout, _ = run(capsys, "check", path, "--assignments", released_by_cli, "--out", tmp_path / "out", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["mode"] == "student"
    checks = [c for f in result["functions"] for c in f["checks"]]
    public = json.loads((released_by_cli / "checks" / "Tiny.json").read_text(encoding="utf-8"))["checks"]
    assert sorted(c["name"] for c in checks) == sorted(c["name"] for c in public)
    assert result["max_score"] == sum(c["points"] for c in public)
    assert result["score"] == result["max_score"]


@pytest.mark.kernel
def test_check_fails_with_exit_1_from_the_students_own_folder(capsys, released_by_cli, tmp_path):
    mine = tmp_path / "work"
    shutil.copytree(released_by_cli, mine)
    path = student_notebook(mine, "y = x + factor", mine)  # overwrite the released notebook
    code, stdout, _ = run(capsys, "check", path, "--out", tmp_path / "out")
    assert code == 1
    assert "failed" in stdout
    assert "public checks only" in stdout
    assert (tmp_path / "out" / "work" / "report.html").exists()


@pytest.mark.kernel
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # a fault must not escape
def test_the_check_report_is_the_same_page_when_its_early_template_compile_fails(capsys, released_by_cli, tmp_path,
                                                                                 monkeypatch):
    path = student_notebook(released_by_cli, "y = x + factor", tmp_path / "ivan")
    first = run(capsys, "check", path, "--assignments", released_by_cli, "--out", tmp_path / "warm")

    def broken() -> None:
        raise RuntimeError("templates unavailable")

    monkeypatch.setattr("grader.api._compile_report_templates", broken)
    second = run(capsys, "check", path, "--assignments", released_by_cli, "--out", tmp_path / "cold")
    assert first[0] == second[0] == 1
    assert first[1].replace("warm", "cold") == second[1]
    assert "Traceback" not in second[2] and "templates unavailable" not in second[2]
    warm, cold = (tmp_path / name / "ivan" / "report.html" for name in ("warm", "cold"))
    assert warm.read_bytes() == cold.read_bytes()


def test_unknown_assignment_message_is_plain_text(capsys, tiny_folder, tiny_submission, tmp_path):
    path = tiny_submission("henry", "y = factor * x", folder=tmp_path)
    _, _, err = run(capsys, "grade", path, "--solutions", tiny_folder, "--assignment", "nope",
                    "--out", tmp_path / "out")
    assert not err.startswith('error: "')


# --- nothing to grade ------------------------------------------------------------------------------

def _nothing_in(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "notes.txt").write_text("my notes", encoding="utf-8")
    (tmp_path / "lone.txt").write_text("my notes", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "download.zip", "w") as zf:
        zf.writestr("doejane_101_5001_notes.txt", "my notes")


@pytest.mark.parametrize("spec, message", [
    ("ASSIGNMENT = (\n", "Tiny.checks.py, line 1: the check specification does not load (SyntaxError: "),
    ("import no_such_module\n", "Tiny.checks.py: the check specification does not load (ModuleNotFoundError: "),
])
def test_a_broken_check_specification_is_exit_3_in_one_line(capsys, tiny_folder, tiny_submission, tmp_path,
                                                            spec, message):
    broken = tmp_path / "solutions"
    shutil.copytree(tiny_folder, broken)
    (broken / "Tiny.checks.py").write_text(spec, encoding="utf-8")
    notebook = tiny_submission("ida", "y = factor * x", folder=tmp_path / "class")
    for argv in (("grade", notebook.parent, "--solutions", broken, "--out", tmp_path / "out"),
                 ("list", "--solutions", broken)):
        code, stdout, err = run(capsys, *argv)
        assert code == 3, err
        no_traceback(err)
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.kernel
def test_a_notebook_that_matches_no_student_is_exit_1_and_the_rest_is_graded(capsys, tiny_warm, tiny_submission,
                                                                            tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    made = tiny_submission("jane", "y = factor * x", folder=tmp_path / "made")
    shutil.copyfile(made, download / "doejane_101_5001_Tiny.ipynb")  # Canvas's name for Jane's file
    shutil.copyfile(made, download / "Tiny.ipynb")                    # no student in its name
    code, stdout, err = run(capsys, "grade", download, "--preset", "canvas", "--solutions", tiny_warm,
                            "--out", tmp_path / "out")
    assert code == 1, err
    jane = json.loads(next((tmp_path / "out" / "101").glob("*.json")).read_text(encoding="utf-8"))  # Canvas user id
    assert jane["status"] == "graded" and jane["score"] == jane["max_score"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["unmatched"] == 1


@pytest.mark.parametrize("source, reason", [
    ("empty", "holds no files"),
    ("papers", "holds 1 file but no student's notebook (notes.txt: not a notebook (.txt))"),
    ("lone.txt", "holds 1 file but no student's notebook"),
    ("download.zip", "holds 1 file but no student's notebook"),
])
def test_nothing_to_grade_is_a_usage_error_that_writes_nothing(capsys, tiny_folder, tmp_path, source, reason):
    _nothing_in(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "grade", tmp_path / source, "--solutions", tiny_folder, "--out", out)
    assert code == 2
    no_traceback(err)
    assert err.startswith("error: nothing to grade:") and reason in err
    assert stdout == ""
    assert not out.exists()  # no gradebook, no summary, no unpacked zip


def test_check_on_a_missing_notebook_is_a_usage_error_that_writes_nothing(capsys, released_by_cli, tmp_path):
    out = tmp_path / "out"
    for missing in (tmp_path / "missing.ipynb", tmp_path):
        code, stdout, err = run(capsys, "check", missing, "--assignments", released_by_cli, "--out", out)
        assert code == 2
        no_traceback(err)
        assert err.startswith("error: nothing to grade:") and str(missing) in err
        assert not out.exists()


# --- a flat folder of notebooks ------------------------------------------------------------------

@pytest.mark.kernel
def test_a_flat_folder_grades_one_student_per_notebook(capsys, tiny_warm, tiny_submission, tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    grades = {"ada": ("y = factor * x", 5), "ben": ("y = x + factor", 0), "dana": ("y = factor * x", 5)}
    for name, (region, _) in grades.items():
        shutil.copyfile(tiny_submission(f"flat_{name}", region), folder / f"{name}.ipynb")
    out = tmp_path / "out"
    code, _, err = run(capsys, "grade", folder, "--solutions", tiny_warm, "--out", out)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["students"], summary["notebooks"], summary["superseded"]) == (3, 3, 0)
    for name, (_, score) in grades.items():
        result = json.loads((out / name / f"{name}.json").read_text(encoding="utf-8"))
        assert (result["student"], result["score"]) == (name, score)
    assert summary["average"] == pytest.approx(10 / 3, abs=0.01)  # rounded to two digits


def test_what_is_set_aside_is_counted_listed_and_called_out(capsys, tiny_folder, tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name in ("ada", "ben", "dana"):
        (folder / f"{name}_Tiny.ipynb").write_bytes(b"")  # unreadable: no kernel needed
    out = tmp_path / "out"
    code, _, err = run(capsys, "grade", folder, "--preset", "folders", "--solutions", tiny_folder, "--out", out)
    assert code == 0  # the one graded notebook is unreadable: still a result (0 points with its reason)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "2 of 3 notebooks were set aside" in warnings[0] and "--preset flat" in warnings[0]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["superseded"] == 2 and summary["notes"] == [warnings[0][len("warning: "):]]
    assert sorted(Path(s["path"]).name for s in summary["set_aside"]) == ["ada_Tiny.ipynb", "ben_Tiny.ipynb"]
    assert all(s["student"] == "nbs" and "dana_Tiny.ipynb is graded" in s["reason"] for s in summary["set_aside"])
