"""Gradescope (grader/gradescope.py): results.json in Gradescope's format, always written; the autograder zip.

Every results file a test produces goes through ``assert_gradescope_results``, a validator
written from the fields Gradescope documents for results.json.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.cli import main
from grader.lms.gradescope import gradescope_results, package, run

RESULTS = Path(__file__).parent / "fixtures" / "results"

# Gradescope's documented results.json fields (top level and per test).
TOP_LEVEL_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                    "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
               "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_gradescope_results(data: dict) -> None:
    """Gradescope's format, plus what we promise: every test scored within its maximum, score = their sum."""
    assert isinstance(data, dict)
    assert set(data) <= TOP_LEVEL_FIELDS, f"undocumented fields: {set(data) - TOP_LEVEL_FIELDS}"
    assert is_number(data["score"])
    assert is_number(data.get("execution_time", 0)) and data.get("execution_time", 0) >= 0
    assert isinstance(data.get("output", ""), str)
    for key in ("visibility", "stdout_visibility"):
        assert data.get(key, "visible") in VISIBILITIES
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert set(test) <= TEST_FIELDS, f"undocumented test fields: {set(test) - TEST_FIELDS}"
        assert isinstance(test["name"], str) and test["name"]
        assert is_number(test["score"]) and is_number(test["max_score"])
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def read_results(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert_gradescope_results(data)
    return data


def fixture(scenario: str) -> dict:
    return json.loads((RESULTS / f"{scenario}.json").read_text(encoding="utf-8"))


# --- results.json from grading results (no kernel) --------------------------------------------

def test_one_test_per_check_with_visibility_by_hidden():
    result = fixture("partly_wrong")
    data = gradescope_results([result], [], [], 3.4)
    assert_gradescope_results(data)
    checks = [(f, c) for f in result["functions"] for c in f["checks"]]
    assert len(data["tests"]) == len(checks)
    for test, (function, check) in zip(data["tests"], checks):
        assert test["name"] == f"Optimization methods / {function['name']} / {check['name']}"
        assert test["score"] == check["points"] and test["max_score"] == check["max_points"]
        assert test["status"] == ("passed" if check["status"] == "passed" else "failed")
        assert test["visibility"] == ("after_published" if check["hidden"] else "visible")
    assert data["score"] == result["score"]
    assert data["execution_time"] == 3
    assert "Optimization methods: 24.5 / 40" in data["output"]


def test_test_output_says_what_failed_with_hint_and_plain_traceback():
    data = gradescope_results([fixture("partly_wrong")], [], [], 0)
    by_check = {t["name"].rsplit(" / ", 1)[1]: t for t in data["tests"]}
    shuffled = by_check["mini_batches_shuffled_together"]["output"]
    assert "mini_batches[0][1] differs from the expected labels in 3 of 8 entries" in shuffled
    assert "Hint: X was shuffled but Y was not" in shuffled
    momentum = by_check["momentum_two_layers"]["output"]
    assert "NameError: name 'betta' is not defined" in momentum
    assert "\x1b[" not in momentum, "terminal colour codes are stripped"


def test_a_detail_already_in_the_message_is_not_repeated():
    result = fixture("full_marks")
    check = result["functions"][0]["checks"][0]
    check.update(status="failed", points=0.0, message="result: is nan, expected 5",
                 details=[{"path": "result", "message": "is nan, expected 5"},
                          {"path": "result['b1']", "message": "shape (1,), expected (2, 1)"}])
    output = gradescope_results([result], [], [], 0)["tests"][0]["output"]
    assert output.count("is nan, expected 5") == 1
    assert "  result['b1']: shape (1,), expected (2, 1)" in output.splitlines()


def test_an_ungraded_or_missing_notebook_stands_in_for_its_assignment():
    data = gradescope_results([fixture("unreadable")], [("Initialization", 30)], [], 0)
    assert_gradescope_results(data)
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == [
        ("Gradient Checking / notebook", 0, 30, "failed"), ("Initialization / notebook", 0, 30, "failed")]
    assert data["tests"][0]["output"].startswith("Gradient_Checking.ipynb: Not a notebook")
    assert "No notebook of Initialization was found" in data["tests"][1]["output"]


def test_a_kernel_failure_is_not_blamed_on_the_notebook():
    failed = {**fixture("unreadable"), "status": "kernel_error", "message": "the kernel died while starting"}
    [test] = gradescope_results([failed], [], [], 0)["tests"]
    assert test["score"] == 0 and test["max_score"] == 30
    assert test["output"].startswith("Gradient_Checking.ipynb: the kernel died while starting")
    assert "ask your instructor to run the autograder again" in test["output"]
    readable = gradescope_results([fixture("unreadable")], [], [], 0)["tests"][0]["output"]
    assert "run the autograder again" not in readable


# --- the entry, on a Gradescope-like folder ---------------------------------------------------

@pytest.fixture
def autograder(tmp_path, tiny_folder) -> Path:
    """A /autograder-like tree: source/solutions (the tiny assignment), an empty submission/."""
    root = tmp_path / "autograder"
    shutil.copytree(tiny_folder, root / "source" / "solutions")
    (root / "submission").mkdir(parents=True)
    return root


def run_entry(root: Path) -> dict:
    run(root / "submission", root / "results" / "results.json", root / "source" / "solutions")
    return read_results(root / "results" / "results.json")


def test_empty_submission_scores_zero_and_says_so(autograder):
    data = run_entry(autograder)
    assert data["score"] == 0
    assert [(t["name"], t["max_score"]) for t in data["tests"]] == [("Tiny scaling / notebook", 5)]
    assert "No notebook of Tiny scaling was found" in data["tests"][0]["output"]
    assert "No notebook could be graded" in data["output"]


def test_no_submission_folder_at_all(autograder):
    shutil.rmtree(autograder / "submission")
    data = run_entry(autograder)
    assert data["score"] == 0 and len(data["tests"]) == 1


def test_unreadable_notebook(autograder):
    (autograder / "submission" / "Tiny.ipynb").write_text('{"cells": [', encoding="utf-8")
    data = run_entry(autograder)
    assert data["score"] == 0
    [test] = data["tests"]
    assert test["max_score"] == 5 and test["status"] == "failed"
    assert test["output"].startswith("Tiny.ipynb: ") and "JSON" in test["output"]


def test_a_crash_in_grading_still_writes_a_valid_file(autograder, tiny_submission, monkeypatch, capsys):
    shutil.copy(tiny_submission("crash", "y = factor * x"), autograder / "submission" / "Tiny.ipynb")

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr("grader.grading.grade.grade_notebook", explode)
    data = run_entry(autograder)
    assert data["score"] == 0 and data["tests"] == []
    assert "RuntimeError: disk on fire" in data["output"] and "second line" not in data["output"]
    assert capsys.readouterr().err == "error: grading crashed: RuntimeError: disk on fire\n"


def test_broken_solutions_folder_still_writes_a_valid_file(autograder):
    for spec in (autograder / "source" / "solutions").glob("*.checks.py"):
        spec.unlink()
    data = run_entry(autograder)
    assert data["score"] == 0 and data["tests"] == []
    assert "could not grade this submission" in data["output"]


def test_command_reads_the_root_from_the_environment(autograder, monkeypatch, capsys):
    monkeypatch.setenv("AUTOGRADER_ROOT", str(autograder))
    assert main(["gradescope"]) == 0
    assert read_results(autograder / "results" / "results.json")["score"] == 0
    assert "results.json" in capsys.readouterr().out


@pytest.mark.kernel
def test_correct_notebook_gets_every_point(autograder, tiny_warm, tiny_submission):
    shutil.copytree(tiny_warm / ".grader-cache", autograder / "source" / "solutions" / ".grader-cache",
                    dirs_exist_ok=True)
    shutil.copy(tiny_submission("correct", "y = factor * x"), autograder / "submission" / "Tiny.ipynb")
    older = autograder / "submission" / "zz_old"
    older.mkdir()
    shutil.copy(tiny_submission("wrong", "y = x + factor"), older / "Tiny.ipynb")
    data = run_entry(autograder)
    assert data["score"] == 5
    assert [(t["name"], t["status"], t["visibility"]) for t in data["tests"]] == [
        ("Tiny scaling / scale / scale_public", "passed", "visible"),
        ("Tiny scaling / scale / scale_negative", "passed", "after_published")]
    assert "Tiny.ipynb was not graded: Tiny.ipynb is already a notebook of Tiny scaling" in data["output"]


@pytest.mark.kernel
def test_syntax_error_costs_the_checks(autograder, tiny_warm, tiny_submission):
    shutil.copy(tiny_submission("syntax", "y = factor * (x"), autograder / "submission" / "Tiny.ipynb")
    data = run_entry(autograder)
    assert data["score"] == 0
    assert len(data["tests"]) == 2 and all(t["status"] == "failed" for t in data["tests"])
    assert all("SyntaxError" in t["output"] or "syntax" in t["output"].lower() for t in data["tests"])


# --- the autograder zip -----------------------------------------------------------------------

def extract(zip_path: Path, target: Path) -> None:
    """Unzip as Gradescope does, keeping the permission bits zipfile.extractall drops."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, target))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(stat.S_IMODE(mode))


def test_package_holds_scripts_solutions_and_the_grader(tiny_folder, tmp_path):
    cold = shutil.copytree(tiny_folder, tmp_path / "cold", ignore=shutil.ignore_patterns(".grader-cache"))
    out = tmp_path / "autograder.zip"
    names = package(cold, out, warm=False)
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == names
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        pyproject = archive.read("nbautograde/pyproject.toml").decode()
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & 0o111 == 0o111, f"{script} must be executable"
    assert {"solutions/Tiny.ipynb", "solutions/Tiny.checks.py", "solutions/tiny_cases.py"} <= set(names)
    assert not any(".grader-cache" in n for n in names), "nothing cached yet, and not warmed"
    assert {"nbautograde/grader/lms/gradescope.py", "nbautograde/grader/cli.py"} <= set(names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert '"nbclient>=0.10"' in pyproject and "pytest" not in pyproject
    extract(out, tmp_path / "x")
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / "x" / script)]).returncode == 0


def test_package_is_reproducible_and_can_hold_one_assignment(tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    solutions = Path(__file__).parent.parent / "solutions"
    package(solutions, first, assignment="initialization", warm=False)
    package(solutions, second, assignment="initialization", warm=False)
    assert first.read_bytes() == second.read_bytes()
    solutions = {n for n in zipfile.ZipFile(first).namelist() if n.startswith("solutions/") and "cache" not in n}
    assert solutions == {"solutions/Initialization.ipynb", "solutions/Initialization.checks.py",
                         "solutions/nn_helpers.py", "solutions/nn_test_cases.py"}


def test_package_errors_are_one_line(capsys, tmp_path):
    assert main(["gradescope", "package", "--solutions", str(tmp_path), "--out", str(tmp_path / "a.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no assignments in") and len(err.strip().splitlines()) == 1
    assert main(["gradescope", "package", "--assignment", "nope", "--no-warm", "--out", str(tmp_path / "a.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no assignment 'nope'") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.zip").exists()


def unpack_like_gradescope(zip_path: Path, root: Path) -> None:
    extract(zip_path, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir(parents=True)


def test_run_autograder_writes_a_results_file_even_when_python_is_missing(tiny_folder, tmp_path):
    root = tmp_path / "autograder"
    package(tiny_folder, tmp_path / "autograder.zip", warm=False)
    unpack_like_gradescope(tmp_path / "autograder.zip", root)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": str(tmp_path / "no-python")}
    subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, check=False)
    data = read_results(root / "results" / "results.json")
    assert data["score"] == 0 and "could not start (exit status 127)" in data["output"]


@pytest.mark.kernel
def test_run_autograder_grades_a_submission_with_the_zips_own_grader(tiny_warm, tiny_submission, tmp_path):
    out = tmp_path / "autograder.zip"
    code = main(["gradescope", "package", "--solutions", str(tiny_warm), "--out", str(out)])
    assert code == 0
    root = tmp_path / "autograder"
    unpack_like_gradescope(out, root)
    assert any((root / "source" / "solutions" / ".grader-cache").glob("tiny-*.npz")), "a warm reference cache"
    shutil.copy(tiny_submission("gs_correct", "y = factor * x"), root / "submission" / "Tiny.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    probe = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], capture_output=True,
                           text=True, env={**env, "PYTHONPATH": str(root / "source" / "nbautograde")}, cwd=root)
    assert probe.stdout.strip() == str(root / "source" / "nbautograde" / "grader" / "__init__.py")
    done = subprocess.run([str(root / "run_autograder")], env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = read_results(root / "results" / "results.json")
    assert data["score"] == 5 and [t["status"] for t in data["tests"]] == ["passed", "passed"]
