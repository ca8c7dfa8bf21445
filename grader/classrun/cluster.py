"""A class graded on a Dask cluster: the same per-student task as the local pool, one writer.

``batch.run_class`` uses ``Cluster`` in place of ``pool.Pool`` when ``--cluster ADDRESS`` is
given (``local:N`` starts a ``LocalCluster`` of N worker processes). Both have the same
``run``: items in, ``(item, results, why)`` out as students finish, so the client writes
result files, reports and the gradebook exactly as with the pool.

* **Assignments travel once.** The instructor folder (specs, scaffolds, support files and
  the reference outputs the client has just cached) is packed into one archive whose
  SHA-256 is its version, copied to every worker, and unpacked there once per version.
  Submissions travel as bytes with their task. Workers never read the client's files.
* **The same task.** On each Dask worker, a one-process ``pool.Pool`` grades the student
  (``pool.worker_main``: a warm fork server, a fresh contained kernel per student, the
  same limits and containment report). That process watches the Dask worker, so a worker
  killed with ``kill -9`` takes its kernels with it.
* **Bounded.** At most ``IN_FLIGHT_PER_WORKER`` students per worker are submitted at a
  time, so the client's memory does not grow with the class.
* **Faults.** The scheduler regrades a dead worker's student elsewhere; a student whose
  task killed ``allowed-failures + 1`` workers (two on ``local:N``) or raised twice ends
  as a ``crashed`` result with the reason. A lost scheduler stops the run with
  ``ClusterError``; Ctrl-C cancels every future and stops what workers are grading.

``distributed`` is imported only here, and only when a cluster is asked for.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import multiprocessing
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from grader.classrun.pool import STOP_SIGNAL, Pool
from grader.core.errors import EXIT_SOME_FAILED, UsageError
from grader.core.results import NotebookResult

LOCAL_PREFIX = "local:"
IN_FLIGHT_PER_WORKER = 2
TASK_ATTEMPTS = 2  # a task that raises is sent once more before its student ends as crashed
LOCAL_ALLOWED_FAILURES = 1  # worker deaths a task may cause on local:N before it is given up
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", ".grader-cache"}
CACHE_DIR = ".grader-cache"  # where a worker's catalog finds the shipped reference outputs


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


def start_local_cluster(workers: int):
    """A ``LocalCluster`` of single-threaded worker processes that gives a task up after it
    killed two of them (the scheduler reads the setting when it starts)."""
    distributed = import_distributed()
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)


# --- the client side -----------------------------------------------------------------------------

class Cluster:
    """Grades students on a Dask cluster; the same ``run`` as ``pool.Pool``."""

    def __init__(self, address: str, config: dict, catalog, *, work: Callable[..., dict] | None = None,
                 in_flight_per_worker: int = IN_FLIGHT_PER_WORKER):
        """``work`` runs on the workers (default ``grade_on_worker``; the benchmark's stand-in replaces it)."""
        self.address, self.config, self.catalog = address, config, catalog
        self.work = work or grade_on_worker
        self.in_flight_per_worker = in_flight_per_worker
        self.kind, self.local_workers = parse_address(address)
        self.distributed = import_distributed()
        self.local: Any = None
        self.client: Any = None
        self.bundle: Any = None  # the future of the packed assignments, on every worker
        self.digest = ""
        self.pending: dict[Any, tuple[Any, int]] = {}  # future -> (item, attempt)
        self.size = 0

    def __enter__(self) -> Cluster:
        # Dask logs what it survives (a worker lost, a reconnect), and goes on trying to reconnect
        # after a lost scheduler even once closed; the run says what matters itself, in one line.
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.split(".")[0] == "distributed":  # Dask's config gives some of them levels of their own
                logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
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
        data, self.digest = pack_assignments(self.catalog)
        # A task, not scattered data: should every worker holding it die, the scheduler makes it again.
        self.bundle = self.client.submit(_assignments, data, key=f"grader-assignments-{self.digest[:16]}")
        with contextlib.suppress(Exception):  # only spares the first tasks a fetch; they fetch it anyway
            self.distributed.wait(self.bundle, timeout=60)
            self.client.replicate([self.bundle])
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
                    self.client.run(stop_grading, self.digest, wait=True)  # what workers were grading
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close(timeout=30)
        self.pending = {}

    def run(self, items: list, *, task: Callable[[Any], dict], before: Callable[[Any], None] = lambda item: None,
            tick: Callable[[], None] = lambda: None) -> Iterator[tuple[Any, list[dict] | None, str]]:
        """(item, results, "") per item as it finishes; (item, None, why) when it could not be graded."""
        waiting = list(reversed(items))
        limit = max(2, self.in_flight_per_worker * self.size)
        while waiting or self.pending:
            while waiting and len(self.pending) < limit:
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
        future = self.client.submit(self.work, payload, self.config, self.bundle, self.digest,
                                    pure=False, key=f"grade-{_key_part(payload['student'])}-{os.urandom(4).hex()}")
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
    """The pool's task with each notebook's bytes, read now (a file that cannot be read travels as None)."""
    data: list[bytes | None] = []
    for path in task["notebooks"]:
        try:
            data.append(Path(path).read_bytes())
        except OSError:
            data.append(None)
    return {**task, "data": data}


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


def _assignments(data: bytes) -> bytes:
    return data


def _key_part(student: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in student)[:40]


# --- inside a Dask worker --------------------------------------------------------------------------

_lock = threading.Lock()  # one student at a time per worker process: kernels share its user id
_folders: dict[str, Path] = {}  # assignment version -> where it is unpacked on this worker
_pool: dict[str, Any] = {}  # "key" and "pool": the grading process for the current version and config


def grade_on_worker(task: dict, config: dict, bundle: bytes, digest: str) -> dict:
    """Grade one student here: their notebooks written to a folder of their own, graded by this
    worker's grading process; results carry the client's paths, as if graded there."""
    with _lock:
        folder = _unpacked(bundle, digest)
        scratch = Path(tempfile.mkdtemp(prefix="grader-task-"))
        try:
            local, renames = [], {}
            for index, (path, data) in enumerate(zip(task["notebooks"], task["data"])):
                here = scratch / str(index) / Path(path).name
                here.parent.mkdir()
                if data is not None:
                    here.write_bytes(data)
                local.append(str(here))
                renames[str(here)] = path
            local_task = {"student": task["student"], "notebooks": local, "assignments": task["assignments"]}
            with _children_allowed():  # the pool starts a new grading process after one died
                pool = _grading_pool({**config, "solutions": str(folder), "cache_dir": ""}, digest)
                [(_, results, why)] = list(pool.run([local_task], task=lambda t: t))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"results": None if results is None else _with_paths(results, renames), "why": why}


