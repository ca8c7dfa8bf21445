"""Run a solution notebook's non-demo cells in-process, without a kernel.

Tests use this to call the reference functions directly: every code cell not
tagged ``demo`` (imports, given code, graded functions) is executed, in order,
in one fresh namespace, which is returned.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def _is_demo(cell) -> bool:
    return "demo" in cell.get("metadata", {}).get("tags", [])


def _without_magics(source: str) -> str:
    """Blank out IPython-only lines (``%magic``, ``!shell``); plain Python cannot run them."""
    lines = source.splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def load_solution_namespace(notebook_path) -> dict:
    """Execute the notebook's untagged code cells and return their global namespace.

    The notebook's folder is put first on ``sys.path`` while the cells run, so
    that ``from nn_helpers import ...`` finds the helper files next to it.
    """
    notebook_path = Path(notebook_path).resolve()
    notebook = nbformat.read(notebook_path, as_version=4)
    namespace: dict = {"__name__": f"solution_{notebook_path.stem}"}
    folder = str(notebook_path.parent)
    sys.path.insert(0, folder)
    try:
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or _is_demo(cell):
                continue
            code = compile(_without_magics(cell.source), f"<{notebook_path.name} cell {index}>", "exec")
            exec(code, namespace)
    finally:
        sys.path.remove(folder)
    return namespace
