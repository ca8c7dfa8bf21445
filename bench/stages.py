"""Where a class run's CPU goes, stage by stage, from a py-spy profile of the whole process tree.

py-spy samples every Python process of the run (the parent, its workers, the kernel fork
servers and every forked kernel) and writes one line per distinct stack with its sample
count. Each stack is given to one process role (parent, worker, kernel) by the command
lines at its root, and to one stage by its innermost frame that a rule below knows; a
sample whose frames no rule knows counts as "other" of its role. Idle threads are not
sampled, so the counts stand for CPU, not wall time.

    .venv/bin/py-spy record --subprocesses --nonblocking --format raw -o prof.txt -- grader grade ...
    .venv/bin/python bench/stages.py prof.txt
"""
from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path

# (role, a piece of a frame's text, stage). The innermost frame that matches decides.
# A frame reads "function (file:line)"; files are shown relative to their site folder.
RULES: list[tuple[str, str, str]] = [
    ("*", "<frozen importlib._bootstrap", "imports"),
    ("*", "importlib/", "imports"),
    # the parent: the instructor's process
    ("parent", "grader/classrun/intake.py", "intake"),
    ("parent", "sha256", "hashing"),
    ("parent", "hashlib", "hashing"),
    ("parent", "grader/classrun/batch.py", "planning"),
    ("parent", "grader/reports/", "rendering"),
    ("parent", "jinja2/", "rendering"),
    ("parent", "markupsafe/", "rendering"),
    ("parent", "grader/lms/", "rendering"),
    ("parent", "grader/classrun/gradebook.py", "gradebook"),
    ("parent", "sqlite3", "gradebook"),
    ("parent", "grader/core/results.py", "writing results"),
    ("parent", "grader/core/files.py", "writing results"),
    ("parent", "grader/classrun/pool.py", "pool (sending, waiting)"),
    ("parent", "multiprocessing/", "pool (sending, waiting)"),
    ("parent", "grader/classrun/progress.py", "progress"),
    ("parent", "grader/grading/reference.py", "reference outputs"),
    ("parent", "grader/grading/catalog.py", "catalog"),
    # a worker: one student at a time
    ("worker", "grader/notebook/reader.py", "read notebook"),
    ("worker", "nbformat/", "nbformat (parse, validate, new cells)"),
    ("worker", "jsonschema/", "nbformat (parse, validate, new cells)"),
    ("worker", "fastjsonschema", "nbformat (parse, validate, new cells)"),
    ("worker", "grader/notebook/", "build"),
    ("worker", "grader/core/codec.py", "inputs and output decode (codec)"),
    ("worker", "grader/grading/pipeline.py", "inputs"),
    ("worker", "grader/checks/spec.py", "inputs"),
    ("worker", "grader/kernel/kernels.py", "kernel fork and setup"),
    ("worker", "jupyter_client/manager.py", "kernel fork and setup"),
    ("worker", "jupyter_client/provisioning", "kernel fork and setup"),
    ("worker", "jupyter_client/connect.py", "kernel fork and setup"),
    ("worker", "grader/kernel/containment.py", "kernel fork and setup"),
    ("worker", "nbclient/", "nbclient round trips"),
    ("worker", "jupyter_client/", "nbclient round trips"),
    ("worker", "zmq/", "nbclient round trips"),
    ("worker", "asyncio/", "nbclient round trips"),
    ("worker", "selectors.py", "nbclient round trips"),
    ("worker", "grader/kernel/execute.py", "execute loop (watching, files)"),
    ("worker", "grader/checks/", "compare and score"),
    ("worker", "grader/grading/grade.py", "compare and score"),
    ("worker", "grader/grading/", "catalog and reference"),
    ("worker", "grader/classrun/", "worker loop"),
    ("worker", "multiprocessing/", "worker loop"),
    # the kernel side: the fork server and every forked kernel
    ("kernel", "(<cell ", "students' code"),
    ("kernel", "/ipykernel_", "students' code"),
    ("kernel", "<ipython-input", "students' code"),
    ("kernel", "nn_helpers.py", "students' code"),
    ("kernel", "gradcheck_helpers.py", "students' code"),
    ("kernel", "nn_test_cases.py", "students' code"),
    ("kernel", "grader/core/codec.py", "harness: encode outputs"),
    ("kernel", "encode (<grader-harness>", "harness: encode outputs"),
    ("kernel", "write_npz (<grader-harness>", "harness: encode outputs"),
    ("kernel", "write_values (<grader-harness>", "harness: encode outputs"),
    ("kernel", "decode (<grader-harness>", "harness: decode inputs"),
    ("kernel", "read_values (<grader-harness>", "harness: decode inputs"),
    ("kernel", "StoredArrays.__getitem__ (<grader-harness>", "harness: decode inputs"),
    ("kernel", "(<grader-harness>", "harness"),
    ("kernel", "grader/kernel/harness.py", "harness"),
    ("kernel", "grader/kernel/guard.py", "harness"),
    ("kernel", "grader/kernel/fsview.py", "harness"),
    ("kernel", "grader/kernel/containment.py", "kernel fork and setup"),
    ("kernel", "grader/kernel/kernels.py", "kernel fork and setup"),
    ("kernel", "IPython/", "ipykernel and IPython"),
    ("kernel", "ipykernel/", "ipykernel and IPython"),
    ("kernel", "zmq/", "ipykernel and IPython"),
    ("kernel", "tornado/", "ipykernel and IPython"),
    ("kernel", "asyncio/", "ipykernel and IPython"),
    ("kernel", "jupyter_client/", "ipykernel and IPython"),
]

