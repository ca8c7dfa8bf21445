"""CPU of the student kernels alone, per student: the kernel stage of issue 15 without a profiler.

Grades students of a class written by ``bench/make_class.py`` one after another with
``grade_student`` and one fork server, as a pool worker does, and reads each kernel's own CPU
time (user + system, read with psutil) just before it is stopped. The first student
warms up and is not counted; a kernel that used more than ``--ceiling`` CPU seconds (a student
whose loop ran into the time limit) is left out and counted apart. Also prints this process's
CPU per student (the worker's side: build, link, compare). ``--scores`` writes every check's
status, points and message, to compare two versions of the grader on the same class.

    .venv/bin/python bench/make_class.py --students 30 --out /tmp/grader-bench-class
    .venv/bin/python bench/kernel_cpu.py /tmp/grader-bench-class --students 12 --scores after.json

Linux only (the fork server).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("class_dir", type=Path, help="the --out folder of bench/make_class.py (or its class/)")
    parser.add_argument("--students", type=int, default=12, help="students counted (after one warm-up)")
    parser.add_argument("--ceiling", type=float, default=3.0, help="kernels above this CPU s are left out")
    parser.add_argument("--scores", type=Path, help="write every check's outcome here (JSON)")
    args = parser.parse_args(argv)

    import grader.kernel.execute as execute
    from grader.grading.catalog import Catalog
    from grader.grading.grade import grade_student
    from grader.grading.pipeline import PreparedInputs
    from grader.kernel.kernels import ForkServer

    kernel_seconds: list[float] = []
    stop = execute._stop

    async def stop_and_measure(km, client) -> None:
        kernel_seconds.append(_process_cpu(km.provisioner.pid))
        await stop(km, client)

    execute._stop = stop_and_measure  # this process only: the measurement, not the grader
    folder = args.class_dir / "class" if (args.class_dir / "class").is_dir() else args.class_dir
    students = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))[:args.students + 1]
    if len(students) < 2:
        parser.error(f"{folder} holds fewer than two students' folders (one warms up, the others count)")
    outcomes: dict[str, list] = {}
    with Catalog(ROOT / "solutions") as catalog, ForkServer() as server, PreparedInputs() as inputs:
        options = execute.Options(server=server)
        for index, student in enumerate(students):
            if index == 1:
                kernel_seconds.clear()
                started = time.process_time()
            results = grade_student(sorted(student.glob("*.ipynb")), catalog, student=student.name,
                                    options=options, inputs=inputs)
            outcomes[student.name] = [[str(r.status), r.score, [[c.name, str(c.status), c.points, c.message]
                                                                 for c in r.checks]] for r in results]
        worker = time.process_time() - started
    counted = [s for s in kernel_seconds if s <= args.ceiling]
    print(f"{len(counted)} kernels counted, {len(kernel_seconds) - len(counted)} above {args.ceiling:g} CPU s left out")
    print(f"kernel CPU per student: {sum(counted) / max(1, len(counted)):.4f} s "
          f"(per kernel: {', '.join(f'{s:.2f}' for s in kernel_seconds)})")
    print(f"this process (the worker's side) per student: {worker / max(1, len(students) - 1):.4f} CPU s")
    if args.scores:
        args.scores.write_text(json.dumps(outcomes, indent=1, sort_keys=True), encoding="utf-8")
    return 0


def _process_cpu(pid: int) -> float:
    """User and system CPU seconds of a running process (psutil, as measure.py reads them)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
