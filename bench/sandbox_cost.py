"""What a kernel's file-system containment costs per student: our namespaces against bubblewrap.

In one run, interleaved so that every variant meets the same load on a shared machine,
this grades the correct Gradient Checking submission (tests/submissions/gc_reference_code.ipynb)
as one student, once per variant per round, and reports the median wall time of each:

* ``fork+fsview``: the grader's default. A kernel forked from the warm kernel server,
  contained in its own process by grader/kernel/fsview.py (a new root, pivot_root).
* ``spawn+fsview``: the grader's containment in a freshly started interpreter
  (``Options(fork=False)``): what any exec-based sandbox has to pay for a new process.
* ``spawn+bwrap``: a freshly started interpreter inside bubblewrap, given the same view
  (``/usr``, the Python environment, the working directory, private ``/tmp``, a minimal
  ``/dev``, a ``/proc`` of its own PID namespace, no network); inside it the grader
  applies only the limits, the own user and the scrubbed environment. The package
  ``grader`` is bound in read-only for the launcher (the fork server needs no such thing).

It also times ``contain()`` alone in a forked child, with the new root and with the view
the grader gave before deny-by-default (the machine read-only, grader folders masked:
the fallback where the new root is refused).

    .venv/bin/python bench/sandbox_cost.py --rounds 5

As a pytest plugin it starts every kernel of a test run in bubblewrap instead, to see
whether bubblewrap holds every attack:

    PYTHONPATH=bench .venv/bin/python -m pytest -p sandbox_cost tests/test_attacks.py

Needs Linux, root (the kernel's own user) and, for the bubblewrap rows, ``bwrap`` on PATH
(Debian: ``apt-get install bubblewrap``); without it those rows say so.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.core.results import NotebookResult
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_student
from grader.kernel import fsview, kernels
from grader.kernel.containment import Limits, contain
from grader.kernel.execute import Options

SUBMISSION = ROOT / "tests" / "submissions" / "gc_reference_code.ipynb"
ASSIGNMENT = "gradient_checking"
# In bubblewrap the launcher applies what bubblewrap does not: limits, own user, environment.
BWRAP_LAUNCHER = """import json, os, sys
from grader.kernel import containment, kernels
containment._namespaces = lambda limits, workdir, hidden, uid, done: done.active.append("bubblewrap")
kernels.kernel_main(json.loads(sys.argv[1]), int(os.environ["GRADER_READY_FD"]))
"""
# The user switch chowns the working directory, then changes uid and groups.
BWRAP_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER")


def bwrap_command(request: dict) -> list[str]:
    """bubblewrap's arguments for the same view fsview.py builds."""
    workdir = request["workdir"]
    cmd = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-pid"]
    bound = fsview.SYSTEM + tuple(fsview.python_paths()) + (str(ROOT / "grader"),)
    # bubblewrap makes missing parent folders 0700: the kernel's user must pass through them.
    for path in _parents(bound):
        cmd += ["--perms", "0755", "--dir", path]
    for path in bound:
        cmd += ["--ro-bind", path, path]
    for path in fsview.TOP_LEVEL:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for path in fsview.ETC_FILES:
        cmd += ["--ro-bind-try", path, path]
    cmd += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
            "--perms", "1777", "--tmpfs", "/var/tmp"]
    for path in _parents([workdir]):  # inside the fresh /tmp
        cmd += ["--perms", "0755", "--dir", path]
    cmd += ["--bind", workdir, workdir, "--chdir", workdir]
    for cap in BWRAP_CAPS:
        cmd += ["--cap-add", cap]
    return cmd + ["--setenv", "PYTHONPATH", str(ROOT), sys.executable, "-c", BWRAP_LAUNCHER, json.dumps(request)]


def _parents(paths) -> list[str]:
    return sorted({str(p) for path in paths for p in Path(path).parents if str(p) != "/"})


def spawn_in_bwrap(request: dict) -> dict:
    """kernels.spawn_kernel, with the interpreter started inside bubblewrap."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, **kernels.SERVER_ENV, "GRADER_READY_FD": str(write_fd)}
    process = subprocess.Popen(bwrap_command(request), pass_fds=(write_fd,), env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(write_fd)
    return {"pid": process.pid, "process": process, **kernels._read_ready(read_fd, timeout=60)}


class BwrapServer:
    """Stands in for the kernel fork server: every kernel is spawned inside bubblewrap."""

    def ask(self, request: dict) -> dict:
        if request.get("op") == "kill_uid":
            kernels.kill_user_processes(request["uid"])
            return {"ok": True}
        return spawn_in_bwrap(request)

    def close(self) -> None:
        pass

    def __enter__(self) -> BwrapServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pytest_configure(config) -> None:
    """As a pytest plugin (``-p sandbox_cost``): every kernel of the run starts in bubblewrap."""
    # Owners create their fork server by looking the class up in kernels when they start one.
    kernels.ForkServer = BwrapServer  # type: ignore[misc,assignment]
    kernels.spawn_kernel = spawn_in_bwrap


def grade_once(catalog: Catalog, variant: str) -> tuple[float, NotebookResult]:
    saved = kernels.spawn_kernel
    if variant == "spawn+bwrap":
        kernels.spawn_kernel = spawn_in_bwrap
    options = Options(fork=variant.startswith("fork"))
    started = time.perf_counter()
    try:
        [result] = grade_student([SUBMISSION], catalog, student=variant, assignments=[ASSIGNMENT], options=options)
    finally:
        kernels.spawn_kernel = saved
    return time.perf_counter() - started, result


def contain_seconds(new_root: bool) -> float:
    """contain() alone, in a forked child, as a kernel's process runs it."""
    workdir = tempfile.mkdtemp(prefix="grader-run-")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        if not new_root:
            fsview.PIVOT_ROOT.clear()
        started = time.perf_counter()
        contain(Limits(), workdir, [], 100_000 + os.getpid())
        os.write(write_fd, str(time.perf_counter() - started).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        seconds = float(fh.read())
    os.waitpid(pid, 0)
    shutil.rmtree(workdir, ignore_errors=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        print("needs Linux and root (the kernel's own user)", file=sys.stderr)
        return 2
    have_bwrap = shutil.which("bwrap") is not None
    variants = ["fork+fsview", "spawn+fsview"] + (["spawn+bwrap"] if have_bwrap else [])
    catalog = Catalog(ROOT / "solutions")
    catalog.expected(catalog.get(ASSIGNMENT))  # the reference run, cached before timing
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    grade_once(catalog, "fork+fsview")  # warm the kernel server and caches
    for round_ in range(args.rounds):
        for variant in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
            wall, result = grade_once(catalog, variant)
            if result.score != result.max_score:
                print(f"{variant}: the correct submission got {result.score} / {result.max_score}: "
                      f"{result.message or result.notes}", file=sys.stderr)
                return 1
            seconds[variant].append(wall)
            if round_ == 0:
                print(f"{variant}: containment {result.containment}")
    contained = {"new root": [contain_seconds(True) for _ in range(args.rounds)],
                 "masked machine": [contain_seconds(False) for _ in range(args.rounds)]}
    print(f"\nper student (Gradient Checking, correct), {args.rounds} rounds, median [min-max] s:")
    for variant, values in seconds.items():
        print(f"  {variant:13} {statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]")
    if not have_bwrap:
        print("  spawn+bwrap   not measured: bwrap is not installed")
    print("contain() alone in a forked child, median [min-max] ms:")
    for name, values in contained.items():
        print(f"  {name:15} {1000 * statistics.median(values):.1f} [{1000 * min(values):.1f}-{1000 * max(values):.1f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