# A thread's innermost frame in one of these is waiting, not working: py-spy does not
# always see such a thread as idle, so these samples are left out of the shares.
WAITING = ("select (selectors.py", "_watch_pipe_fd (ipykernel/iostream.py", "device (zmq/", "wait (threading.py",
           "_poll (zmq/", "poll (zmq/", "sleep (", "_recv_bytes (multiprocessing/", "wait (multiprocessing/")

ROLES = ("parent", "worker", "kernel")
_PROCESSES = re.compile(r'^((?:process \d+:"[^"]*";?)*)(.*)$')
_COMMAND = re.compile(r'process \d+:"([^"]*)"')


def role_of(commands: list[str]) -> str:
    """Which process a stack ran in, from the command lines of its process and its ancestors."""
    last = commands[-1] if commands else ""
    if "grader.kernel.kernels" in last or "ipykernel" in last:
        return "kernel"
    if "multiprocessing" in last and "spawn_main" in last:
        return "worker"
    return "parent"


def stage_of(role: str, frames: list[str]) -> str:
    for frame in reversed(frames):
        for rule_role, piece, stage in RULES:
            if rule_role in ("*", role) and piece in frame:
                return stage
    return "other"


def breakdown(raw: str) -> Counter:
    """Samples per (role, stage) in py-spy's raw (collapsed) output."""
    counts: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        processes, body = _PROCESSES.match(stack).groups()  # a command line may hold ";"
        frames = body.split(";") if body else []
        if frames and any(w in frames[-1] for w in WAITING):
            continue
        role = role_of(_COMMAND.findall(processes))
        counts[role, stage_of(role, frames)] += int(count)
    return counts


def format_breakdown(counts: Counter, cpu_seconds: float | None = None, students: int | None = None) -> str:
    """A table per role: share of all samples and, given the run's CPU, seconds per student."""
    total = sum(counts.values()) or 1
    lines = []
    for role in ROLES:
        stages = sorted(((n, s) for (r, s), n in counts.items() if r == role), reverse=True)
        lines.append(f"   {role}: {100 * sum(n for n, _ in stages) / total:.1f} % of samples")
        for n, stage in stages:
            share = n / total
            extra = (f"  {share * cpu_seconds / students:.4f} CPU s per student"
                     if cpu_seconds is not None and students else "")
            lines.append(f"     {stage:<40} {100 * share:5.1f} %{extra}")
    return "\n".join(lines)


def py_spy(venv: Path | None = None) -> str | None:
    """py-spy beside this interpreter, in the benchmark's environment ``venv``, or on PATH."""
    for folder in (Path(sys.executable).parent, Path(venv) / "bin" if venv else None):
        if folder is not None and (folder / "py-spy").exists():
            return str(folder / "py-spy")
    return shutil.which("py-spy")


def ensure_py_spy(venv: Path, project: Path) -> str:
    """py-spy's executable; when none is found, the project's ``bench`` extra (which names it) is
    installed into the benchmark's environment ``venv``, created if need be, as for nbgrader."""
    found = py_spy(venv)
    if found:
        return found
    from nbgrader_course import install_bench_extra

    install_bench_extra(venv, project)
    found = py_spy(venv)
    if not found:
        raise RuntimeError(f"py-spy is still missing from {venv} after installing the bench extra")
    return found


def profiled(command: list[str], output: Path, spy: str, rate: int = 20) -> list[str]:
    """``command`` run under py-spy, sampling its whole process tree into ``output``.

    ``--nonblocking`` samples without pausing the processes, so the run is slowed less
    (a few stacks may come out torn, which only blurs the proportions).
    """
    return [spy, "record", "--subprocesses", "--nonblocking", "--rate", str(rate), "--format", "raw",
            "--output", str(output), "--", *command]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: stages.py PY-SPY-RAW-OUTPUT", file=sys.stderr)
        return 2
    print(format_breakdown(breakdown(Path(argv[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
