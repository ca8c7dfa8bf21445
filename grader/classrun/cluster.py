"""A class graded on a Dask cluster: the same per-student task as the local pool, one writer.

``batch.run_class`` uses ``Cluster`` in place of ``pool.Pool`` when ``--cluster ADDRESS`` is
given (``local:N`` starts a ``LocalCluster`` of N worker processes). Both have the same
``run``: items in, ``(item, results, why)`` out as students finish, so the client writes
result files, reports and the gradebook exactly as with the pool.

* **Assignments travel once.** The instructor folder (specs, scaffolds, support files and
  the reference outputs the client has just cached) is packed into one archive whose
  SHA-256 is its version; it travels inside the run's worker plugin
  (``clusterworker.GradingPlugin``), which Dask sets up once on every worker, and which
  checks the hash and unpacks it there. Submissions travel as bytes with their task.
  Workers never read the client's files.
* **The same task.** On each Dask worker, the plugin's one-process ``pool.Pool`` grades the
  student (``pool.worker_main``: a warm fork server, a fresh contained kernel per student,
  the same limits and containment report). That process watches the Dask worker, so a
  worker killed with ``kill -9`` takes its kernels and its folder with it. The run's end
  tears the plugin down on every worker: its grading process stops, its folder goes.
* **Bounded.** At most ``IN_FLIGHT_PER_WORKER`` students per worker are submitted at a
  time, so the client's memory does not grow with the class; the workers are counted again
  every few seconds, so workers that join later (a SLURM job starting) get students too.
* **Faults.** The scheduler regrades a dead worker's student elsewhere; a student whose
  task killed ``allowed-failures + 1`` workers (two on ``local:N``) or raised twice ends
  as a ``crashed`` result with the reason. A lost scheduler stops the run with
  ``ClusterError``; Ctrl-C cancels every future and stops what workers are grading.

``distributed`` is imported only here and in ``clusterworker``, and only when a cluster is asked for.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grader.classrun.scratch import CLUSTER_PREFIX, sweep_stale
from grader.core.errors import EXIT_SOME_FAILED, UsageError

LOCAL_PREFIX = "local:"
IN_FLIGHT_PER_WORKER = 2
WORKER_COUNT_SECONDS = 5.0  # how often a run counts the cluster's workers again, for how many tasks to keep in flight
TASK_ATTEMPTS = 2  # a task that raises is sent once more before its student ends as crashed
LOCAL_ALLOWED_FAILURES = 1  # worker deaths a task may cause on local:N before it is given up
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", ".grader-cache"}
CACHE_DIR = ".grader-cache"  # where a worker's catalog finds the shipped reference outputs
PLUGIN_PREFIX = "nbautograde-"


class ClusterError(UsageError):
    """The cluster cannot be used (one line, for the user)."""


class SchedulerLost(ClusterError):
    """The scheduler went away mid-run: what was written stays, a rerun grades the rest."""

    exit_code = EXIT_SOME_FAILED


def check_cluster_option(address: str, workers: int | None) -> None:
    """``--cluster``'s usage errors, before anything is read: the address, --workers, Dask itself."""
    parse_address(address)
    if workers is not None:
        raise ClusterError("--workers counts local grading processes; with --cluster the cluster's workers "
                           "grade (local:N sets how many)")
    import_distributed()


def import_distributed():
    """``dask.distributed``, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError('--cluster needs Dask: pip install "nbautograde[cluster]" '
                           '(or: pip install ".[cluster]" in the grader\'s folder)') from None
    return distributed


def parse_address(address: str) -> tuple[str, int]:
    """("local", N) for ``local:N``, else ("scheduler", 0); a bad ``local:`` is a ClusterError."""
    if not address.startswith(LOCAL_PREFIX):
        if not address.strip():
            raise ClusterError("--cluster needs a Dask scheduler address (tcp://host:8786) or local:N")
        return "scheduler", 0
    count = address[len(LOCAL_PREFIX):]
    if not count.isdigit() or int(count) < 1:
        raise ClusterError(f"--cluster {address}: local:N needs a number of workers of at least 1")
    return "local", int(count)


# What a local:N cluster leaves out, measured on 2 cores (docs/benchmark.md): Dask's statistical
# profiler samples the thread of every running task 100 times a second, which for a task that
# waits on its grading process is a steady cost for nothing, and its system monitor polls psutil.
# Dask keeps the last N messages of each connection for its developers; a message that submits
# a student carries their notebooks, so at 1,000 (Dask's default) and many students in flight the
# client held hundreds of MiB of old submissions. Our own connections keep a few.
CLIENT_SETTINGS = {"distributed.admin.low-level-log-length": 20}
LOCAL_SETTINGS = {**CLIENT_SETTINGS,
                  "distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
                  "distributed.worker.profile.enabled": False,
                  "distributed.admin.system-monitor.interval": "2s"}


def start_local_cluster(workers: int):
    """A ``LocalCluster`` of single-threaded worker processes that gives a task up after it
    killed two of them (the scheduler reads the setting when it starts), without Dask's profiler."""
    distributed = import_distributed()
    import dask

    with dask.config.set(LOCAL_SETTINGS):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)


