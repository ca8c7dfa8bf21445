"""The cluster path at MOOC scale without grading: many stand-in tasks on a LocalCluster.

Each task carries a real student notebook's bytes, as a graded task does, and the stand-in
on the worker answers with a result-sized dict at once, so what is measured is what the
cluster adds per student: the client packing and submitting the task, the scheduler
placing it, the bytes travelling, the answer coming back (``classrun.cluster.Cluster.run``,
the same code a class run uses, bounded in flight). Printed: tasks per second, the
scheduler's cost per task, and the client's memory (resident set) at the start, its peak
and at the end, sampled every 50 ms.

    .venv/bin/python bench/cluster_sim.py --tasks 10000 --workers 2                  # as a class run submits
    .venv/bin/python bench/cluster_sim.py --tasks 10000 --workers 2 --in-flight 100  # the scheduler's throughput
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20


def stand_in(task: dict, plugin: str) -> dict:
    """What grade_on_worker returns, without a kernel: one result per notebook."""
    size = sum(len(d or b"") for d in task["data"])
    return {"results": [{"student": task["student"], "status": "graded", "score": 1.0, "bytes": size,
                         "functions": [{"name": "f", "checks": [{"name": "c", "status": "passed"}] * 10}]}
                        for _ in task["notebooks"]], "why": ""}


class MemorySampler:
    """This process's resident set, every ``interval`` seconds, in a thread."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.process, self.interval = psutil.Process(), interval
        self.samples: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemorySampler:
        self.samples.append(self.process.memory_info().rss)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self.samples.append(self.process.memory_info().rss)

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            self.samples.append(self.process.memory_info().rss)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Stand-in tasks through the cluster path on a LocalCluster.")
    p.add_argument("--tasks", type=int, default=10_000, help="students simulated (default 10000)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    p.add_argument("--in-flight", type=int, default=None, metavar="K",
                   help="students submitted at once per worker (default: what a class run uses, "
                        "cluster.IN_FLIGHT_PER_WORKER); larger values measure throughput rather than latency")
    p.add_argument("--notebook", default=str(ROOT / "sample_class" / "ada" / "Optimization_methods.ipynb"),
                   help="the notebook each task carries (default: one of the sample class)")
    args = p.parse_args(argv)
    if args.tasks < 1 or args.workers < 1:
        p.error("--tasks and --workers must be at least 1")

    from grader.classrun.cluster import IN_FLIGHT_PER_WORKER, Cluster, start_local_cluster
    from grader.grading.catalog import Catalog

    catalog = Catalog(ROOT / "solutions")
    items = [{"student": f"student{i:05d}", "notebooks": [args.notebook], "assignments": [None]}
             for i in range(args.tasks)]
    local = start_local_cluster(args.workers)
    try:
        in_flight = args.in_flight or IN_FLIGHT_PER_WORKER
        with Cluster(local.scheduler_address, {}, catalog, work=stand_in, in_flight_per_worker=in_flight) as cluster:
            gaps: list[float] = []
            answered = 0
            with MemorySampler() as memory:
                cpu_before = sum(memory.process.cpu_times()[:2])
                started = last = time.perf_counter()
                for _item, results, why in cluster.run(items, task=lambda item: item):
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now
                    answered += results is not None and not why
                wall = time.perf_counter() - started
                cpu = sum(memory.process.cpu_times()[:2]) - cpu_before
    finally:
        local.close(timeout=30)
    load = os.getloadavg()[0]
    print(f"{args.tasks} stand-in tasks on a LocalCluster of {args.workers} workers, {in_flight} in flight per worker "
          f"({os.cpu_count()} CPUs, load average {load:.1f} at the end)")
    print(f"  answered: {answered} of {args.tasks}")
    print(f"  wall: {wall:.1f} s, {args.tasks / wall:.0f} tasks/s, {wall / args.tasks * 1000:.2f} ms per task "
          f"end to end (median gap between answers {statistics.median(gaps) * 1000:.2f} ms)")
    print(f"  CPU of this process (client and, on a LocalCluster, the scheduler): {cpu:.1f} s, "
          f"{cpu / args.tasks * 1000:.2f} ms per task")
    print(f"  client memory (RSS): start {memory.samples[0] / MIB:.0f} MiB, peak {max(memory.samples) / MIB:.0f} MiB, "
          f"end {memory.samples[-1] / MIB:.0f} MiB")
    return 0 if answered == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
