"""Each submission is read once per class run, and what is graded is what was hashed.

Planning reads a file's bytes and hashes them; those bytes travel to the worker, which
grades them without opening the file again. A file changed after planning is graded as
planned, under the planned hash; only when the bytes were not kept (over the run's budget)
does the worker read the file, and then its result, and the gradebook, name what it read.
"""
from __future__ import annotations

import builtins
import hashlib
import io
import json
from pathlib import Path

import pytest

from grader.classrun import batch
from grader.classrun.batch import Settings, _Budget, _plan, _task, _Warmer
from grader.classrun.gradebook import Gradebook
from grader.classrun.intake import collect
from grader.classrun.pool import grade_task
from grader.cli import main
from grader.core.files import sha256_of
from grader.grading.catalog import Catalog
from grader.notebook.reader import ReadError, read_submission_bytes, snapshot

# --- one read gives the bytes, the hash and the reason, as the separate readers did ----------


def _reason(path: Path, **kw) -> str:
    try:
        read_submission_bytes(path, **kw)
    except ReadError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("content", [b'{"cells": []}', b"", b"x" * 3000])
def test_a_snapshot_holds_the_hash_and_reason_the_separate_readers_give(tmp_path, content):
    path = tmp_path / "n.ipynb"
    path.write_bytes(content)
    read = snapshot(path, max_bytes=2048)
    assert read.sha256 == sha256_of(path) == hashlib.sha256(content).hexdigest()
    assert read.problem == _reason(path, max_bytes=2048)
    assert read.data == (content if not read.problem else None)


def test_a_missing_file_or_a_folder_has_no_hash_and_says_why(tmp_path):
    (tmp_path / "folder.ipynb").mkdir()
    for path in (tmp_path / "gone.ipynb", tmp_path / "folder.ipynb"):
        read = snapshot(path)
        assert read.sha256 == sha256_of(path) == ""
        assert read.problem == _reason(path) and read.problem.startswith("cannot open the file")
        assert isinstance(read.notebook(), ReadError)


# --- a class run ------------------------------------------------------------------------------

def _class(tmp_path: Path, tiny_submission, region: str) -> tuple[Path, Path]:
    folder = tmp_path / "class"
    return folder, tiny_submission("alice", region, folder=folder)


def _settings(tmp_path: Path) -> Settings:
    return Settings(out=tmp_path / "out", gradebook=tmp_path / "out" / "gradebook.sqlite")


@pytest.mark.kernel
def test_planning_and_grading_open_a_submission_once(tmp_path, tiny_warm, tiny_submission, monkeypatch):
    folder, path = _class(tmp_path, tiny_submission, "y = factor * x")
    catalog = Catalog(tiny_warm)
    intake = collect([folder], extract_to=tmp_path / "x", catalog=catalog)
    opens: list[str] = []
    real_open = io.open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve() == path.resolve():
            opens.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    settings = _settings(tmp_path)
    with Gradebook(settings.gradebook) as book:
        [plan] = [_plan(work, book, catalog, settings, _Budget(batch.KEPT_BYTES)) for work in intake.students]
    _Warmer(catalog).for_plan(plan)  # what the parent does just before sending the student
    task = _task(plan)
    config = {"fallback": True, "hidden": [], "limits": {}, "contain": True}
    [result] = grade_task(task, catalog, config)  # what the worker does with it
    assert result.score == result.max_score, result.to_dict()
    assert len(opens) == 1, opens
    assert result.source["sha256"] == plan.items[0].sha256 == sha256_of(path)
    assert plan.snapshots == {}  # the bytes were let go once sent


def _change_after_planning(monkeypatch, path: Path, text: str) -> None:
    """The file is rewritten right after the run has planned (hashed) it."""
    planned = batch._plan

    def plan_then_change(*args, **kwargs):
        made = planned(*args, **kwargs)
        path.write_text(text, encoding="utf-8")
        return made
    monkeypatch.setattr(batch, "_plan", plan_then_change)


def _run(folder: Path, solutions: Path, out: Path, capsys) -> dict:
    assert main(["grade", str(folder), "--solutions", str(solutions), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.kernel
def test_a_file_changed_after_planning_is_graded_as_planned(tmp_path, tiny_warm, tiny_submission,
                                                           monkeypatch, capsys):
    folder, path = _class(tmp_path, tiny_submission, "y = factor * x")
    planned = sha256_of(path)
    wrong = tiny_submission("wrong", "y = x + factor", folder=tmp_path / "other").read_text(encoding="utf-8")
    _change_after_planning(monkeypatch, path, wrong)
    out = tmp_path / "out"
    assert _run(folder, tiny_warm, out, capsys)["graded"] == 1
    result = json.loads(next((out / "alice").glob("*.json")).read_text(encoding="utf-8"))
    assert result["score"] == result["max_score"]  # the correct notebook that was planned
    assert result["source"]["sha256"] == planned != sha256_of(path)
    monkeypatch.undo()
    assert _run(folder, tiny_warm, out, capsys)["graded"] == 1  # the new content is graded next time


@pytest.mark.kernel
def test_a_worker_that_reads_the_file_itself_claims_what_it_read(tmp_path, tiny_warm, tiny_submission,
                                                                monkeypatch, capsys):
    folder, path = _class(tmp_path, tiny_submission, "y = factor * x")
    planned = sha256_of(path)
    wrong = tiny_submission("wrong", "y = x + factor", folder=tmp_path / "other").read_text(encoding="utf-8")
    _change_after_planning(monkeypatch, path, wrong)
    monkeypatch.setattr(batch, "KEPT_BYTES", 0)  # nothing kept: the worker opens the file
    out = tmp_path / "out"
    assert _run(folder, tiny_warm, out, capsys)["graded"] == 1
    result = json.loads(next((out / "alice").glob("*.json")).read_text(encoding="utf-8"))
    assert result["score"] < result["max_score"]  # the wrong notebook now on disk
    assert result["source"]["sha256"] == sha256_of(path) != planned
    monkeypatch.undo()
    summary = _run(folder, tiny_warm, out, capsys)  # filed under what was graded: nothing to redo
    assert (summary["graded"], summary["unchanged"]) == (0, 1)
