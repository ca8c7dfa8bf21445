"""Class runs: LMS downloads graded by a worker pool into the gradebook, resumed after kill -9 or Ctrl-C.

The kernel tests grade the small synthetic class of tests/lms_class.py (four students,
ten notebooks) through the real command in a subprocess, as an instructor or a CI job would.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import lms_class
import pytest

from grader.classrun import scratch
from grader.classrun.batch import Summary, run_lock
from grader.classrun.gradebook import Gradebook
from grader.classrun.pool import Pool, descendants
from grader.classrun.progress import Progress, format_summary
from grader.cli import main
from grader.core.files import safe_file_name
from grader.grading.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS_IN_SMALL_CLASS = 10  # latest attempts, the truncated one included


def grade(*args, **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader", "grade", "--solutions", str(SOLUTIONS), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900, **popen)


def start(*args) -> subprocess.Popen:
    command = [sys.executable, "-m", "grader", "grade", "--solutions", str(SOLUTIONS), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)


def snapshot(gradebook: Path) -> dict:
    """Per student and assignment: score, status and every check's status and points."""
    with Gradebook(gradebook, create=False) as book:
        return {r.student.key: {slug: (res["score"], res["status"],
                                       sorted((c["name"], c["status"], c["points"])
                                              for f in res["functions"] for c in f["checks"]))
                                for slug, res in r.results.items()}
                for r in book.class_records()}


