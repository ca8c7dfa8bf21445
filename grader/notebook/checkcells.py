"""The cells ``grader release`` adds to a student's notebook: installing the checker, and
running a function's public checks after its cell.

They are the student's tools, not part of the assignment: tagged ``demo`` so grading never
runs them, and recognised by their text (a notebook may lose its tags) so a submission
that still holds them gets no "cells differ" note.
"""
from __future__ import annotations

import re

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from grader.notebook.regions import strip_comment

CHECKER_TAGS = ["demo"]  # grading skips demo cells

_CHECKER_LINE = re.compile(
    r"""\s*(?:import\s+grader
          |grader\.check\(\s*(?:"[A-Za-z_]\w*"|'[A-Za-z_]\w*'|[A-Za-z_]\w*)\s*\)
          |[%!]\s*pip\s+install\s+.*nbautograde.*)\s*;?\s*""",
    re.VERBOSE,
)


def install_cell(wheel_name: str) -> NotebookNode:
    """The first cell: install the student package that sits beside the notebook."""
    return _fixed_id("install-checker", new_code_cell(
        "# Run this cell once: it installs the checker and this assignment's public checks\n"
        "# (the .whl file beside this notebook). After each exercise, its check cell tells you\n"
        "# which public checks pass; grading adds hidden checks on other inputs.\n"
        f"%pip install -q {wheel_name}",
        metadata={"tags": list(CHECKER_TAGS)},
    ))


def check_cell(function: str) -> NotebookNode:
    """After a graded function's cell: its public checks, shown in the notebook."""
    return _fixed_id(f"check-{function}"[:64], new_code_cell(
        f"# Check {function} (run its cell above first)\n"
        "import grader\n"
        f'grader.check("{function}")',
        metadata={"tags": list(CHECKER_TAGS)},
    ))


def _fixed_id(cell_id: str, cell: NotebookNode) -> NotebookNode:
    """nbformat draws random cell ids; a release must be the same on every run."""
    cell["id"] = cell_id
    return cell


def is_checker_cell(source: str) -> bool:
    """A cell holding nothing but installing the checker, importing it and calling it."""
    lines = [strip_comment(line) for line in source.replace("\r\n", "\n").split("\n")]
    code = [line for line in lines if line.strip()]
    return bool(code) and all(_CHECKER_LINE.fullmatch(line) for line in code)
