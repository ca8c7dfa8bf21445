"""The run's temporary folder: every worker's files in one place, removed when the run ends.

A class run makes one ``grader-class-*`` folder in the system's temporary directory; each
worker keeps its check inputs and its kernels' working directories in a folder inside it
(see ``pool.worker_main``). The run removes the whole folder when it ends, however it ends
(finished, Ctrl-C, SIGTERM, an error), so a worker killed with ``kill -9`` leaves nothing
behind either. While the run lives it holds a lock on a file inside the folder; a run
that was itself killed with ``kill -9`` leaves its folder unlocked, and the next run
removes it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "grader-class-"
LOCK = ".in-use"
STALE_SECONDS = 60  # younger unlocked folders may belong to a run that is still starting


@contextlib.contextmanager
def run_scratch() -> Iterator[Path]:
    """A fresh temporary folder for one run, removed when the block ends."""
    sweep_stale()
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    os.chmod(folder, 0o711)  # kernels' own users pass through to their working directories
    try:
        with open(folder / LOCK, "w") as handle:
            _lock(handle)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove the folders of runs that were killed outright; returns what was removed."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(PREFIX + "*"):
        try:
            if not folder.is_dir() or folder.stat().st_uid != os.getuid() or \
                    time.time() - folder.stat().st_mtime < STALE_SECONDS:
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
