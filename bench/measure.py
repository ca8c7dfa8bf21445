"""Run a command and measure its whole process tree: wall time, CPU time, peak memory.

CPU seconds: ``os.wait4`` gives the command's own time plus that of every descendant
that was waited for (reaped) inside the tree. A process whose parent ignores SIGCHLD
is reaped by the system instead and its time is lost to ``wait4`` (a kernel fork
server does this); for those, the sampler adds the last CPU time it read, so up to
one sampling interval at the end of each such process can be missing
(``unwaited`` counts them).

Peak memory: the largest sum of RSS over the command and all its live descendants,
sampled every ``interval`` seconds with psutil. Pages shared between processes (a
forked child and its parent) count once per process, so the figure errs on the high
side; a process living less than one interval can be missed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Measurement:
    wall: float  # seconds
    cpu: float  # user + system seconds of the whole tree
    peak_rss: int  # bytes
    returncode: int
    stderr_tail: str = ""
    unwaited: int = 0  # processes whose CPU time came from sampling

    def __add__(self, other: Measurement) -> Measurement:
        """Two commands run one after the other: times add up, the peak is the larger one."""
        return Measurement(self.wall + other.wall, self.cpu + other.cpu, max(self.peak_rss, other.peak_rss),
                           self.returncode or other.returncode, (self.stderr_tail + other.stderr_tail)[-2000:],
                           self.unwaited + other.unwaited)


def ignores_sigchld(pid: int) -> bool:
    """Whether the process reaps nothing itself (its children's times go nowhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGCHLD - 1) & 1)
    except OSError:
        pass
    return False


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, from /proc/<pid>/task/<tid>/children.

    Far cheaper than scanning every process of the machine for its parent, which
    matters when sampling every 50 ms on two cores.
    """
    found, pending = [], [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as fh:
                    children = [int(c) for c in fh.read().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


class TreeSampler:
    """Samples a process tree in a thread: peak summed RSS, CPU of processes nobody waits for."""

    def __init__(self, pid: int, interval: float):
        self.pid, self.interval = pid, interval
        self.peak_rss = 0
        self._unwaited: dict[tuple[int, float], float | None] = {}  # process -> CPU (None: waited for)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def unwaited_cpu(self) -> float:
        return sum(v for v in self._unwaited.values() if v is not None)

    @property
    def unwaited_count(self) -> int:
        return sum(1 for v in self._unwaited.values() if v is not None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        total = 0
        for pid in [self.pid, *descendants(self.pid)]:
            try:
                process = psutil.Process(pid)
                with process.oneshot():
                    total += process.memory_info().rss
                    if process.pid == self.pid:
                        continue
                    key = (process.pid, process.create_time())
                    if key not in self._unwaited:
                        self._unwaited[key] = 0.0 if ignores_sigchld(process.ppid()) else None
                    if self._unwaited[key] is not None:
                        t = process.cpu_times()
                        self._unwaited[key] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:  # exited between listing and reading
                pass
        self.peak_rss = max(self.peak_rss, total)


def run_measured(
    command: list[str], *, stdout: Path, cwd: Path | None = None, env: dict | None = None,
    interval: float = 0.05,
) -> Measurement:
    """Run ``command`` to the end; its stdout goes to the file ``stdout``, stderr beside it."""
    stderr_path = Path(stdout).with_name(Path(stdout).name + ".stderr")
    with open(stdout, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
    with TreeSampler(process.pid, interval) as sampler:
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    cpu = usage.ru_utime + usage.ru_stime + sampler.unwaited_cpu
    return Measurement(wall, cpu, sampler.peak_rss, process.returncode, tail, sampler.unwaited_count)


def short_runs(command: list[str], *, runs: int = 5, cwd: Path | None = None,
               ok: tuple[int, ...] = (0,)) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of ``runs`` runs of a short command (no memory sampling).

    Raises RuntimeError when the command exits with a status not in ``ok``: the time
    of a command that failed says nothing.
    """
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            raise RuntimeError(f"{Path(command[0]).name} {command[1]} exited with status {process.returncode}")
        times.append((time.perf_counter() - started, usage.ru_utime + usage.ru_stime))
    return times
