"""What the CLI prints: colour only on a terminal (never with NO_COLOR), tables that fit its width.

Plain text by hand rather than a rich-text library: the CLI prints a few short tables and
status words, and scripts read the same lines, so escape codes appear only where a person
sees them.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
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


def width(stream: TextIO | None = None) -> int | None:
    """The terminal's width (or COLUMNS); None when piped: scripts get whole lines."""
    stream = stream or sys.stdout
    if "COLUMNS" not in os.environ and not getattr(stream, "isatty", lambda: False)():
        return None
    return max(NARROWEST, shutil.get_terminal_size((100, 24)).columns)


def table(rows: Sequence[tuple[str, ...]], *, columns: int | None = None) -> str:
    """Rows under a header row, aligned; the last column wraps to fit ``columns`` (default:
    the terminal's width; piped, nothing wraps)."""
    if not rows:
        return ""
    columns = columns or width()
    count = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(count - 1)]
    lead = sum(widths) + 2 * (count - 1)
    room = max(20, columns - lead) if columns else None
    lines = []
    for n, row in enumerate(rows):
        head = "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  "
        parts = textwrap.wrap(row[-1], room) if room and len(row[-1]) > room else [row[-1]]
        lines.append(head + parts[0])
        lines += [" " * len(head) + part for part in parts[1:]]
        if n == 0:
            lines.append("-" * min(columns or 10**6, lead + max(len(r[-1]) for r in rows)))
    return "\n".join(line.rstrip() for line in lines)
