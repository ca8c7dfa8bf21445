"""Names and writes on disk that every part of the grader shares."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

READABLE_CHARS = 60  # kept of a name that had to change; the hash after it keeps it unique
PLAIN_CHARS = 80     # a name this short, of safe lower-case characters only, is used as it is
_PLAIN = re.compile(rf"[a-z0-9][a-z0-9_.-]{{0,{PLAIN_CHARS - 1}}}")
_LOOKS_HASHED = re.compile(r"-[0-9a-f]{10}$")
# Names the output folder uses for itself: a student or notebook called so gets a hashed name.
RESERVED = {"index.html", "summary.json", "report.html", "gradebook.sqlite", "gradebook.sqlite.lock",
            "gradebook.sqlite-wal", "gradebook.sqlite-shm"}


def safe_file_name(name: str, *, identity: str | None = None) -> str:
    """A single path component for ``name``: a different one for every name, the same on every run.

    A short lower-case name of letters, digits, ``_``, ``.`` and ``-`` is used as it is
    (``101``, ``ada``, ``jane.doe``). Any other name is cleaned, cut to a readable prefix and
    followed by a hash of the whole name, so names that clean or cut to the same text, or
    differ only in case (one folder on macOS and Windows), still get files of their own:
    ``Jane Doe`` becomes ``Jane_Doe-<10 hex digits>``. With ``identity``, the name is only
    the readable part and the hash is of ``identity`` (for two files of one name).
    """
    name = str(name)
    if identity is None and _PLAIN.fullmatch(name) and not _LOOKS_HASHED.search(name) and not name.endswith(".") \
            and name not in RESERVED:
        return name
    readable = re.sub(r"[^\w.-]+", "_", name).strip("._-")[:READABLE_CHARS].rstrip("._-")
    whole = name if identity is None else str(identity)
    digest = hashlib.sha256(whole.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable or 'name'}-{digest}"


def write_text_atomic(path: Path, text: str, *, newline: str | None = None) -> Path:
    """Write ``path`` whole or not at all: a full disk leaves the old file, never half a new one.

    ``newline=""`` keeps line ends as they are in ``text`` (CSV writes its own ``\r\n``).
    """
    return write_atomic(path, lambda part: part.write_text(text, encoding="utf-8", newline=newline))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    return write_atomic(path, lambda part: part.write_bytes(data))


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(part)`` fills a file beside ``path``, which then replaces ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        write(part)
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path


def sha256_of(path: Path) -> str:
    """The file's SHA-256 in hex, read in chunks; empty when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def format_number(value: float, decimals: int) -> str:
    """At most ``decimals`` decimals and no trailing zeros: 57.5, 30, 0.3333."""
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}".rstrip("0").rstrip(".")
