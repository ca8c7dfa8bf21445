"""A class graded on a Dask LocalCluster of two workers: the same gradebook as the local pool,
nothing lost when a worker is killed, the scheduler lost, or the run interrupted.

The kernel tests share one LocalCluster (two single-threaded worker processes, a task given up
after it killed two of them, as ``--cluster local:2`` starts it). Fixtures are named by
scenario; the synthetic class carries each notebook's expected grade (bench/make_class.py).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.classrun import cluster as cluster_module
from grader.classrun.batch import Settings, run_class
from grader.classrun.cluster import Cluster, pack_assignments, start_local_cluster
from grader.classrun.intake import collect
from grader.classrun.pool import descendants
from grader.cli import main
from grader.core.results import NotebookResult, NotebookStatus
from grader.grading.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
SAMPLE_CLASS = ROOT / "sample_class"
sys.path.insert(0, str(ROOT / "bench"))

SLOW_CORRECT = "import time\ntime.sleep(0.7)\ny = factor * x"  # full marks, about 2 s a student
# A student the tests kill workers under: slow enough that a kill lands while its kernel runs.
SLOWER_CORRECT = "import time\ntime.sleep(3)\ny = factor * x"
KILL_WAIT_SECONDS = 300  # only bounds a failure: each wait below is for a condition
TINY_POINTS = 5.0


def gradebook_view(path: Path) -> list[tuple]:
    """Every result the gradebook holds, as a user sees it: who, which file, status, score,
    message and the whole result JSON without its timings (the only part that may differ)."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT r.student_key, s.path, r.assignment, r.assignment_version, r.status, r.score, "
            "r.max_score, r.message, r.result_json FROM results r JOIN submissions s ON s.id = r.submission_id "
            "ORDER BY r.student_key, s.path").fetchall()
    view = []
    for *head, text in rows:
        result = json.loads(text)
        result.pop("timing", None)
        for function in result.get("functions", []):
            for check in function["checks"]:
                check.pop("seconds", None)
        view.append((*head, json.dumps(result, sort_keys=True)))
    return view


def first_difference(mine: list[tuple], theirs: list[tuple]) -> str:
    """Where two gradebook views part, for the failure message: the row and the result's keys."""
    if len(mine) != len(theirs):
        return f"{len(mine)} results against {len(theirs)}"
    for a, b in zip(mine, theirs):
        if a != b:
            if a[:-1] != b[:-1]:
                return f"{a[:-1]} against {b[:-1]}"
            ra, rb = json.loads(a[-1]), json.loads(b[-1])
            keys = [k for k in sorted(set(ra) | set(rb)) if json.dumps(ra.get(k)) != json.dumps(rb.get(k))]
            return f"{a[0]} {Path(a[1]).name}: " + "; ".join(
                f"{k}: {json.dumps(ra.get(k))[:400]} against {json.dumps(rb.get(k))[:400]}" for k in keys)
    return ""


def grade_class(paths: list[Path], solutions: Path, out: Path, *, cluster: str | None = None, **settings):
    catalog = Catalog(solutions)
    intake = collect(paths, catalog=catalog, extract_to=out / "_submissions")
    summary = run_class(intake, catalog, Settings(out=out, gradebook=out / "gradebook.sqlite", cluster=cluster,
                                                  **settings))
    return summary, out / "gradebook.sqlite"


def results_per_student(gradebook: Path) -> dict[str, list[tuple[str, float, str]]]:
    with sqlite3.connect(gradebook) as db:
        rows = db.execute("SELECT student_key, status, score, message FROM results ORDER BY student_key").fetchall()
    found: dict[str, list] = {}
    for student, status, score, message in rows:
        found.setdefault(student, []).append((status, score, message))
    return found


@pytest.fixture(scope="module")
def local_cluster():
    cluster = start_local_cluster(2)
    yield cluster
    cluster.close(timeout=30)


@pytest.fixture
def client(local_cluster):
    import distributed

    with distributed.Client(local_cluster) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


def slow_class(tiny_submission, folder: Path, students: int, *, victim: str | None = None) -> Path:
    for i in range(students):
        name = f"slow_correct_{i}"
        tiny_submission(name, SLOWER_CORRECT if name == victim else SLOW_CORRECT, folder=folder)
    return folder


def kill_worker_grading(client, student: str, *, times: int, errors: list) -> None:
    """SIGKILL whichever worker process is grading ``student`` in a kernel, ``times`` times over."""
    try:
        for _ in range(times):
            deadline = time.monotonic() + KILL_WAIT_SECONDS
            busy = None
            while busy is None and time.monotonic() < deadline:
                try:
                    grading = client.run(_grading_in_a_kernel)
                except Exception:  # a worker is just now dying or starting: ask again
                    grading = {}
                busy = next((w for w, keys in grading.items() if any(f"grade-{student}-" in k for k in keys)), None)
                if busy is None:
                    time.sleep(0.05)
            if busy is None:
                raise AssertionError(f"{student} was never being graded in a kernel")
            pid = client.run(os.getpid, workers=[busy])[busy]
            children = descendants(pid)
            os.kill(pid, signal.SIGKILL)
            errors.append(("killed", pid, children))
            client.wait_for_workers(2, timeout=KILL_WAIT_SECONDS)
    except BaseException as exc:  # reported by the test, not lost in a thread
        errors.append(("error", exc))


def _grading_in_a_kernel(dask_worker) -> list[str]:
    """The keys this worker is running, once a kernel's working directory exists below its plugin's folder."""
    folders = [Path(p.folder) for p in dask_worker.plugins.values() if getattr(p, "folder", None)]
    if not any(any(f.glob("w-*/grader-run-*")) for f in folders):
        return []
    return [str(ts.key) for ts in dask_worker.state.tasks.values() if ts.state == "executing"]


def wait_until(condition, what: str, limit: float = KILL_WAIT_SECONDS) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.1)


# --- the same gradebook as the local pool ---------------------------------------------------------

@pytest.fixture(scope="module")
def sample_runs(local_cluster, tmp_path_factory):
    """The sample class graded by the pool and on the cluster, then the cluster run again."""
    pool_summary, pool_book = grade_class([SAMPLE_CLASS], SOLUTIONS, tmp_path_factory.mktemp("pool"))
    out = tmp_path_factory.mktemp("cluster")
    cluster_summary, cluster_book = grade_class([SAMPLE_CLASS], SOLUTIONS, out,
                                                cluster=local_cluster.scheduler_address)
    rerun, _ = grade_class([SAMPLE_CLASS], SOLUTIONS, out, cluster=local_cluster.scheduler_address)
    return pool_summary, pool_book, cluster_summary, cluster_book, rerun


@pytest.mark.kernel
def test_sample_class_on_a_cluster_gets_the_pools_gradebook(sample_runs):
    pool_summary, pool_book, cluster_summary, cluster_book, _ = sample_runs
    assert cluster_summary.status == "finished" and cluster_summary.workers == 2
    view = gradebook_view(cluster_book)
    assert len(view) == pool_summary.notebooks == cluster_summary.graded
    assert {row[0] for row in view} == {p.name for p in SAMPLE_CLASS.iterdir() if p.is_dir()}
    assert view == gradebook_view(pool_book), first_difference(view, gradebook_view(pool_book))
    assert not [row for row in view if "grader-task-" in row[-1]], "no result names a worker's copy"
    paths = {row[1] for row in view}
    assert all(Path(p).is_relative_to(SAMPLE_CLASS) for p in paths)  # the client's paths, not a worker's
    assert (cluster_summary.graded, cluster_summary.failed_to_read, cluster_summary.average) == \
           (pool_summary.graded, pool_summary.failed_to_read, pool_summary.average)


@pytest.mark.kernel
def test_a_rerun_on_the_cluster_grades_nothing_unchanged(sample_runs):
    *_, cluster_summary, _, rerun = sample_runs
    assert rerun.status == "finished"
    assert (rerun.graded, rerun.unchanged) == (0, cluster_summary.graded)


