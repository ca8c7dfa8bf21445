"""No leftovers: a class run leaves no temporary folders and no gradebook lock, however it ends.

Each run is the real command in a subprocess whose temporary directory (TMPDIR) is a
folder of the test's own, so everything the run and its workers and kernels leave there
can be counted: before the run it is empty, after a finished run, a Ctrl-C, and a worker
killed with ``kill -9`` it must be empty again.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.classrun.gradebook import Gradebook
from grader.classrun.pool import descendants
from grader.classrun.scratch import PREFIX, sweep_stale

SLOW_RIGHT = "import time\ntime.sleep(2)\ny = factor * x"  # full marks (5), after a while
WRONG = "y = x + factor"  # 0: adds instead of scaling
CLASS = {"ada": (SLOW_RIGHT, 5), "ben": (WRONG, 0), "cho": (SLOW_RIGHT, 5), "dan": (SLOW_RIGHT, 5)}


@pytest.fixture
def class_run(tiny_warm, tiny_submission, tmp_path):
    """The four students above in ``class/``, a private TMPDIR, and a way to start the run."""
    folder = tmp_path / "class"
    for name, (region, _) in CLASS.items():
        tiny_submission(name, region, folder=folder)
    temp = Path(tempfile.mkdtemp(prefix="nl-"))  # short: kernels' sockets live below it
    out = tmp_path / "reports"

    def start(*extra: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "grader", "grade", str(folder), "--solutions", str(tiny_warm),
                   "--out", str(out), "--workers", "2", "-q", *extra]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "TMPDIR": str(temp)}, start_new_session=True)

    yield start, temp, out
    shutil.rmtree(temp, ignore_errors=True)


def left_in(temp: Path) -> list[str]:
    return sorted(str(p.relative_to(temp)) for p in temp.rglob("*"))


def scores(out: Path) -> dict[str, float]:
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        return {r.student.key: r.score for r in book.class_records()}


def wait_for(condition, what: str, proc: subprocess.Popen, limit: float = 240):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read()}")
        time.sleep(0.05)
    pytest.fail(f"never saw {what}")


def kernel_folders(temp: Path) -> list[Path]:
    return list(temp.glob(f"{PREFIX}*/*/grader-run-*"))


@pytest.mark.kernel
def test_a_finished_run_leaves_nothing_behind(class_run):
    start, temp, out = class_run
    assert left_in(temp) == []
    proc = start()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert scores(out) == {name: score for name, (_, score) in CLASS.items()}
    assert left_in(temp) == []
    assert not (out / "gradebook.sqlite.lock").exists()


@pytest.mark.kernel
def test_ctrl_c_leaves_nothing_behind(class_run):
    start, temp, out = class_run
    proc = start()
    wait_for(lambda: kernel_folders(temp), "a kernel's working directory", proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert left_in(temp) == []
    assert not (out / "gradebook.sqlite.lock").exists()


@pytest.mark.kernel
def test_a_worker_killed_mid_student_leaves_nothing_and_a_rerun_completes_the_gradebook(class_run):
    start, temp, out = class_run
    proc = start()

    def busy_worker():
        if not kernel_folders(temp):
            return None
        workers = [p for p in descendants(proc.pid) if _parent(p) == proc.pid and descendants(p)]
        return workers[0] if workers else None

    os.kill(wait_for(busy_worker, "a worker grading a student", proc), signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err  # the killed worker's student is 'crashed'
    assert "Traceback" not in err
    assert left_in(temp) == []
    assert not (out / "gradebook.sqlite.lock").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["crashed"] == 1

    rerun = start()
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["graded"], summary["unchanged"]) == (1, 3)  # only the crashed student again
    assert scores(out) == {name: score for name, (_, score) in CLASS.items()}
    assert left_in(temp) == []


def test_a_killed_runs_folder_is_swept_by_the_next_run_and_a_live_ones_kept(tmp_path):
    dead, live = tmp_path / f"{PREFIX}dead", tmp_path / f"{PREFIX}live"
    for folder in (dead, live):
        (folder / "grader-worker-1").mkdir(parents=True)
        (folder / ".in-use").write_text("", encoding="utf-8")
        old = time.time() - 3600
        os.utime(folder, (old, old))
    import fcntl

    with open(live / ".in-use") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a run still going
        assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and live.exists()


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1
