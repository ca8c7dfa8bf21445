"""Read a notebook from disk, or say in one line why it cannot be read."""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_BYTES = 100 * 1024 * 1024


class ReadError(Exception):
    """The file is not a notebook we can grade; ``str(err)`` is the one-line reason."""


@dataclass(frozen=True)
class Snapshot:
    """One read of a submitted file: its bytes (or why it cannot be a notebook) and their SHA-256.

    A class run takes it while planning and hands it to the worker, which parses these bytes
    rather than opening the file again: what is graded is what was hashed.
    """

    sha256: str  # "" when the file could not be opened
    data: bytes | None = None  # None: ``problem`` says why there is nothing to parse
    problem: str = ""

    def notebook(self) -> NotebookNode | ReadError:
        if self.data is None:
            return ReadError(self.problem)
        try:
            return parse_notebook(self.data)
        except ReadError as exc:
            return exc


def snapshot(path: Path, *, max_bytes: int = MAX_BYTES) -> Snapshot:
    """The file's bytes and SHA-256 from one read; a file over ``max_bytes`` is hashed, not kept."""
    digest, kept, size = hashlib.sha256(), [], 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if size <= max_bytes:
                    kept.append(chunk)
    except OSError as exc:
        return Snapshot("", problem=f"cannot open the file: {exc.strerror or exc}")
    if size == 0:
        return Snapshot(digest.hexdigest(), problem="the file is empty")
    if size > max_bytes:
        return Snapshot(digest.hexdigest(), problem=_too_large(size, max_bytes))
    return Snapshot(digest.hexdigest(), b"".join(kept))


def _too_large(size: int, max_bytes: int) -> str:
    return f"the file is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB limit"


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
        raise ReadError(_too_large(size, max_bytes))
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