def _what_the_plugin_holds(task: dict, plugin: str) -> dict:
    """A stand-in for grading: where this worker's plugin unpacked the assignments, and what is there."""
    from grader.classrun.clusterworker import _plugin

    found = _plugin(plugin)
    files = sorted(p.relative_to(found.assignments).as_posix() for p in found.assignments.rglob("*") if p.is_file())
    return {"results": [{"folder": str(found.folder), "files": files}], "why": ""}


def test_assignments_are_unpacked_once_per_worker_and_removed_when_the_run_ends(local_cluster, client):
    catalog = Catalog(SOLUTIONS)
    items = [{"student": f"s{i}", "notebooks": [], "assignments": []} for i in range(8)]
    with Cluster(local_cluster.scheduler_address, {}, catalog, work=_what_the_plugin_holds) as cluster:
        answers = list(cluster.run(items, task=lambda item: item))
        plugin = cluster.plugin
        during = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(plugin in names for names in during.values()), during
    held = [a[1][0] for a in answers]
    folders = {h["folder"] for h in held}
    assert len(held) == 8 and 1 <= len(folders) <= 2, folders  # one folder per worker, not per student
    version = catalog.version(catalog.get("optimization"))
    assert all({"Optimization_methods.ipynb", "Optimization_methods.checks.py",
                f".grader-cache/optimization-{version}.npz"} <= set(h["files"]) for h in held)
    assert not [f for f in folders if Path(f).exists()], "the run's end removed each worker's folder"
    after = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert not [names for names in after.values() if plugin in names], "and took the plugin off every worker"


def test_assignments_that_do_not_match_their_hash_are_refused_in_one_line(local_cluster, monkeypatch):
    monkeypatch.setattr(cluster_module, "pack_assignments", lambda catalog: (b"not the archive", "0" * 64))
    with pytest.raises(cluster_module.ClusterError, match="do not match their version hash") as caught:
        with Cluster(local_cluster.scheduler_address, {}, Catalog(SOLUTIONS), work=_stand_in):
            pass
    assert "\n" not in str(caught.value)


@pytest.mark.kernel
@pytest.mark.slow
def test_synthetic_class_of_30_on_a_cluster_gets_the_pools_gradebook_and_the_planned_grades(local_cluster, tmp_path):
    from make_class import ClassWriter, plan_class

    catalog = Catalog(SOLUTIONS)
    plan = plan_class(30, seed=16, catalog=catalog)
    ClassWriter(catalog).write(plan, tmp_path / "class")
    pool_summary, pool_book = grade_class([tmp_path / "class"], SOLUTIONS, tmp_path / "pool")
    cluster_summary, cluster_book = grade_class([tmp_path / "class"], SOLUTIONS, tmp_path / "cluster",
                                                cluster=local_cluster.scheduler_address)
    view = gradebook_view(cluster_book)
    assert cluster_summary.status == "finished" and len(view) == len(plan) == 90
    assert view == gradebook_view(pool_book), first_difference(view, gradebook_view(pool_book))
    scores = {(row[0], Path(row[1]).name): row[5] for row in view}
    for submission in plan:
        assert scores[(submission.student, submission.notebook)] == pytest.approx(submission.expected_score, abs=1e-6), \
            submission.scenario
    assert cluster_summary.crashed == pool_summary.crashed == 0


# --- faults ----------------------------------------------------------------------------------------

@pytest.mark.kernel
def test_a_worker_killed_mid_task_costs_a_retry_not_a_student(client, local_cluster, tiny_warm, tiny_submission,
                                                              tmp_path):
    victim, events = "slow_correct_1", []
    folder = slow_class(tiny_submission, tmp_path / "class", 4, victim=victim)
    killer = threading.Thread(target=kill_worker_grading, args=(client, victim),
                              kwargs={"times": 1, "errors": events}, daemon=True)
    killer.start()
    summary, book = grade_class([folder], tiny_warm, tmp_path / "out", cluster=local_cluster.scheduler_address)
    killer.join(timeout=KILL_WAIT_SECONDS)
    assert [e[0] for e in events] == ["killed"], events
    assert summary.status == "finished" and summary.crashed == 0
    found = results_per_student(book)
    assert sorted(found) == [f"slow_correct_{i}" for i in range(4)]
    assert all(rows == [("graded", TINY_POINTS, "")] for rows in found.values()), found
    _, _, children = events[0]
    assert children, "the killed worker had a grading process"
    wait_until(lambda: not any(_alive(pid) for pid in children), "the killed worker's grading process and kernels stop")