def committed_students(gradebook: Path) -> int:
    try:
        with sqlite3.connect(gradebook, timeout=5) as db:
            return db.execute("SELECT COUNT(DISTINCT student_key) FROM results").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def wait_until(condition, what: str, proc: subprocess.Popen | None = None, limit: float = 300):
    """Poll; fail with ``what`` if the run ends first or never gets there."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"never saw {what}")


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has stopped running
    except OSError:
        return True


@pytest.fixture(scope="module")
def catalog():
    return Catalog(SOLUTIONS)


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canvas_download")
    return lms_class.canvas_zips(folder), lms_class.roster_csv(folder / "roster.csv")


@pytest.fixture(scope="module")
def canvas_run(download, tmp_path_factory):
    """The small class graded once, uninterrupted, with two workers."""
    zips, roster = download
    out = tmp_path_factory.mktemp("canvas_run") / "reports"
    done = grade(*zips, "--roster", roster, "--out", out, "--workers", 2, "--json")
    return done, out


# --- an LMS download, graded --------------------------------------------------------------------

@pytest.mark.kernel
def test_canvas_download_grades_to_the_expected_totals(canvas_run, catalog):
    done, out = canvas_run
    assert done.returncode == 1, done.stderr  # one notebook named after no one (the truncated one is a result)
    assert "Traceback" not in done.stderr
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        totals = {r.student.key: r.score for r in book.class_records()}
        names = {r.student.key: r.student.name for r in book.class_records()}
    assert totals == pytest.approx(lms_class.expected_totals(lms_class.SMALL_CLASS, catalog))
    assert names == {m.lms_id: m.name for m in lms_class.SMALL_CLASS}  # from the roster
    for member in lms_class.SMALL_CLASS:
        expected = lms_class.expected_scores(member, catalog)
        with Gradebook(out / "gradebook.sqlite", create=False) as book:
            record = next(r for r in book.class_records() if r.student.key == member.lms_id)
        assert {slug: r["score"] for slug, r in record.results.items()} == pytest.approx(expected)


@pytest.mark.kernel
def test_json_output_has_one_result_per_notebook(canvas_run):
    done, _ = canvas_run
    results = json.loads(done.stdout)
    assert len(results) == NOTEBOOKS_IN_SMALL_CLASS
    assert {r["student"] for r in results} == {m.lms_id for m in lms_class.SMALL_CLASS}
    unreadable = [r for r in results if r["status"] != "graded"]
    assert [(r["student"], r["status"], r["assignment"]["slug"]) for r in unreadable] == \
        [("104", "unreadable", "initialization")]


@pytest.mark.kernel
def test_the_latest_attempt_is_graded_and_the_older_one_listed(canvas_run):
    _, out = canvas_run
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        items = [i for i in book.run_items(book.latest_run_id()) if i["student_key"] == "103"]
        record = next(r for r in book.class_records() if r.student.key == "103")
    assert record.results["optimization"]["source"]["path"].endswith("_Optimization_methods-1.ipynb")
    assert record.results["optimization"]["score"] == 40
    superseded = [Path(i["path"]).name for i in items if i["action"] == "superseded"]
    assert superseded == ["weili_103_5203_Optimization_methods.ipynb"]


@pytest.mark.kernel
def test_unmatched_files_are_listed_in_the_gradebook_and_overview(canvas_run):
    _, out = canvas_run
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        problems = book.problems()
    unmatched = {Path(p["path"]).name: p["message"] for p in problems if p["status"] == "unmatched"}
    assert set(unmatched) == {"README.ipynb", "weili_103_5999_notes.txt"}
    assert [p["status"] for p in problems if p["student"] == "104"] == ["unreadable"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["unmatched"], summary["failed_to_read"], summary["superseded"]) == (2, 1, 1)
    page = Path(summary["overview"]).read_text(encoding="utf-8")  # a failed overview fails this test
    assert "README.ipynb" in page


@pytest.mark.kernel
def test_reports_are_written_per_student(canvas_run):
    _, out = canvas_run
    report = (out / "101" / "report.html").read_text(encoding="utf-8")
    assert "Jane Doe" in report
    results = sorted(p.name for p in (out / "101").glob("*.json"))
    assert len(results) == 3
    assert json.loads((out / "101" / results[0]).read_text(encoding="utf-8"))["student"] == "101"


def test_each_graded_notebook_gets_an_annotated_page_linked_from_the_report(canvas_run):
    _, out = canvas_run
    report = (out / "101" / "report.html").read_text(encoding="utf-8")
    for result in sorted((out / "101").glob("*.json")):
        page = out / "101" / f"{result.stem}.annotated.html"
        assert page.is_file(), page
        assert f'href="{page.name}"' in report
        assert "grader-note" in page.read_text(encoding="utf-8")


@pytest.mark.kernel
def test_a_second_run_grades_nothing_and_an_identical_resubmission_is_not_regraded(canvas_run, download,
                                                                                   tmp_path):
    _, first_out = canvas_run
    zips, roster = download
    out = tmp_path / "reports"
    shutil.copytree(first_out, out)
    again = grade(*zips, "--roster", roster, "--out", out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["graded"], summary["unchanged"], summary["workers"]) == (0, NOTEBOOKS_IN_SMALL_CLASS, 0)
    assert again.returncode == 1  # still the same notebook named after no one
    assert "graded now 0, unchanged 10" in again.stdout

    resubmitted = tmp_path / "late_resubmission.zip"  # attempt 2: the same bytes as attempt 1
    with zipfile.ZipFile(resubmitted, "w") as zf:
        zf.writestr("weili_103_5203_Optimization_methods-2.ipynb",
                    lms_class.notebook_bytes("opt_written_differently"))
    grade(*zips, resubmitted, "--roster", roster, "--out", out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["graded"], summary["superseded"]) == (0, 2)
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        latest = [i for i in book.run_items(book.latest_run_id())
                  if i["path"].endswith("Optimization_methods-2.ipynb")]
    assert [i["action"] for i in latest] == ["unchanged"]
    assert snapshot(out / "gradebook.sqlite") == snapshot(first_out / "gradebook.sqlite")


@pytest.mark.kernel
def test_moodle_download_grades_to_the_expected_totals(tmp_path, catalog):
    zips = lms_class.moodle_zips(tmp_path / "download")
    out = tmp_path / "reports"
    done = grade(*zips, "--out", out, "--workers", 2, "--preset", "moodle", "-q")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        totals = {r.student.key: r.score for r in book.class_records()}
    assert totals == pytest.approx(lms_class.expected_totals(lms_class.SMALL_CLASS, catalog, key="name"))
    assert (out / safe_file_name("Jane Doe") / "report.html").exists()


# --- interrupted runs --------------------------------------------------------------------------

@pytest.mark.kernel
def test_kill_9_half_way_then_rerun_gives_the_same_gradebook(canvas_run, download, tmp_path):
    zips, roster = download
    out = tmp_path / "reports"
    scratch_before = set(Path(tempfile.gettempdir()).glob(f"{scratch.PREFIX}*"))
    proc = start(*zips, "--roster", roster, "--out", out, "--workers", 1)
    wait_until(lambda: committed_students(out / "gradebook.sqlite") >= 1, "a student committed", proc)
    helpers = descendants(proc.pid)
    killed_scratch = set(Path(tempfile.gettempdir()).glob(f"{scratch.PREFIX}*")) - scratch_before
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = committed_students(out / "gradebook.sqlite")
    assert 1 <= kept < len(lms_class.SMALL_CLASS)
    # Orphaned workers notice their parent is gone and stop their kernels.
    wait_until(lambda: all(gone(pid) for pid in helpers), "the killed run's workers and kernels gone", limit=60)

    rerun = grade(*zips, "--roster", roster, "--out", out, "--workers", 1)
    assert rerun.returncode == 1, rerun.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert 0 < summary["graded"] < NOTEBOOKS_IN_SMALL_CLASS  # resumed, not started over
    assert summary["graded"] + summary["unchanged"] == NOTEBOOKS_IN_SMALL_CLASS
    assert snapshot(out / "gradebook.sqlite") == snapshot(canvas_run[1] / "gradebook.sqlite")
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        assert [r["status"] for r in book.runs()] == ["killed", "finished"]
    assert killed_scratch and not any(folder.exists() for folder in killed_scratch), "the rerun swept it"


@pytest.mark.kernel
def test_ctrl_c_keeps_finished_students_and_leaves_no_process_behind(download, catalog, tmp_path):
    zips, roster = download
    out = tmp_path / "reports"
    proc = start(*zips, "--roster", roster, "--out", out, "--workers", 2)

    def started_kernels():
        below = descendants(proc.pid)
        children = {p for p in below if _parent(p) == proc.pid}  # workers (and multiprocessing's helper)
        started_by_workers = set(below) - children
        if committed_students(out / "gradebook.sqlite") >= 1 and started_by_workers:
            return below, started_by_workers
        return None

    helpers, started_by_workers = wait_until(started_kernels, "a committed student while kernels run", proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "run the same command again" in stderr
    assert "Traceback" not in stderr
    assert [pid for pid in started_by_workers if not gone(pid)] == []  # stopped before the run returned
    wait_until(lambda: all(gone(pid) for pid in helpers), "the workers gone", limit=30)
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        assert [r["status"] for r in book.runs()] == ["interrupted"]
        records = book.class_records()
    assert records
    by_id = {m.lms_id: m for m in lms_class.SMALL_CLASS}
    for record in records:  # each kept student is whole and right
        assert {s: r["score"] for s, r in record.results.items()} == \
            pytest.approx(lms_class.expected_scores(by_id[record.student.key], catalog))


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1


# --- regrading -----------------------------------------------------------------------------------

@pytest.mark.kernel
def test_force_and_a_changed_check_spec_regrade_and_keep_history(capsys, tiny_submission, tmp_path):
    from conftest import TINY_FILES, TINY_SOURCE

    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for name in TINY_FILES:
        shutil.copyfile(TINY_SOURCE / name, solutions / name)
    folder = tmp_path / "class"
    tiny_submission("alice", "y = factor * x", folder=folder)
    tiny_submission("bob", "y = x + factor", folder=folder)
    out = tmp_path / "out"

    def run(*extra) -> dict:
        assert main(["grade", str(folder), "--solutions", str(solutions), "--out", str(out), "-q", *extra]) == 0
        capsys.readouterr()
        return json.loads((out / "summary.json").read_text(encoding="utf-8"))

    assert run()["graded"] == 2
    assert run()["graded"] == 0
    assert run("--force")["graded"] == 2
    spec = solutions / "Tiny.checks.py"  # the instructor gives the public check more points
    text = spec.read_text(encoding="utf-8")
    text = text.replace('"scale_public", "scale", points=2', '"scale_public", "scale", points=4')
    spec.write_text(text.replace('notebook="Tiny.ipynb", points=5', 'notebook="Tiny.ipynb", points=7'),
                    encoding="utf-8")
    assert run()["graded"] == 2
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        records = {r.student.key: r for r in book.class_records()}
        history = book.history("alice", "tiny")
    assert records["alice"].score == 7 and records["bob"].score == 0
    assert [h["score"] for h in history] == [5, 5, 7]
    assert len({h["assignment_version"] for h in history}) == 2


# --- without a kernel --------------------------------------------------------------------------

def test_a_worker_that_dies_costs_only_its_task_and_leaves_no_folder(tmp_path, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # where the workers make their folders
    monkeypatch.setattr(tempfile, "tempdir", None)
    broken = {"solutions": str(tmp_path / "nothing here"), "cache_dir": "", "fallback": True}
    with Pool(1, broken) as pool:
        answers = list(pool.run(["first", "second"], task=lambda item: {"student": item}))
    assert [(item, results) for item, results, _ in answers] == [("first", None), ("second", None)]
    assert all("stopped while grading" in why for _, _, why in answers)
    assert list(temporary.iterdir()) == []  # each dead worker's folder went with it


def test_a_second_run_on_the_same_gradebook_is_refused(capsys, tiny_folder, tmp_path):
    path = tmp_path / "erin" / "Tiny.ipynb"
    path.parent.mkdir()
    path.write_bytes(b"")
    out = tmp_path / "out"
    with run_lock(out / "gradebook.sqlite"):
        code = main(["grade", str(path), "--solutions", str(tiny_folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: another grader run is using") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--preset", "canvas", "--pattern", "(?P<student>x)"], "--pattern replaces the preset"),
    (["--pattern", "(?P<who>x)"], "named group for the student"),
    (["--roster", "missing.csv"], "no such file"),
])
def test_usage_errors_are_one_line(capsys, tiny_folder, tmp_path, args, message):
    (tmp_path / "class").mkdir()
    code = main(["grade", str(tmp_path / "class"), "--solutions", str(tiny_folder), "--out", str(tmp_path / "out"),
                 *[a.replace("missing.csv", str(tmp_path / "missing.csv")) for a in args]])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_a_corrupt_zip_or_a_missing_path_is_a_usage_error(capsys, tiny_folder, tmp_path):
    broken = tmp_path / "download.zip"
    broken.write_bytes(b"not a zip at all")
    for source, message in ((broken, "not a readable zip file"), (tmp_path / "nope", "no such file or folder")):
        code = main(["grade", str(source), "--solutions", str(tiny_folder), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err


def test_a_gradebook_path_that_is_not_a_gradebook_is_a_usage_error(capsys, tiny_folder, tmp_path):
    (tmp_path / "class" / "erin").mkdir(parents=True)
    (tmp_path / "class" / "erin" / "Tiny.ipynb").write_bytes(b"")  # something to grade
    bad = tmp_path / "grades.sqlite"
    bad.write_text("these are my notes " * 50, encoding="utf-8")
    code = main(["grade", str(tmp_path / "class"), "--solutions", str(tiny_folder), "--out", str(tmp_path / "out"),
                 "--gradebook", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "not a usable gradebook" in err
    assert bad.read_text(encoding="utf-8").startswith("these are my notes")  # nothing lost


def test_two_notebooks_with_one_name_keep_two_result_files(capsys, tiny_folder, tmp_path):
    for number, folder in ((401, "week1"), (402, "week2")):  # Moodle: one download per assignment
        path = tmp_path / folder / f"Jane Doe_{number}_assignsubmission_file_" / "notebook.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text("", encoding="utf-8")  # unreadable: graded without a kernel
    out = tmp_path / "out"
    code = main(["grade", str(tmp_path / "week1"), str(tmp_path / "week2"), "--solutions", str(tiny_folder),
                 "--out", str(out), "--json"])
    results = json.loads(capsys.readouterr().out)
    assert code == 0  # both unreadable: each a result with its reason
    assert len(results) == 2
    folder = out / safe_file_name("Jane Doe")
    files = sorted(p.name for p in folder.glob("*.json"))
    assert len(files) == 2 and all(f.startswith("notebook-") for f in files)  # a hash of each path
    assert sorted(json.loads((folder / f).read_text())["source"]["path"] for f in files) == \
        sorted(r["source"]["path"] for r in results)


def test_progress_line_shows_done_failures_and_time_left():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.start(4)
    assert "0/4 students" in stream.getvalue() and "estimating" in stream.getvalue()
    progress.update(1, 1)
    line = progress.line()
    assert "1/4 students" in line and "1 notebook failed" in line and "left" in line
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_progress_is_silent_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start(3)
    progress.update(1, 0)
    progress.close()
    assert stream.getvalue() == ""


def test_summary_table_lists_only_what_happened():
    summary = Summary(run_id=3, status="finished", students=2, notebooks=5, graded=4, unchanged=1,
                      failed_to_read=1, workers=2, seconds=75, average=61.5, max_total=100,
                      averages={"Initialization": [20, 30]})
    text = format_summary(summary, out=Path("reports"), gradebook=Path("reports/gradebook.sqlite"))
    assert text.splitlines()[0] == "run 3 finished in 1 min 15 s with 2 workers"
    assert "graded now 4, unchanged 1" in text
    assert "failed to read" in text and "crashed" not in text and "timed out" not in text
    assert "61.5 / 100" in text and "Initialization 20 / 30" in text
