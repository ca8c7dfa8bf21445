"""Inside a Dask worker: one plugin per class run owns everything the run keeps on the worker.

``cluster.Cluster`` registers a ``GradingPlugin`` when a run starts; Dask sets it up on
every worker (and on every worker that joins or is restarted later) and tears it down when
the run ends or the worker closes. The plugin carries the packed assignments, so they
travel once per worker, and owns:

* **a folder**, ``grader-cluster-*`` in the worker's temporary directory, locked while the
  worker lives (``scratch.held_folder``): the unpacked assignments, each student's
  notebooks, and the grading process's own files all sit inside it. Teardown removes it.
  A worker killed outright leaves it unlocked; its grading process notices and removes it,
  and the next worker set up on that machine sweeps whatever is left;
* **one grading process** (a one-process ``pool.Pool``: a warm fork server, a fresh
  contained kernel per student, the same limits and containment report as the local pool),
  which watches the Dask worker and takes its kernels with it when the worker is killed;
* **a lock**: one student at a time per worker, as the kernels share its user id.

``distributed`` is imported here at the top: this module is imported only when a cluster
is asked for (``cluster.py`` keeps the core path free of Dask).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import multiprocessing
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import IO, Any

from distributed import WorkerPlugin, get_worker

from grader.classrun.pool import STOP_SIGNAL, Pool
from grader.classrun.scratch import CLUSTER_PREFIX, held_folder, sweep_stale
from grader.core.errors import UsageError
from grader.core.results import NotebookResult

TEARDOWN_WAIT_SECONDS = 30.0  # how long teardown waits for a student being graded to be stopped


class BundleMismatch(UsageError):
    """The assignments a worker received are not the ones the client packed."""


class GradingPlugin(WorkerPlugin):
    """What one class run keeps on one Dask worker, from setup to teardown."""

    def __init__(self, name: str, bundle: bytes, digest: str, config: dict):
        self.name, self.bundle, self.digest, self.config = name, bundle, digest, config
        self._reset()

    def _reset(self) -> None:
        self.folder: Path | None = None
        self.assignments: Path | None = None
        self.handle: IO[str] | None = None
        self.pool: Pool | None = None
        self.lock = threading.Lock()

    def __getstate__(self) -> dict:  # what travels: the run's data, never a worker's state
        return {"name": self.name, "bundle": self.bundle, "digest": self.digest, "config": self.config}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def setup(self, worker=None) -> None:
        if hashlib.sha256(self.bundle).hexdigest() != self.digest:
            raise BundleMismatch("the assignments this worker received do not match their version hash")
        sweep_stale(prefix=CLUSTER_PREFIX)  # left by workers killed outright on this machine
        self.folder, self.handle = held_folder(CLUSTER_PREFIX)
        self.assignments = self.folder / "assignments"
        with tarfile.open(fileobj=io.BytesIO(self.bundle), mode="r:gz") as archive:
            if hasattr(tarfile, "data_filter"):  # Python 3.12, and the security releases before it
                archive.extractall(self.assignments, filter="data")
            else:
                archive.extractall(self.assignments)  # our own archive, its hash just checked

    def teardown(self, worker=None) -> None:
        got = self.lock.acquire(timeout=TEARDOWN_WAIT_SECONDS)  # a student being stopped finishes first
        try:
            if self.pool is not None:
                self.pool.stop()
                self.pool = None
            if self.handle is not None:
                self.handle.close()
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = self.assignments = self.handle = None
        finally:
            if got:
                self.lock.release()

    def grade(self, task: dict) -> dict:
        """One student: their notebooks written to a folder of their own, graded by this worker's
        grading process; results carry the client's paths, as if graded there."""
        with self.lock:
            if self.folder is None:
                raise RuntimeError("this worker's grading plugin is not set up (or already torn down)")
            scratch = Path(tempfile.mkdtemp(prefix="t-", dir=self.folder))
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
                    [(_, results, why)] = list(self._pool().run([local_task], task=lambda t: t))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return {"results": None if results is None else with_paths(results, renames), "why": why}

    def _pool(self) -> Pool:
        if self.pool is None:
            assert self.folder is not None and self.assignments is not None
            config = {**self.config, "solutions": str(self.assignments), "cache_dir": "",
                      "scratch": str(self.folder), "owner_folder": str(self.folder)}
            self.pool = Pool(1, config).__enter__()
        return self.pool

    def stop_grading(self) -> bool:
        """Stop the student being graded here (its grading process kills its kernels and exits)."""
        stopped = False
        for process in [w.process for w in (self.pool.workers if self.pool else []) if w.item is not None]:
            with contextlib.suppress(OSError, ValueError):
                if process.is_alive():
                    os.kill(process.pid, STOP_SIGNAL)
                    stopped = True
        return stopped


def grade_on_worker(task: dict, plugin: str) -> dict:
    """The task each student is: graded by this run's plugin on whichever worker runs it."""
    return _plugin(plugin).grade(task)


def stop_grading(plugin: str, dask_worker=None) -> bool:
    """Run on every worker when the client stops early: whether a student was being graded here."""
    found = (dask_worker or get_worker()).plugins.get(plugin)
    return isinstance(found, GradingPlugin) and found.stop_grading()


def _plugin(name: str) -> GradingPlugin:
    found = get_worker().plugins.get(name)
    if not isinstance(found, GradingPlugin):
        raise RuntimeError(f"this worker has no grading plugin {name!r}")
    return found


def with_paths(results: list[NotebookResult], renames: dict[str, str]) -> list[NotebookResult]:
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
