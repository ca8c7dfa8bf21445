"""The library under the CLI: typed keyword functions, the CLI's defaults read from them,
and errors a user can fix turned into one line in one place."""
from __future__ import annotations

import argparse
import inspect

import pytest

import grader
from grader import api
from grader.cli import main, parser
from grader.core.errors import EXIT_USAGE, UsageError
from grader.core.results import NotebookStatus


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# Options grader.toml can set: the CLI leaves them unset (None) so the file can fill them in,
# and falls back on the library's default, which their help names.
FROM_CONFIG = {"grade": {"solutions", "out", "preset", "gradebook"}, "check": set(), "release": set()}


@pytest.mark.parametrize("command, function", [
    ("grade", api.grade_class), ("check", api.check_notebook), ("release", api.release),
])
def test_cli_defaults_are_the_library_defaults(command, function):
    options = _subparsers(parser())[command]
    signature = inspect.signature(function).parameters
    compared = 0
    for action in options._actions:
        name = action.dest
        if name in signature and action.option_strings and signature[name].default is not inspect.Parameter.empty:
            if isinstance(action, argparse._StoreTrueAction):
                continue
            if name in FROM_CONFIG[command]:
                assert action.default is None, f"grader {command} {action.option_strings[0]}"
                default = signature[name].default
                assert default is None or str(default) in action.help, f"grader {command} {action.option_strings[0]}"
            else:
                assert action.default == signature[name].default, f"grader {command} {action.option_strings[0]}"
            compared += 1
    assert compared >= 2


def test_export_defaults_are_the_library_defaults():
    signature = inspect.signature(api.export).parameters
    moodle = _subparsers(_subparsers(parser())["export"])["moodle"]
    defaults = {a.dest: a.default for a in moodle._actions}
    for name in ("missing", "identifier", "feedback"):
        assert defaults[name] == signature[name].default
    assert defaults["gradebook"] is None  # from grader.toml's [course] out, else the library's folder
    assert str(signature["gradebook"].default).split("/")[0] in next(
        a.help for a in moodle._actions if a.dest == "gradebook")


def test_the_library_functions_are_reachable_from_the_package():
    assert grader.grade_class is api.grade_class
    assert grader.check_notebook is api.check_notebook
    assert grader.export is api.export and grader.release is api.release


def test_a_user_error_is_one_line_and_its_exit_code(tmp_path, capsys):
    code = main(["grade", str(tmp_path), "--solutions", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(solutions="solutions", out="assignments"):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(api, "release", broken)
    with pytest.raises(RuntimeError, match="a bug in the grader"):
        main(["release", "--solutions", "x", "--out", "y"])


def test_library_usage_errors_are_raised_not_printed(tmp_path):
    with pytest.raises(UsageError, match="--workers must be at least 1"):
        api.grade_class([tmp_path], workers=0)
    with pytest.raises(UsageError, match="unknown export format"):
        api.export("xls")


@pytest.mark.kernel
def test_grade_class_and_check_notebook_from_python(tiny_warm, tiny_submission, tmp_path):
    folder = tmp_path / "class"
    tiny_submission("ada", "y = factor * x", folder=folder)
    tiny_submission("ben", "y = x + factor", folder=folder)
    done = api.grade_class([folder], solutions=tiny_warm, out=tmp_path / "out", workers=1)
    assert done.summary.graded == 2 and done.gradebook.is_file()
    assert {w.student.key for w in done.intake.students} == {"ada", "ben"}

    checked = api.check_notebook(folder / "ada" / "Tiny.ipynb", assignments=tiny_warm, out=tmp_path / "mine")
    assert checked.result.status is NotebookStatus.GRADED and checked.report.is_file()
