"""Worker processes that grade one student at a time, and how they stop.

The parent sends a task (a student's key, notebooks and assignments) to an idle worker
and waits on all of them at once. A worker:

* lives in a process group of its own, so a terminal's Ctrl-C reaches only the parent,
  which decides what an interrupt means;
* on ``STOP_SIGNAL`` (or SIGTERM), or when its parent disappears (``kill -9``), kills every
  process it started (Jupyter kernels lead process groups of their own, so each group is
  killed whole) and exits. The parent stops workers with ``STOP_SIGNAL`` because nbclient
  takes over SIGINT and SIGTERM while a notebook runs;
* answers every task with one result per notebook, even when the grader itself fails;
* keeps its temporary files (the check inputs, every kernel's working directory) in one
  folder of its own, inside the run's (``config["scratch"]``), and removes it when it stops;
  if it is killed outright, the parent removes the run's folder with it. When the parent is
  the one killed, the worker also removes ``config["owner_folder"]`` if given (a Dask
  worker's folder, which has no one else left to remove it).

A worker that dies while grading costs only its student; the pool starts a new one.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, NoReturn

from grader.core.results import NotebookResult, NotebookStatus

STOP_SIGNAL = getattr(signal, "SIGUSR1", signal.SIGTERM)


class Pool:
    """``size`` spawned workers; ``run`` hands them tasks and yields answers as they come."""

    def __init__(self, size: int, config: dict):
        self.context = multiprocessing.get_context("spawn")  # no inherited threads, locks or open files
        self.config = config
        self.size = size
        self.workers: list[_Worker] = []

    def __enter__(self) -> Pool:
        with _sigint_blocked():  # until a new worker has left the terminal's process group
            self.workers = [_Worker(self.context, self.config) for _ in range(self.size)]
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def run(self, items: list, *, task: Callable[[Any], dict], before: Callable[[Any], None] = lambda item: None,
            tick: Callable[[], None] = lambda: None) -> Iterator[tuple[Any, list[NotebookResult] | None, str]]:
        """(item, results, "") per item as workers finish; (item, None, why) when its worker died.

        ``before(item)`` runs in the parent just before the item is sent; ``tick()`` about once a second.
        """
        waiting = list(reversed(items))
        while True:
            for worker in self.workers:
                if worker.item is None and waiting:
                    item = waiting.pop()
                    before(item)
                    worker.item = item
                    worker.conn.send(task(item))
            busy = [w for w in self.workers if w.item is not None]
            if not busy:
                return
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
            tick()
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    yield self._collect(worker)

    def _collect(self, worker: _Worker) -> tuple[Any, list[NotebookResult] | None, str]:
        item, worker.item = worker.item, None
        with contextlib.suppress(EOFError, OSError):
            if worker.conn.poll():
                return item, worker.conn.recv(), ""
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        index = self.workers.index(worker)
        with _sigint_blocked():
            self.workers[index] = _Worker(self.context, self.config)
        worker.conn.close()
        return item, None, f"the grading process stopped while grading this student (exit code {code})"

    def stop(self) -> None:
        """Idle workers are told to finish, busy ones to stop (killing their kernels); then make sure."""
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                if worker.process.is_alive():
                    if worker.item is None:
                        worker.conn.send(None)
                    else:
                        os.kill(worker.process.pid, STOP_SIGNAL)
        for worker in self.workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()
        self.workers = []


class _Worker:
    def __init__(self, context, config: dict):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child, config, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.item: Any = None


@contextlib.contextmanager
def _sigint_blocked():
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --- inside a worker ---------------------------------------------------------------------------

def worker_main(conn, config: dict, parent: int) -> None:
    """Grade students sent by the parent until it sends None, goes away, or says stop (SIGTERM)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpgid(0, 0)
    from grader.core.imports import skip_unused_imports

    skip_unused_imports()
    from grader.grading.catalog import Catalog
    from grader.grading.pipeline import PreparedInputs
    from grader.kernel.execute import Options

    scratch = _own_scratch(config.get("scratch"))
    inputs = PreparedInputs()
    # This worker's own fork server, for all its students; stop_worker kills it with the rest.
    server = _fork_server() if Options().fork else None
    catalog = None

    def cleanup() -> None:
        inputs.close()
        if server is not None:
            server.close()
        if catalog is not None:
            catalog.close()
        shutil.rmtree(scratch, ignore_errors=True)

    signal.signal(STOP_SIGNAL, lambda *_: stop_worker(cleanup=cleanup))
    signal.signal(signal.SIGTERM, lambda *_: stop_worker(cleanup=cleanup))
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    owner = config.get("owner_folder")

    def orphaned() -> None:  # the parent was killed outright: nobody else is left to remove its folder
        cleanup()
        if owner:
            shutil.rmtree(owner, ignore_errors=True)

    threading.Thread(target=_watch_parent, args=(parent, orphaned), daemon=True).start()

    try:
        catalog = Catalog(Path(config["solutions"]), cache_dir=Path(config["cache_dir"]) if config["cache_dir"] else None)
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                break
            if task is None:
                break
            results = grade_task(task, catalog, config, inputs, server)
            try:
                conn.send(results)
            except OSError:  # the parent is gone (killed): the watch on it ends this worker
                break
    except Exception:  # a bug of ours: the parent reports the student; the traceback is for us
        traceback.print_exc()
        stop_worker(code=1, cleanup=cleanup)  # its folder and processes go with it, as on any stop
    stop_worker(code=0, cleanup=cleanup)


