"""When a function earns a second opinion, and why, in one line a person can act on.

The grade comes from the regions (DESIGN.md, principle 1). But a student's own definition
may differ from the scaffold outside them (code above a START marker, an ``import`` between
regions, a renamed scaffold variable), or the notebook may define the function again. Then
the student's whole definition is graded too; this module decides when, and words the
difference the way the student made it.
"""
from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from dataclasses import dataclass

from grader.notebook.regions import (
    END,
    START,
    FunctionSpan,
    Region,
    essence,
    statement_starts,
)

MAX_QUOTED = 60  # characters of a line quoted in a reason


_DOCSTRING = re.compile(r"^[rRuUbB]?('''|\"\"\"|'|\")")


@dataclass(frozen=True)
class _Item:
    """One line of a definition outside its regions: its code folded, or a marker."""

    key: str  # what is compared: folded code, or "<start>" / "<end>"
    text: str  # the line as written, stripped
    after_regions: int  # how many regions are closed before it
    before_any: bool  # no START marker before it


def outside_items(lines: list[str], span: FunctionSpan, regions: tuple[Region, ...]) -> list[_Item]:
    """The definition's lines outside its region bodies, without comments and docstring."""
    inside = {i for r in regions for i in range(r.start + 1, r.end)}
    body = lines[span.start : span.stop]
    starts = statement_starts(body)
    items: list[_Item] = []
    closed, opened, in_docstring = 0, False, False
    first_statement = True
    for offset, line in enumerate(body):
        i = span.start + offset
        if i in inside:
            continue
        if START.match(line):
            opened = True
            items.append(_Item("<start>", line.strip(), closed, False))
            continue
        if END.match(line):
            closed += 1
            items.append(_Item("<end>", line.strip(), closed, False))
            continue
        if offset > 0 and starts[offset]:
            in_docstring = first_statement and _DOCSTRING.match(line.strip()) is not None
            first_statement = False
        if in_docstring:
            continue
        key = essence(line)
        if key:
            items.append(_Item(key, line.strip(), closed, not opened))
    return items


def explain(scaffold: list[_Item], student: list[_Item], regions: int) -> str:
    """How the student's definition differs from the scaffold's outside the regions, in one
    line; empty when it does not."""
    matcher = difflib.SequenceMatcher(None, [i.key for i in scaffold], [i.key for i in student], autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        ours, theirs = scaffold[a0:a1], student[b0:b1]
        if any(i.key in ("<start>", "<end>") for i in ours + theirs):
            return "the START/END markers are not where the scaffold has them"
        if tag == "insert":
            return _added(theirs[0], regions)
        if tag == "delete":
            return f"the scaffold's `{_quote(ours[0].text)}` is missing from your definition"
        renamed = _renamed(ours, theirs) if len(ours) == len(theirs) else ""
        return renamed or _rebound(ours[0], theirs[0]) or (
            f"your definition has `{_quote(theirs[0].text)}` where the scaffold has `{_quote(ours[0].text)}`")
    return ""


def _rebound(ours: _Item, theirs: _Item) -> str:
    """'renamed' also when the student computes the renamed variable another way."""
    a, b = _ASSIGNED.match(ours.text), _ASSIGNED.match(theirs.text)
    if a and b and a.group(1) != b.group(1):
        return (f"the scaffold's variable `{a.group(1)}` is renamed `{b.group(1)}` (and computed "
                "another way) outside the regions")
    return ""


_ASSIGNED = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)")


def _added(item: _Item, regions: int) -> str:
    """A line the student added outside the regions: an import, or code by a marker."""
    region = "the region" if regions == 1 else "the regions"
    if re.match(r"(import|from)\s", item.text):
        return f"`{_quote(item.text)}` is outside {region}"
    if item.before_any:
        return "your code sits above the START marker" + ("" if regions == 1 else " of region 1")
    if item.after_regions >= regions:
        return "your code sits below the END marker" + ("" if regions == 1 else f" of region {regions}")
    n = item.after_regions
    return f"your code sits between regions {n} and {n + 1} (`{_quote(item.text)}`)"


def _renamed(ours: list[_Item], theirs: list[_Item]) -> str:
    """'the scaffold's `x` is renamed `y`' when the lines differ in names only."""
    pairs: dict[str, str] = {}
    for a, b in zip(ours, theirs):
        ta, tb = _tokens(a.text), _tokens(b.text)
        if ta is None or tb is None or len(ta) != len(tb):
            return ""
        for (kind_a, text_a), (kind_b, text_b) in zip(ta, tb):
            if text_a == text_b:
                continue
            if kind_a != tokenize.NAME or kind_b != tokenize.NAME:
                return ""
            pairs.setdefault(text_a, text_b)
    if not pairs:
        return ""
    old, new = next(iter(pairs.items()))
    return f"the scaffold's variable `{old}` is renamed `{new}` outside the regions"


def _tokens(line: str) -> list[tuple[int, str]] | None:
    try:
        found = tokenize.generate_tokens(io.StringIO(line + "\n").readline)
        return [(t.type, t.string) for t in found
                if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def _quote(text: str) -> str:
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


@dataclass(frozen=True)
class TopImport:
    """An import the student wrote at the top level of a cell, and the names it binds."""

    text: str
    names: frozenset[str]
    where: str


_IMPORT = re.compile(r"(import|from)\s")


def top_level_imports(lines: list[str], describe) -> list[TopImport]:
    """Imports at column 0 of the student's cells (``import math``, ``from math import sqrt``)."""
    found = []
    for i, line in enumerate(lines):
        if not line.startswith(("import", "from")) or not _IMPORT.match(line):
            continue
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            continue
        names = {(a.asname or a.name).split(".")[0] for node in tree.body
                 if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names if a.name != "*"}
        if names:
            found.append(TopImport(line.strip(), frozenset(names), describe(i)))
    return found


def imports_used(imports: list[TopImport], scaffold_imports: frozenset[str], definition: str) -> list[TopImport]:
    """The student's own imports the definition uses that the scaffold does not make
    (``scaffold_imports``: the texts of the scaffold's, from ``import_texts``)."""
    words = set(re.findall(r"[A-Za-z_]\w*", definition))
    return [t for t in imports if t.text not in scaffold_imports and t.names & words]


def import_texts(scaffold_text: str) -> frozenset[str]:
    """The imports the scaffold makes at the top level of its cells, as written."""
    return frozenset(t.text for t in top_level_imports(scaffold_text.split("\n"), str))
