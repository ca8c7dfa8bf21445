"""A small tiny-assignment class graded by the real command in a subprocess, for tests that
interrupt, kill or starve a run (tests/test_leftovers.py, tests/test_faults.py).

Four students, each with the grade they must get; three take two seconds per check, so a
run lasts long enough to be interrupted. The run's temporary directory (TMPDIR) is a short
folder of the test's own, so whatever the run leaves there can be counted.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.classrun.gradebook import Gradebook
from grader.classrun.scratch import PREFIX

SLOW_RIGHT = "import time\ntime.sleep(2)\ny = factor * x"  # full marks (5), after a while
WRONG = "y = x + factor"  # 0: adds instead of scaling
CLASS = {"ada": (SLOW_RIGHT, 5), "ben": (WRONG, 0), "cho": (SLOW_RIGHT, 5), "dan": (SLOW_RIGHT, 5)}
EXPECTED = {name: score for name, (_, score) in CLASS.items()}


class ClassRun:
    def __init__(self, solutions: Path, make_submission, base: Path):
        self.solutions, self.folder, self.out = solutions, base / "class", base / "reports"
        for name, (region, _) in CLASS.items():
            make_submission(name, region, folder=self.folder)
        self.temp = Path(tempfile.mkdtemp(prefix="nl-"))  # short: kernels' sockets live below it

    def start(self, *extra: str, out: Path | None = None, preexec_fn=None) -> subprocess.Popen:
        workers = [] if "--cluster" in extra else ["--workers", "2"]  # a cluster's workers are its own
        command = [sys.executable, "-m", "grader", "grade", str(self.folder), "--solutions", str(self.solutions),
                   "--out", str(out or self.out), *workers, "-q", *extra]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "TMPDIR": str(self.temp)}, start_new_session=True,
                                preexec_fn=preexec_fn)

    def run(self, *extra: str, **kwargs) -> subprocess.CompletedProcess:
        proc = self.start(*extra, **kwargs)
        stdout, stderr = proc.communicate(timeout=600)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def left(self) -> list[str]:
        return sorted(str(p.relative_to(self.temp)) for p in self.temp.rglob("*"))

    def kernel_folders(self) -> list[Path]:
        return list(self.temp.glob(f"{PREFIX}*/*/grader-run-*"))

    def close(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def scores(out: Path) -> dict[str, float]:
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        return {r.student.key: r.score for r in book.class_records()}


def snapshot(out: Path) -> dict:
    """Per student and assignment: score, status and every check's status and points."""
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        return {r.student.key: {slug: (res["score"], res["status"],
                                       sorted((c["name"], c["status"], c["points"])
                                              for f in res["functions"] for c in f["checks"]))
                                for slug, res in r.results.items()}
                for r in book.class_records()}


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


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1
