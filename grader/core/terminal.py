"""What the CLI prints: colour only on a terminal (never with NO_COLOR), tables cut to its width.

Plain text by hand rather than a rich-text library: the CLI prints a few short tables and
status words, and scripts read the same lines, so escape codes appear only where a person
sees them.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

STYLES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
NARROWEST = 40  # a table is never cut narrower than this


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour for a terminal; none when NO_COLOR is set (any value) or the output is piped."""
    stream = stream or sys.stdout
    if "NO_COLOR" in os.environ:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, style: str, stream: TextIO | None = None) -> str:
    return f"\x1b[{STYLES[style]}m{text}\x1b[0m" if use_colour(stream) else text


def width(stream: TextIO | None = None) -> int:
    """The terminal's width; when piped, COLUMNS or 100 (lines are cut only for a person)."""
    return max(NARROWEST, shutil.get_terminal_size((100, 24)).columns)


def table(rows: list[tuple[str, ...]], *, columns: int | None = None) -> str:
    """Rows under a header row, aligned; the last column is cut with '…' to fit ``columns``."""
    if not rows:
        return ""
    columns = columns or width()
    count = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(count - 1)]
    lead = sum(widths) + 2 * (count - 1)
    room = max(10, columns - lead)
    lines = []
    for n, row in enumerate(rows):
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + last)
        if n == 0:
            lines.append("-" * min(columns, lead + max(len(r[-1]) for r in rows)))
    return "\n".join(line.rstrip() for line in lines)
