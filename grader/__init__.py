"""Notebook autograder for the three 'improving deep neural networks' assignments.

Library first: every CLI command is a function here (``grade_class``, ``check_notebook``,
``export``, ``release``), defined in ``grader.api``; ``grade`` grades one notebook and
``check`` runs a function's public checks from inside a notebook. Heavy imports wait until a
function needs them, so ``import grader`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["check", "check_notebook", "export", "feedback", "grade", "grade_class", "release", "__version__"]

if TYPE_CHECKING:
    from grader.api import check_notebook, export, feedback, grade_class, release
    from grader.core.results import NotebookResult


def __getattr__(name: str) -> Any:
    if name in ("grade_class", "check_notebook", "export", "feedback", "release"):
        from grader import api

        return getattr(api, name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")


def check(function, *, folder: str = ".", namespace: dict | None = None):
    """Run ``function``'s public checks (a name, or the function itself) from inside a
    notebook and show the outcome."""
    from grader.grading.selfcheck import caller_namespace
    from grader.grading.selfcheck import check as run

    return run(function, folder=folder, namespace=namespace if namespace is not None else caller_namespace())


def grade(path, *, solutions="solutions", **options) -> NotebookResult:
    """Grade one notebook with every check; returns its typed result (``.to_dict()``: the JSON)."""
    from pathlib import Path

    from grader.grading.catalog import Catalog
    from grader.grading.grade import grade_notebook

    with Catalog(Path(solutions)) as catalog:
        return grade_notebook(Path(path), catalog, **options)
