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
    .venv/bin/python bench/cluster_sim.py --tasks 10000 --workers 2 --separate-scheduler  # the client's memory alone

A LocalCluster's scheduler lives in the client's process, so that process's memory holds
the scheduler's too; ``--separate-scheduler`` starts ``dask scheduler`` and ``dask worker``
as processes of their own, so what is measured is the client's alone (and the scheduler's
resident memory is printed beside it).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def separate_scheduler(workers: int) -> Iterator[tuple[str, int]]:
    """``dask scheduler`` and ``dask worker`` in processes of their own: (address, scheduler pid)."""
    folder = Path(tempfile.mkdtemp(prefix="cluster-sim-"))
    address_file = folder / "scheduler.json"
    dask = [sys.executable, "-m"]
    started = [subprocess.Popen([*dask, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--no-dashboard", "--scheduler-file", str(address_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 120
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        started.append(subprocess.Popen([*dask, "distributed.cli.dask_worker", address, "--nworkers", str(workers),
                                         "--nthreads", "1", "--no-dashboard"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        yield address, started[0].pid
    finally:
        for process in reversed(started):
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        address_file.unlink(missing_ok=True)
        folder.rmdir()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Stand-in tasks through the cluster path on a LocalCluster.")
    p.add_argument("--tasks", type=int, default=10_000, help="students simulated (default 10000)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    p.add_argument("--in-flight", type=int, default=None, metavar="K",
                   help="students submitted at once per worker (default: what a class run uses, "
                        "cluster.IN_FLIGHT_PER_WORKER); larger values measure throughput rather than latency")
    p.add_argument("--notebook", default=str(ROOT / "sample_class" / "ada" / "Optimization_methods.ipynb"),
                   help="the notebook each task carries (default: one of the sample class)")
    p.add_argument("--separate-scheduler", action="store_true",
                   help="start the scheduler and workers as processes of their own, so that this process's memory "
                        "is the client's alone")
    args = p.parse_args(argv)
    if args.tasks < 1 or args.workers < 1:
        p.error("--tasks and --workers must be at least 1")

    from grader.classrun.cluster import IN_FLIGHT_PER_WORKER, Cluster, start_local_cluster
    from grader.grading.catalog import Catalog

    catalog = Catalog(ROOT / "solutions")
    items = [{"student": f"student{i:05d}", "notebooks": [args.notebook], "assignments": [None]}
             for i in range(args.tasks)]
    with contextlib.ExitStack() as stack:
        if args.separate_scheduler:
            address, scheduler_pid = stack.enter_context(separate_scheduler(args.workers))
            where = "a separate scheduler process"
        else:
            local = start_local_cluster(args.workers)
            stack.callback(local.close, timeout=30)
            address, scheduler_pid, where = local.scheduler_address, os.getpid(), "a LocalCluster"
        in_flight = args.in_flight or IN_FLIGHT_PER_WORKER
        with Cluster(address, {}, catalog, work=stand_in, in_flight_per_worker=in_flight) as cluster:
            cluster.client.wait_for_workers(args.workers, timeout=120)
            cluster.size = args.workers
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
            scheduler_rss = _rss(scheduler_pid)
    load = os.getloadavg()[0]
    print(f"{args.tasks} stand-in tasks on {where} with {args.workers} workers, {in_flight} in flight per worker "
          f"({os.cpu_count()} CPUs, load average {load:.1f} at the end)")
    print(f"  answered: {answered} of {args.tasks}")
    print(f"  wall: {wall:.1f} s, {args.tasks / wall:.0f} tasks/s, {wall / args.tasks * 1000:.2f} ms per task "
          f"end to end (median gap between answers {statistics.median(gaps) * 1000:.2f} ms)")
    print(f"  CPU of this process (the client{'' if args.separate_scheduler else ' and the scheduler'}): {cpu:.1f} s, "
          f"{cpu / args.tasks * 1000:.2f} ms per task")
    print(f"  client memory (RSS): start {memory.samples[0] / MIB:.0f} MiB, peak {max(memory.samples) / MIB:.0f} MiB, "
          f"end {memory.samples[-1] / MIB:.0f} MiB")
    if args.separate_scheduler:
        print(f"  scheduler process memory (RSS) at the end: {scheduler_rss / MIB:.0f} MiB")
    return 0 if answered == args.tasks else 1


def _rss(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


if __name__ == "__main__":
    sys.exit(main())