def _own_scratch(run_scratch: str | None) -> Path:
    """This worker's temporary folder, inside the run's when there is one; every temporary
    file the worker and its helpers make goes there (``tempfile`` and ``TMPDIR``)."""
    base = run_scratch if run_scratch and os.path.isdir(run_scratch) else None
    folder = tempfile.mkdtemp(prefix="w-" if base else "grader-worker-", dir=base)  # short: kernels put sockets below
    os.chmod(folder, 0o711)  # a kernel's own user passes through to its working directory
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder
    return Path(folder)


def grade_task(task: dict, catalog, config: dict, inputs=None, server=None) -> list[NotebookResult]:
    """One student's results; a grader bug costs this student ('crashed' results), not the class.

    ``inputs`` (a ``pipeline.PreparedInputs``) and ``server`` (a ``kernels.ForkServer``) are
    the worker's, kept for all its students.
    """
    from grader.grading.grade import grade_student

    notebooks = [Path(p) for p in task["notebooks"]]
    try:
        return grade_student(notebooks, catalog, student=task["student"], assignments=task["assignments"],
                             fallback=config["fallback"], inputs=inputs, snapshots=task.get("snapshots"),
                             review_policy=config.get("review_policy", "regions"), **_engine_options(config, server))
    except Exception as exc:
        message = f"the grader failed on this student: {type(exc).__name__}: {exc}"
        return [crashed_result(catalog, task["student"], p, slug, message)
                for p, slug in zip(notebooks, task["assignments"])]


def crashed_result(catalog, student: str, path: Path, slug: str | None, message: str) -> NotebookResult:
    """A ``crashed`` result (graded again on the next run), with the assignment when the name tells it."""
    from grader.grading.grade import failed_result

    assignment = catalog.get(slug) if slug else catalog.guess_from_name(Path(path).name)
    source = {"path": str(path), "sha256": ""}
    return failed_result(catalog, student, source, NotebookStatus.CRASHED, message, assignment)


def _engine_options(config: dict, server=None) -> dict:
    """Limits, the folders kernels must not see (the gradebook, the reports), the fork server."""
    from grader.kernel.execute import Options

    return {"limits": config.get("limits") or None,
            "options": Options(hidden=list(config.get("hidden", [])), contain=config.get("contain", True),
                               server=server)}


def _fork_server():
    from grader.kernel.kernels import ForkServer

    return ForkServer()


def _watch_parent(parent: int, cleanup: Callable[[], None]) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    stop_worker(cleanup=cleanup)


def stop_worker(code: int = 1, cleanup: Callable[[], None] = lambda: None) -> NoReturn:
    """Kill every process this worker started, remove its files (``cleanup``), then exit at once."""
    mine = descendants(os.getpid())
    for pid in mine:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
    for pid in mine:
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)  # reaps our own children; the others go to init
    with contextlib.suppress(Exception):
        cleanup()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from Linux's /proc. Elsewhere none are found, and
    kernels stop by themselves once they notice their parent is gone."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()  # the name in parentheses may hold spaces
        if len(fields) > 1 and fields[1].isdigit():
            parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found
