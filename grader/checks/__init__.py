"""Checks: the vocabulary of a check specification, comparison of outputs, points.

An assignment's spec (``solutions/<Notebook>.checks.py``) imports its words from here:
``from grader.checks import Assignment, Check, Hint, load_module``.
"""
from grader.checks.spec import Assignment, Check, Hint, load_module

__all__ = ["Assignment", "Check", "Hint", "load_module"]