# --- the client side -----------------------------------------------------------------------------

class Cluster:
    """Grades students on a Dask cluster; the same ``run`` as ``pool.Pool``."""

    def __init__(self, address: str, config: dict, catalog, *, work: Callable[..., dict] | None = None,
                 in_flight_per_worker: int = IN_FLIGHT_PER_WORKER):
        """``work(task, plugin_name)`` runs on the workers (default ``clusterworker.grade_on_worker``;
        the benchmark's stand-in replaces it)."""
        from grader.classrun import clusterworker

        self.address, self.config, self.catalog = address, config, catalog
        self.worker_side = clusterworker
        self.work = work or clusterworker.grade_on_worker
        self.in_flight_per_worker = in_flight_per_worker
        self.kind, self.local_workers = parse_address(address)
        self.distributed = import_distributed()
        self.local: Any = None
        self.client: Any = None
        self.plugin = ""  # the name of this run's plugin on the workers, once registered
        self.pending: dict[Any, tuple[Any, int]] = {}  # future -> (item, attempt)
        self.size = 0

    def __enter__(self) -> Cluster:
        # Dask logs what it survives (a worker lost, a reconnect), and goes on trying to reconnect
        # after a lost scheduler even once closed; the run says what matters itself, in one line.
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.split(".")[0] == "distributed":  # Dask's config gives some of them levels of their own
                logging.getLogger(name).setLevel(logging.CRITICAL)
        import dask

        try:
            with dask.config.set(CLIENT_SETTINGS):  # read when the client's connections are made
                if self.kind == "local":
                    self.local = start_local_cluster(self.local_workers)
                    self.client = self.distributed.Client(self.local)
                else:
                    self.client = self.distributed.Client(self.address, timeout=30)
        except (OSError, TimeoutError) as exc:
            self.__exit__()
            raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        self.size = len(self.client.scheduler_info().get("workers", {}))
        if not self.size:
            self.client.wait_for_workers(1, timeout=60)
            self.size = len(self.client.scheduler_info().get("workers", {}))
        self._check_workers()
        data, digest = pack_assignments(self.catalog)
        name = f"{PLUGIN_PREFIX}{digest[:12]}-{os.urandom(4).hex()}"  # one per run: runs may share workers
        config = {k: v for k, v in self.config.items() if k != "scratch"}  # the client's folder, not theirs
        self.plugin = name  # before it is sent: the scheduler keeps even a plugin that failed, until removed
        try:
            self.client.register_plugin(self.worker_side.GradingPlugin(name, data, digest, config), name=name)
        except Exception as exc:
            self.__exit__()
            raise ClusterError(f"the Dask workers could not prepare the assignments ({type(exc).__name__}: "
                               f"{exc})") from None
        return self

    def _check_workers(self) -> None:
        """Every worker must grade as this client would: the same grader version."""
        from grader import __version__

        try:
            found = self.client.run(_grader_version)
        except Exception as exc:  # the function is sent by reference: a worker without the grader fails here
            self.__exit__()
            raise ClusterError(f"the Dask workers cannot run the grader ({type(exc).__name__}: {exc}); "
                               'install nbautograde with its cluster extra on every worker') from None
        other = {address: version for address, version in found.items() if version != __version__}
        if other:
            address, version = sorted(other.items())[0]
            self.__exit__()
            raise ClusterError(f"the Dask worker at {address} has grader {version}, this one is {__version__}: "
                               f"install the same version on every worker ({len(other)} of {len(found)} differ)")

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                if self.pending and self.client.status == "running":
                    self.client.cancel(list(self.pending), force=True)
                    self.client.run(self.worker_side.stop_grading, self.plugin, wait=True)
            with contextlib.suppress(Exception):
                if self.plugin and self.client.status == "running":  # each worker's teardown: process, folder
                    self.client.unregister_worker_plugin(self.plugin)
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close(timeout=30)
            # Every worker of this run is gone now: what a killed one left unlocked goes too.
            sweep_stale(prefix=CLUSTER_PREFIX)
        self.pending, self.plugin = {}, ""

    def run(self, items: list, *, task: Callable[[Any], dict], before: Callable[[Any], None] = lambda item: None,
            tick: Callable[[], None] = lambda: None) -> Iterator[tuple[Any, list[dict] | None, str]]:
        """(item, results, "") per item as it finishes; (item, None, why) when it could not be graded."""
        waiting = list(reversed(items))
        counted = time.monotonic()
        while waiting or self.pending:
            if time.monotonic() - counted > WORKER_COUNT_SECONDS:  # workers join (jobqueue, adaptive) and leave
                counted = time.monotonic()
                with contextlib.suppress(Exception):
                    self.size = len(self.client.scheduler_info().get("workers", {})) or self.size
            while waiting and len(self.pending) < max(2, self.in_flight_per_worker * self.size):
                item = waiting.pop()
                before(item)
                self._submit(item, task, 1)
            done = self._wait_some()
            tick()
            for future in done:
                item, attempt = self.pending.pop(future)
                answer = self._answer(future, item, attempt)
                if answer is None:
                    self._submit(item, task, attempt + 1)
                else:
                    yield answer

    def _submit(self, item, task: Callable[[Any], dict], attempt: int) -> None:
        payload = travelling_task(task(item))
        key = f"grade-{_key_part(payload['student'])}-{os.urandom(4).hex()}"
        future = self.client.submit(self.work, payload, self.plugin, pure=False, key=key)
        self.pending[future] = (item, attempt)

    def _wait_some(self) -> list:
        try:
            done, _ = self.distributed.wait(list(self.pending), timeout=1.0, return_when="FIRST_COMPLETED")
        except self.distributed.TimeoutError:
            return []
        except Exception as exc:  # futures cancelled: the connection to the scheduler is gone
            if any(f.status == "cancelled" for f in self.pending):
                return [f for f in self.pending if f.status == "cancelled"]
            raise self._lost() from exc
        return list(done)

    def _lost(self) -> SchedulerLost:
        return SchedulerLost(f"lost the Dask scheduler at {self.address}; every student finished so far is "
                             "kept: run the same command again to grade the rest")

    def _answer(self, future, item, attempt: int) -> tuple[Any, list[dict] | None, str] | None:
        """What came back for ``item``; None when it deserves another attempt."""
        if future.status == "cancelled":
            raise self._lost()
        if future.status == "error":
            exc = future.exception()
            if isinstance(exc, self.distributed.KilledWorker):
                return item, None, ("the cluster's workers died while grading this student, "
                                    "more often than the scheduler allows; graded again on the next run")
            if attempt < TASK_ATTEMPTS:
                return None
            return item, None, f"grading failed on the cluster {attempt} times: {type(exc).__name__}: {exc}"
        answer = future.result()
        return item, answer["results"], answer["why"]


