"""Read a notebook from disk, or say in one line why it cannot be read."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_BYTES = 100 * 1024 * 1024


class ReadError(Exception):
    """The file is not a notebook we can grade; ``str(err)`` is the one-line reason."""


def read_notebook(path: Path, *, max_bytes: int = MAX_BYTES) -> NotebookNode:
    return parse_notebook(read_submission_bytes(path, max_bytes=max_bytes))


def read_submission_bytes(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, or a ``ReadError`` when it cannot be a notebook by its size alone."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(f"cannot open the file: {exc.strerror or exc}") from None
    if size == 0:
        raise ReadError("the file is empty")
    if size > max_bytes:
        raise ReadError(f"the file is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB limit")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot open the file: {exc.strerror or exc}") from None


def parse_notebook(raw: bytes) -> NotebookNode:
    if b"\x00" in raw[:4096]:
        raise ReadError("this is a binary file, not a notebook")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not UTF-8 text (bad byte at offset {exc.start}); not a notebook") from None
    if not text.strip():
        raise ReadError("the file holds only white space")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _looks_like_python(text):
            raise ReadError("this looks like a Python script, not a notebook (.ipynb is JSON)") from None
        # json's own messages may end in "at" ("Unterminated string starting at"): the place goes apart.
        raise ReadError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise ReadError("valid JSON, but not a notebook: there is no 'cells' list")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise ReadError(f"unsupported notebook format version {major!r} (3 and 4 are read)")
    if major == 4:
        _fill_optional_fields(data)
    try:
        with warnings.catch_warnings():
            # nbformat warns on stderr about fixable things (duplicate ids); they are not errors.
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises many kinds on malformed structure
        raise ReadError(f"the notebook structure is damaged: {str(exc).splitlines()[0][:200]}") from None
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            raise ReadError("the notebook structure is damaged: a cell's source is not text")
    return nb


def _fill_optional_fields(data: dict) -> None:
    """Some editors leave out fields the schema requires but grading never needs.

    Saved outputs and metadata are never graded, so damaged ones (an output that is not
    an object, ``null`` where a list or object belongs) are dropped instead of costing the
    student the notebook.
    """
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    data.setdefault("nbformat_minor", 0)
    for cell in data.get("cells", []) if isinstance(data.get("cells"), list) else []:
        if not isinstance(cell, dict):
            continue
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        cell.setdefault("source", "")
        if cell.get("cell_type") == "code":
            outputs = cell.get("outputs")
            cell["outputs"] = [o for o in outputs if _sound_output(o)] if isinstance(outputs, list) else []
            cell.setdefault("execution_count", None)


def _sound_output(output) -> bool:
    return isinstance(output, dict) and isinstance(output.get("data", {}), dict)


def _looks_like_python(text: str) -> bool:
    head = text.lstrip()[:200]
    return head.startswith(("#", "import ", "from ", "def ", "class ", '"""', "print("))


def code_cells(nb: NotebookNode) -> list[str]:
    return [cell.get("source", "") for cell in nb.cells if cell.get("cell_type") == "code"]


def cell_tags(cell: NotebookNode) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []
