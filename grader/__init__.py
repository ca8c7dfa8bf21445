"""Notebook autograder for the three 'improving deep neural networks' assignments.

Library first: every CLI command is a function here or in a stage module.
Heavy imports wait until a function needs them, so ``import grader`` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["check", "grade", "release", "__version__"]


def check(function, *, folder: str = ".", namespace: dict | None = None):
    """Run ``function``'s public checks (a name, or the function itself) from inside a
    notebook and show the outcome."""
    from grader.grading.selfcheck import caller_namespace, check as run

    return run(function, folder=folder, namespace=namespace if namespace is not None else caller_namespace())


def grade(path, *, solutions="solutions", **options):
    """Grade one notebook with every check; returns the result dict (see docs/results.md)."""
    from pathlib import Path

    from grader.grading.catalog import Catalog
    from grader.grading.grade import grade_notebook

    return grade_notebook(Path(path), Catalog(Path(solutions)), **options)


def release(solutions="solutions", out="assignments"):
    """Build the students' folder from the instructor's."""
    from pathlib import Path

    from grader.grading.release import release as run

    return run(Path(solutions), Path(out))
