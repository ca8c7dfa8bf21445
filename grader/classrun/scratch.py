"""The run's temporary folder: every worker's files in one place, removed when the run ends.

A class run makes one ``grader-class-*`` folder in the system's temporary directory; each
worker keeps its check inputs and its kernels' working directories in a folder inside it
(see ``pool.worker_main``). The run removes the whole folder when it ends, however it ends
(finished, Ctrl-C, SIGTERM, an error), so a worker killed with ``kill -9`` leaves nothing
behind either. While the run lives it holds a lock on a file inside the folder; a run
that was itself killed with ``kill -9`` leaves its folder unlocked, and the next run
removes it at once (the folder is locked before it gets its visible name, ``held_folder``).

A Dask worker keeps its files the same way, in a ``grader-cluster-*`` folder of its own
(``held_folder``): a worker killed outright leaves it unlocked, and the next worker to
start on that machine, or the client that ran a ``local:N`` cluster, removes it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PREFIX = "grader-class-"
CLUSTER_PREFIX = "grader-cluster-"  # a Dask worker's folder (classrun.clusterworker)
LOCK = ".in-use"


@contextlib.contextmanager
def run_scratch() -> Iterator[Path]:
    """A fresh temporary folder for one run, removed when the block ends."""
    sweep_stale()
    folder, handle = held_folder(PREFIX)
    try:
        with handle:
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def held_folder(prefix: str) -> tuple[Path, IO[str]]:
    """A fresh folder in the temporary directory whose lock is held until the handle is closed.

    It is made and locked under a hidden name, then renamed: a folder under its visible name
    is always locked while its owner lives, so sweeping it needs no grace period.
    """
    for _ in range(10):
        hidden = Path(tempfile.mkdtemp(prefix="." + prefix))
        os.chmod(hidden, 0o711)  # kernels' own users pass through to their working directories
        handle = open(hidden / LOCK, "w")
        _lock(handle)
        folder = hidden.with_name(hidden.name[1:])
        try:
            os.rename(hidden, folder)  # fails rather than replace: the visible one holds its lock file
        except OSError:
            handle.close()
            shutil.rmtree(hidden, ignore_errors=True)
            continue
        return folder, handle
    raise OSError(f"could not make a {prefix}* folder in {tempfile.gettempdir()}")


def sweep_stale(parent: Path | None = None, *, prefix: str = PREFIX) -> list[Path]:
    """Remove the unlocked folders of owners that were killed outright; returns what was removed.

    Every such folder is locked before it has its visible name (``held_folder``), so an unlocked
    one is never an owner's that is still starting.
    """
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(prefix + "*"):
        try:
            if not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            with open(folder / LOCK, "a") as handle:
                if not _lock(handle, wait=False):
                    continue  # a live run's
        except OSError:  # no lock file: not one of ours as far as we can tell, or just removed
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _lock(handle, wait: bool = True) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no sweeping of killed runs' folders
        return wait
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True