@pytest.mark.kernel
def test_a_student_that_two_workers_died_on_ends_as_a_result_with_the_reason(client, local_cluster, tiny_warm,
                                                                            tiny_submission, tmp_path):
    victim, events = "slow_correct_0", []
    folder = slow_class(tiny_submission, tmp_path / "class", 3, victim=victim)
    killer = threading.Thread(target=kill_worker_grading, args=(client, victim),
                              kwargs={"times": 2, "errors": events}, daemon=True)
    killer.start()
    summary, book = grade_class([folder], tiny_warm, tmp_path / "out", cluster=local_cluster.scheduler_address)
    killer.join(timeout=2 * KILL_WAIT_SECONDS)
    assert [e[0] for e in events] == ["killed", "killed"], events
    found = results_per_student(book)
    assert sorted(found) == [f"slow_correct_{i}" for i in range(3)]
    [(status, score, message)] = found[victim]
    assert (status, score) == ("crashed", 0.0) and "workers died" in message
    assert all(found[s] == [("graded", TINY_POINTS, "")] for s in found if s != victim)
    assert summary.crashed == 1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _dask(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _grade_command(*args) -> list[str]:
    return [sys.executable, "-m", "grader", "grade", *map(str, args)]


@pytest.mark.kernel
def test_losing_the_scheduler_stops_the_run_in_one_line_and_keeps_what_was_written(tiny_warm, tiny_submission,
                                                                                   tmp_path):
    folder = slow_class(tiny_submission, tmp_path / "class", 6)
    port = _free_port()
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    worker = _dask("worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard")
    out = tmp_path / "out"
    try:
        run = subprocess.Popen(_grade_command(folder, "--solutions", tiny_warm, "--out", out, "--cluster",
                                              f"tcp://127.0.0.1:{port}"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 300
        while _committed(out / "gradebook.sqlite") < 1 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        os.killpg(scheduler.pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            with _suppress():
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert run.returncode == 1, stderr
    assert lines == [lines[0]] and lines[0].startswith("error: lost the Dask scheduler"), stderr
    kept = results_per_student(out / "gradebook.sqlite")
    assert 1 <= len(kept) < 6 and all(rows == [("graded", TINY_POINTS, "")] for rows in kept.values())
    for student in kept:
        assert list((out / student).glob("Tiny*.json")) and (out / student / "report.html").exists()


def _committed(gradebook: Path) -> int:
    try:
        with sqlite3.connect(gradebook, timeout=5) as db:
            return db.execute("SELECT COUNT(DISTINCT student_key) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


@pytest.mark.kernel
def test_ctrl_c_cancels_the_cluster_run_and_leaves_nothing_running(tiny_warm, tiny_submission, tmp_path):
    folder = slow_class(tiny_submission, tmp_path / "class", 6)
    out = tmp_path / "out"
    run = subprocess.Popen(_grade_command(folder, "--solutions", tiny_warm, "--out", out, "--cluster", "local:2"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                           start_new_session=True)
    deadline = time.monotonic() + 300
    while _committed(out / "gradebook.sqlite") < 1 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    below = descendants(run.pid)
    assert below, "the run had worker processes"
    os.killpg(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr
    deadline = time.monotonic() + 30
    while [p for p in below if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in below if _alive(p)], "workers, grading processes and kernels all stopped"
    kept = results_per_student(out / "gradebook.sqlite")
    assert 1 <= len(kept) < 6 and all(rows == [("graded", TINY_POINTS, "")] for rows in kept.values())


# --- usage, and the core path without Dask ---------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--cluster", "local:0"], "local:N needs a number of workers of at least 1"),
    (["--cluster", "local:two"], "local:N needs a number of workers of at least 1"),
    (["--cluster", "local:2", "--workers", "2"], "--workers counts local grading processes"),
])
def test_bad_cluster_options_are_one_line_usage_errors(args, message, capsys, tmp_path):
    assert main(["grade", str(SAMPLE_CLASS), "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err
    assert not (tmp_path / "gradebook.sqlite").exists()


def test_without_dask_installed_cluster_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what Python does when the module is missing
    assert main(["grade", str(SAMPLE_CLASS), "--out", str(tmp_path), "--cluster", "local:2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and 'pip install "nbautograde[cluster]"' in err


def test_the_core_path_never_imports_dask():
    code = ("import sys, grader.cli, grader.classrun.batch, grader.classrun.cluster\n"
            "grader.cli.parser().parse_args(['grade', 'x'])\n"
            "print('distributed' in sys.modules, 'dask' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_the_assignment_archive_is_reproducible_and_holds_what_workers_need(tiny_warm, tmp_path):
    import io
    import tarfile

    catalog = Catalog(tiny_warm)
    (tiny_warm / "__pycache__").mkdir(exist_ok=True)
    (tiny_warm / "__pycache__" / "stale.pyc").write_bytes(b"old")
    first, digest = pack_assignments(catalog)
    time.sleep(1.1)  # a clock in the archive would show now
    again, digest_again = pack_assignments(catalog)
    assert (first, digest) == (again, digest_again)
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        names = set(archive.getnames())
    version = catalog.version(catalog.assignments[0])
    assert {"Tiny.ipynb", "Tiny.checks.py", "tiny_cases.py", f".grader-cache/tiny-{version}.npz"} <= names
    assert not any("__pycache__" in n for n in names)


def test_results_name_the_clients_paths_not_the_workers_copies():
    from grader.classrun.clusterworker import with_paths

    here, there = "/tmp/grader-task-x/0/Tiny.ipynb", "class/ann \"a\"/Tiny.ipynb"
    unreadable = NotebookResult(student="ann", source={"path": here, "sha256": "ab"}, status=NotebookStatus.UNREADABLE,
                                max_score=30.0, message=f"{here} is not valid JSON")
    [moved] = with_paths([unreadable], {here: there})
    assert (moved.source, moved.message) == ({"path": there, "sha256": "ab"}, f"{there} is not valid JSON")
    assert (moved.status, moved.max_score, moved.student) == (NotebookStatus.UNREADABLE, 30.0, "ann")


def test_no_more_than_two_students_per_worker_are_in_flight(local_cluster, client):
    """The client's memory does not grow with the class: a stand-in task, every student answered."""
    catalog = Catalog(SOLUTIONS)
    seen: list[int] = []
    with Cluster(local_cluster.scheduler_address, {}, catalog, work=_stand_in) as cluster:
        items = [{"student": f"s{i}", "notebooks": [], "assignments": []} for i in range(20)]
        original = cluster._submit

        def counting(item, task, attempt):
            original(item, task, attempt)
            seen.append(len(cluster.pending))
        cluster._submit = counting  # type: ignore[method-assign]
        answers = list(cluster.run(items, task=lambda item: item))
    assert sorted(a[0]["student"] for a in answers) == sorted(f"s{i}" for i in range(20))
    assert all(a[1] == [{"student": a[0]["student"]}] and a[2] == "" for a in answers)
    assert cluster.size == 2 and max(seen) == cluster_module.IN_FLIGHT_PER_WORKER * 2


def _stand_in(task: dict, plugin: str) -> dict:
    return {"results": [{"student": task["student"]}], "why": ""}


def test_the_client_keeps_only_a_few_old_messages(local_cluster):
    """Dask logs each connection's last messages; ours carry students' notebooks, so the log stays short."""
    with Cluster(local_cluster.scheduler_address, {}, Catalog(SOLUTIONS), work=_stand_in) as cluster:
        kept = cluster.client.scheduler_comm.recent_message_log.maxlen
    assert kept == cluster_module.CLIENT_SETTINGS["distributed.admin.low-level-log-length"] <= 50