def _with_paths(results: list[NotebookResult], renames: dict[str, str]) -> list[NotebookResult]:
    """Results naming the client's paths wherever they name this worker's copies; every other
    value keeps its type (30 stays 30), so the result files are the pool's, byte for byte."""
    return [_renamed(r, renames) for r in results]


def _renamed(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, Enum):  # the statuses are str enums: keep them enums
        return value
    if isinstance(value, str):
        for here, there in renames.items():
            value = value.replace(here, there)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _renamed(getattr(value, f.name), renames)
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, (list, tuple)):
        return type(value)(_renamed(v, renames) for v in value)
    if isinstance(value, dict):
        return {k: _renamed(v, renames) for k, v in value.items()}
    return value


def _unpacked(bundle: bytes, digest: str) -> Path:
    if digest in _folders:
        return _folders[digest]
    if hashlib.sha256(bundle).hexdigest() != digest:
        raise ClusterError("the assignments this worker received do not match their version hash")
    folder = Path(tempfile.mkdtemp(prefix="grader-assignments-"))
    atexit.register(shutil.rmtree, folder, True)
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.12, and the security releases before it
            archive.extractall(folder, filter="data")
        else:
            archive.extractall(folder)  # our own archive, its hash just checked
    _folders[digest] = folder
    return folder


def _grading_pool(config: dict, digest: str) -> Pool:
    """This worker's one grading process, started again when the assignments or settings change."""
    key = digest + json.dumps(config, sort_keys=True)
    if _pool.get("key") != key:
        if "pool" in _pool:
            _pool.pop("pool").stop()
        pool = Pool(1, config).__enter__()
        atexit.register(pool.stop)
        _pool.update(key=key, pool=pool)
    return _pool["pool"]


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Dask starts worker processes as daemons, which multiprocessing forbids to have children.
    The grading process watches its parent and kills its kernels when it goes, which is what
    that rule protects; so the rule is lifted while a task starts or replaces that process."""
    me = multiprocessing.current_process()
    daemon = me._config.get("daemon")  # type: ignore[attr-defined]
    me._config["daemon"] = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        me._config["daemon"] = daemon  # type: ignore[attr-defined]


def stop_grading(digest: str) -> bool:
    """Run on every worker when the client stops: the student being graded here is stopped
    (its grading process kills its kernels and exits). Returns whether one was."""
    pool = _pool.get("pool")
    if pool is None or not str(_pool.get("key", "")).startswith(digest):
        return False
    stopped = False
    for worker in list(pool.workers):
        if worker.item is not None and worker.process.is_alive():
            with contextlib.suppress(OSError):
                os.kill(worker.process.pid, STOP_SIGNAL)
                stopped = True
    return stopped