def travelling_task(task: dict) -> dict:
    """The pool's task with each notebook's bytes: those planning read (``snapshots``), else read
    now (a file that cannot be read travels as None)."""
    snapshots = task.get("snapshots") or [None] * len(task["notebooks"])
    data: list[bytes | None] = []
    for path, read in zip(task["notebooks"], snapshots):
        if read is not None and read.data is not None:
            data.append(read.data)
            continue
        try:
            data.append(Path(path).read_bytes())
        except OSError:
            data.append(None)
    return {**{k: v for k, v in task.items() if k != "snapshots"}, "data": data}


def pack_assignments(catalog) -> tuple[bytes, str]:
    """The instructor folder as one reproducible archive, and its SHA-256: what each worker
    needs to grade (specs, scaffolds, support files, the current reference outputs)."""
    folder = Path(catalog.folder)
    cache = Path(catalog.cache_dir) if catalog.cache_dir else folder / CACHE_DIR
    members: list[tuple[str, Path]] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not SKIPPED_DIRS.intersection(relative.parts[:-1]):
            members.append((relative.as_posix(), path))
    for assignment in catalog.assignments:
        stored = cache / f"{assignment.slug}-{catalog.version(assignment)}.npz"
        if stored.is_file():
            members.append((f"{CACHE_DIR}/{stored.name}", stored))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed:  # no clock in the bytes: one hash per content
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, path in members:
                info = tarfile.TarInfo(name)
                data = path.read_bytes()
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def _grader_version() -> str:
    from grader import __version__

    return __version__


def _key_part(student: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in student)[:40]
