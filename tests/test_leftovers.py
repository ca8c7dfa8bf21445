"""No leftovers: a class run leaves no temporary folders and no gradebook lock, however it ends.

Each run is the real command in a subprocess whose temporary directory is the test's own
(tests/class_runs.py): before the run it is empty, and after a finished run, a Ctrl-C, and
a worker killed with ``kill -9`` it must be empty again. The same holds on a Dask
``local:N`` cluster whose worker processes are killed mid-student (Dask's own
``dask-scratch-space`` aside).
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import time

import pytest
from class_runs import EXPECTED, ClassRun, parent_of, scores, wait_for

from grader.classrun.pool import descendants
from grader.classrun.scratch import CLUSTER_PREFIX, PREFIX, held_folder, sweep_stale


@pytest.fixture
def class_run(tiny_warm, tiny_submission, tmp_path):
    run = ClassRun(tiny_warm, tiny_submission, tmp_path)
    yield run
    run.close()


@pytest.mark.kernel
def test_a_finished_run_leaves_nothing_behind(class_run):
    assert class_run.left() == []
    done = class_run.run()
    assert done.returncode == 0, done.stderr
    assert scores(class_run.out) == EXPECTED
    assert class_run.left() == []
    assert not (class_run.out / "gradebook.sqlite.lock").exists()


@pytest.mark.kernel
def test_ctrl_c_leaves_nothing_behind(class_run):
    proc = class_run.start()
    wait_for(class_run.kernel_folders, "a kernel's working directory", proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert class_run.left() == []
    assert not (class_run.out / "gradebook.sqlite.lock").exists()


@pytest.mark.kernel
def test_a_worker_killed_mid_student_leaves_nothing_and_a_rerun_completes_the_gradebook(class_run):
    proc = class_run.start()

    def busy_worker():
        if not class_run.kernel_folders():
            return None
        workers = [p for p in descendants(proc.pid) if parent_of(p) == proc.pid and descendants(p)]
        return workers[0] if workers else None

    os.kill(wait_for(busy_worker, "a worker grading a student", proc), signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err  # the killed worker's student is 'crashed'
    assert "Traceback" not in err
    assert class_run.left() == []
    assert not (class_run.out / "gradebook.sqlite.lock").exists()
    summary = json.loads((class_run.out / "summary.json").read_text(encoding="utf-8"))
    assert summary["crashed"] == 1

    rerun = class_run.run()
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads((class_run.out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["graded"], summary["unchanged"]) == (1, 3)  # only the crashed student again
    assert scores(class_run.out) == EXPECTED
    assert class_run.left() == []


def test_a_killed_runs_folder_is_swept_by_the_next_run_and_a_live_ones_kept(tmp_path):
    dead, live = tmp_path / f"{PREFIX}dead", tmp_path / f"{PREFIX}live"
    for folder in (dead, live):
        (folder / "w-1").mkdir(parents=True)
        (folder / ".in-use").write_text("", encoding="utf-8")
        old = time.time() - 3600
        os.utime(folder, (old, old))
    with open(live / ".in-use") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a run still going
        assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and live.exists()


@pytest.mark.kernel
def test_dask_workers_killed_mid_student_leave_nothing_behind(class_run):
    pytest.importorskip("distributed")
    proc = class_run.start("--cluster", "local:2")

    def dask_workers_in_a_kernel():
        if not list(class_run.temp.glob(f"{CLUSTER_PREFIX}*/w-*/grader-run-*")):
            return None
        workers = [p for p in descendants(proc.pid) if parent_of(p) == proc.pid and descendants(p)]
        return workers or None

    # One worker: killing both at once would count as two deaths for the tasks moved between them.
    worker = wait_for(dask_workers_in_a_kernel, "a Dask worker grading a student in a kernel", proc)[0]
    below = descendants(worker)
    os.kill(worker, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    summary = json.loads((class_run.out / "summary.json").read_text(encoding="utf-8"))
    assert proc.returncode == 0, (err, summary)  # the killed worker's student graded again elsewhere
    assert scores(class_run.out) == EXPECTED
    deadline = time.monotonic() + 60  # bounds a failure only: they stop within a second of their parent
    while [pid for pid in below if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in below if _alive(pid)], "the killed worker's grading process and kernels stopped"
    assert [p for p in class_run.left() if not p.startswith("dask-scratch-space")] == []


def test_a_killed_dask_workers_folder_is_swept_at_once_and_a_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    live, handle = held_folder(CLUSTER_PREFIX)
    dead, dead_handle = held_folder(CLUSTER_PREFIX)
    (dead / "assignments").mkdir()
    dead_handle.close()  # what a kill -9 does to the lock
    try:
        assert sweep_stale(tmp_path, prefix=CLUSTER_PREFIX) == [dead]
        assert not dead.exists() and live.exists()
        assert not list(tmp_path.glob(".*")), "no folder left under its hidden name"
    finally:
        handle.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
