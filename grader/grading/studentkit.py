"""The student package: the checker and the released assignments in one installable wheel.

``grader release`` writes it into the released folder; a student installs it with
``%pip install`` from the notebook's first cell. Inside the wheel the released folder
(public checks, notebooks, support modules) sits in the package as ``grader/released/``,
so ``grader.check`` and ``grader check`` find the public checks wherever a notebook is.
"""
from __future__ import annotations

from pathlib import Path

BUNDLE_DIR = "released"  # the released folder's place inside the installed package


def bundled_folder() -> Path | None:
    """The installed student package's copy of the released folder, if there is one."""
    folder = Path(__file__).resolve().parent.parent / BUNDLE_DIR
    return folder if (folder / "checks").is_dir() else None
