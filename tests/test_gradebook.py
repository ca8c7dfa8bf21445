"""The SQLite gradebook: what is stored, what is reused, what survives a killed process (no kernel)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.classrun.gradebook import Gradebook, GradebookError, Item
from grader.core.records import Student
from grader.core.results import (
    AssignmentInfo,
    CheckResult,
    CheckStatus,
    FunctionResult,
    FunctionStatus,
    NotebookResult,
    NotebookStatus,
)


def result(student: str, slug: str | None, checks: dict[str, tuple[str, float, float]], *,
           status: str = "graded", version: str = "v1", path: str = "x.ipynb", message: str = "") -> NotebookResult:
    """A result built through the model's constructors; ``checks``: name -> (status, points, max)."""
    function = FunctionResult(name="f", status=FunctionStatus.OK, checks=tuple(
        CheckResult(name=n, status=CheckStatus(s), points=p, max_points=m, message="" if s == "passed" else f"{n} {s}")
        for n, (s, p, m) in checks.items()))
    return NotebookResult(
        student=student, source={"path": path, "sha256": "?"}, status=NotebookStatus(status), message=message,
        assignment=AssignmentInfo(slug, slug.title(), version, 10) if slug else None,
        max_score=function.max_score, functions=(function,),
    )


def graded(path: str, sha: str, res: dict, *, requested: str | None = None, version: str = "v1") -> Item:
    return Item(path=path, name=Path(path).name, sha256=sha, requested=requested, result=res, version=version)


@pytest.fixture
def book(tmp_path):
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        yield gb


def test_class_records_hold_the_latest_result_per_assignment(book):
    ada = Student("ada", "Ada L.", section="B")
    run1 = book.start_run({"paths": ["class"]})
    book.record_student(run1, ada, [graded("a/Init.ipynb", "h1", result("ada", "init", {"c1": ("failed", 0, 5)})),
                                    graded("a/Opt.ipynb", "h2", result("ada", "opt", {"c2": ("passed", 5, 5)}))])
    book.finish_run(run1, "finished", {})
    run2 = book.start_run({})
    book.record_student(run2, ada, [graded("a/Init.ipynb", "h3", result("ada", "init", {"c1": ("passed", 5, 5)}))])
    (record,) = book.class_records()
    assert record.student == ada
    assert {slug: r["score"] for slug, r in record.results.items()} == {"init": 5, "opt": 5}
    assert record.score == 10
    assert [h["score"] for h in book.history("ada", "init")] == [0, 5]  # the older grading is kept


def test_roster_details_are_kept_when_a_later_run_knows_less(book):
    run = book.start_run({})
    book.record_student(run, Student("101", "Jane Doe", lms_id="101", email="j@x"), [])
    book.record_student(run, Student("101", "doejane", lms_id="101"), [])
    (student,) = book.students()
    assert (student.name, student.email) == ("doejane", "j@x")


def test_unchanged_content_and_version_is_reused(book):
    run = book.start_run({})
    book.record_student(run, Student("ada"), [graded("p1", "h", result("ada", "init", {"c": ("passed", 1, 1)}))])
    versions = {"init": "v1"}
    reused = book.reusable_result("ada", "h", None, True, versions.get)
    assert reused is not None and book.result(reused)["score"] == 1
    assert book.reusable_result("ada", "other", None, True, versions.get) is None  # new content
    assert book.reusable_result("bob", "h", None, True, versions.get) is None      # someone else's
    assert book.reusable_result("ada", "h", "init", True, versions.get) is None    # asked as another assignment
    assert book.reusable_result("ada", "h", None, False, versions.get) is None     # graded with other options
    versions["init"] = "v2"                                                          # the check spec changed
    assert book.reusable_result("ada", "h", None, True, versions.get) is None


@pytest.mark.parametrize("status", ["crashed", "kernel_error"])
def test_results_the_grader_failed_on_are_regraded_on_the_next_run(book, status):
    run = book.start_run({})
    book.record_student(run, Student("ada"), [graded("p", "h", result("ada", "init", {}, status=status))])
    assert book.reusable_result("ada", "h", None, True, lambda slug: "v1") is None


def test_problems_of_a_run(book):
    run = book.start_run({})
    book.record_student(run, Student("ada"), [
        graded("ada/Init.ipynb", "h1", result("ada", "init", {}, status="unreadable", message="not valid JSON")),
        graded("ada/Opt.ipynb", "h2", result("ada", "opt", {"c": ("timeout", 0, 2), "d": ("passed", 1, 1)})),
        graded("ada/Gc.ipynb", "h3", result("ada", "gc", {"c": ("passed", 1, 1)})),
    ])
    book.record_unmatched(run, [("dl/README.ipynb", "does not match --pattern")])
    assert book.problems() == [
        {"path": "ada/Init.ipynb", "student": "ada", "status": "unreadable", "message": "not valid JSON"},
        {"path": "ada/Opt.ipynb", "student": "ada", "status": "timeout", "message": "c timeout"},
        {"path": "dl/README.ipynb", "student": "", "status": "unmatched", "message": "does not match --pattern"},
    ]
    assert book.problems(run + 1) == []


def test_runs_record_options_status_and_counts(book):
    first = book.start_run({"workers": 2})
    second = book.start_run({"workers": 1})  # the first never ended: its process died
    book.finish_run(second, "finished", {"graded": 3})
    runs = {r["id"]: r for r in book.runs()}
    assert runs[first]["status"] == "killed"
    assert runs[second]["status"] == "finished"
    assert runs[second]["options"] == {"workers": 1}
    assert runs[second]["counts"] == {"graded": 3}
    assert runs[second]["grader_version"]


def test_a_process_killed_mid_transaction_loses_only_the_open_student(tmp_path):
    path = tmp_path / "gb.sqlite"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_gradebook import graded, result
        from grader.classrun.gradebook import Gradebook
        from grader.core.records import Student
        book = Gradebook({str(path)!r})
        run = book.start_run({{}})
        book.record_student(run, Student("ada"), [graded("a", "h1", result("ada", "init", {{"c": ("passed", 1, 1)}}))])
        book.db.execute("BEGIN IMMEDIATE")
        book.db.execute("INSERT INTO students (key) VALUES ('half-written')")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    with Gradebook(path) as book:
        assert [s.key for s in book.students()] == ["ada"]
        assert book.class_records()[0].results["init"]["score"] == 1
        later = book.start_run({})
        assert {r["id"]: r["status"] for r in book.runs()} == {1: "killed", later: "running"}


def test_a_file_that_is_not_a_gradebook_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("just text, not a database " * 100, encoding="utf-8")
    with pytest.raises(GradebookError, match="not a usable gradebook"):
        Gradebook(path)


def test_some_other_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE things (x)")
    db.commit()
    db.close()
    with pytest.raises(GradebookError, match="not a gradebook"):
        Gradebook(path)


def test_opening_for_reading_does_not_create_a_file(tmp_path):
    with pytest.raises(GradebookError, match="no gradebook at"):
        Gradebook(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
