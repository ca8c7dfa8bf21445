"""Find graded functions and the student's regions inside them.

Works on text, not on the AST, because a student's code may not parse.
A region is identified by the graded function that encloses it and its
order there (DESIGN.md, principle 2), never by cell position.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Callable

START = re.compile(r"^\s*#+\s*(start\s+code\s+here|your\s+code\s+starts\s+here)\b", re.I)
END = re.compile(r"^\s*#+\s*(end\s+code\s+here|your\s+code\s+ends\s+here)\b", re.I)
TAB_WIDTH = 8  # what Python itself assumes for a tab


def normalise_source(text: str) -> str:
    """CRLF and CR to LF, tabs in indentation expanded the way Python reads them."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = []
    for line in lines:
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        out.append(indent.expandtabs(TAB_WIDTH) + body)
    return "\n".join(out)


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


@dataclass(frozen=True)
class Region:
    index: int  # 1-based order inside the function
    start: int  # line number (0-based, within the text searched) of the START marker
    end: int  # line number of the END marker
    indent: int  # indentation of the START marker line
    body: str  # text between the markers, dedented to column 0


@dataclass(frozen=True)
class FunctionSpan:
    name: str
    start: int  # line of "def"
    stop: int  # one past the last line of the body
    indent: int


@dataclass(frozen=True)
class Extraction:
    """What was found for one graded function in one text."""

    name: str
    span: FunctionSpan | None
    regions: tuple[Region, ...]
    error: str = ""  # region problems, with where they are

    @property
    def found(self) -> bool:
        return self.span is not None


def find_functions(lines: list[str], name: str) -> list[FunctionSpan]:
    """Every definition of ``name`` in the text, with where its body ends."""
    pattern = re.compile(rf"^(\s*)(async\s+)?def\s+{re.escape(name)}\s*\(")
    spans = []
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        stop = i + 1
        # The body runs on while code lines are indented deeper than the def; comment
        # lines and lines inside a triple-quoted string never end it (students drift
        # markers and docstrings to column 0).
        in_string = _open_string(lines[i], None)
        for j in range(i + 1, len(lines)):
            if in_string is None and is_code(lines[j]) and indent_of(lines[j]) <= indent:
                break
            in_string = _open_string(lines[j], in_string)
            stop = j + 1
        while stop > i + 1 and not lines[stop - 1].strip():
            stop -= 1
        spans.append(FunctionSpan(name, i, stop, indent))
    return spans


def _open_string(line: str, quote: str | None) -> str | None:
    """Which triple quote is still open after ``line``, given the one open before it."""
    i = 0
    while i < len(line):
        if quote is not None:
            end = line.find(quote, i)
            if end < 0:
                return quote
            quote, i = None, end + 3
            continue
        char = line[i]
        if char == "#":
            return None
        if line.startswith(('"""', "'''"), i):
            quote, i = line[i : i + 3], i + 3
        elif char in "\"'":
            end = line.find(char, i + 1)
            i = len(line) if end < 0 else end + 1
        else:
            i += 1
    return quote


def strip_comment(line: str) -> str:
    """The line without its trailing comment; a # inside a string literal is kept."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def dedent_block(lines: list[str]) -> str:
    code_indents = [indent_of(l) for l in lines if l.strip()]
    cut = min(code_indents, default=0)
    return "\n".join(l[cut:] if l.strip() else "" for l in lines).strip("\n")


def _line_number(i: int) -> str:
    return f"line {i + 1}"


def find_regions(
    lines: list[str], span: FunctionSpan, describe: Callable[[int], str] = _line_number
) -> tuple[tuple[Region, ...], str]:
    """Pair START/END markers inside a function; report the first problem found."""
    regions: list[Region] = []
    open_at: int | None = None
    for i in range(span.start, span.stop):
        line = lines[i]
        if START.match(line):
            if open_at is not None:
                return tuple(regions), (
                    f"a region opened at {describe(open_at)} is not closed before "
                    f"another opens at {describe(i)} (nested or missing END marker)"
                )
            open_at = i
        elif END.match(line):
            if open_at is None:
                return tuple(regions), f"an END marker at {describe(i)} has no START marker before it"
            body = dedent_block(lines[open_at + 1 : i])
            regions.append(Region(len(regions) + 1, open_at, i, indent_of(lines[open_at]), body))
            open_at = None
    if open_at is not None:
        return tuple(regions), f"the region opened at {describe(open_at)} is never closed"
    return tuple(regions), ""


def extract(
    text: str, name: str, expected_regions: int | None = None, describe: Callable[[int], str] = _line_number
) -> Extraction:
    """The regions of graded function ``name`` in ``text`` (already normalised)."""
    lines = text.split("\n")
    spans = find_functions(lines, name)
    if not spans:
        return Extraction(name, None, ())
    # A function defined twice: the last definition is the one Python would keep.
    span = spans[-1]
    regions, error = find_regions(lines, span, describe)
    if not error and expected_regions is not None and regions and len(regions) != expected_regions:
        where = "; ".join(describe(r.start) for r in regions)
        error = (
            f"found {len(regions)} marked regions ({where}), "
            f"expected {expected_regions}: markers duplicated or deleted"
        )
    return Extraction(name, span, regions, error)


def function_source(text: str, span: FunctionSpan) -> str:
    lines = text.split("\n")
    return dedent_block(lines[span.start : span.stop])


# --- placeholders -------------------------------------------------------------------

def placeholder_for(body: str) -> str:
    """The course-style stub for a reference region: every assignment becomes ``target = None``.

    Comments are kept (they are hints), every other statement is dropped.
    """
    tree = ast.parse(body)
    lines = body.split("\n")
    out: list[str] = []
    kept_comment_lines = {
        i for i, line in enumerate(lines) if line.strip().startswith("#")
    }
    statement_lines: dict[int, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            target = " = ".join(ast.get_source_segment(body, t) or "" for t in node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            target = ast.get_source_segment(body, node.target) or ""
        else:
            continue
        statement_lines[node.lineno - 1] = f"{target} = None"
    for i, line in enumerate(lines):
        if i in kept_comment_lines:
            out.append(line.strip())
        elif i in statement_lines:
            out.append(statement_lines[i])
    return "\n".join(out)


def essence(body: str) -> str:
    """Code with comments and blank lines removed, spacing folded: for 'untouched?' tests."""
    kept = []
    for line in body.split("\n"):
        code = re.sub(r"\s+", "", strip_comment(line))
        if code:
            kept.append(code)
    return "\n".join(kept)


def is_untouched(body: str, placeholder: str) -> bool:
    """A region left as released (or emptied, or just ``pass``) was not attempted.

    "As released" includes any release's stubs, not only ours: a region whose every
    statement assigns ``None`` is what the original course shipped, however it was quoted.
    """
    got = essence(body)
    return got in ("", "pass", essence(placeholder)) or _only_none_stubs(body)


def _only_none_stubs(body: str) -> bool:
    try:
        statements = ast.parse(body).body
    except SyntaxError:
        return False
    return bool(statements) and all(
        isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant) and s.value.value is None
        for s in statements
    )


# --- the context a region was written in ---------------------------------------------
#
# The original course's revised edition counts some loops differently from our scaffold
# (``for l in range(1, L + 1)`` with keys ``str(l)`` where we write ``range(L)`` and
# ``str(l + 1)``) and names aliases outside its regions (``inc = mini_batch_size``).
# A region written there is honest work that would break in our scaffold; these helpers
# find what it needs. They read the student's text outside the regions only to learn
# those two things, never to run it.

FOR_RANGE = re.compile(r"^\s*for\s+([A-Za-z_]\w*)\s+in\s+range\((.*)\)\s*:\s*$")
ALIAS = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*([A-Za-z_]\w*)\s*$")


def body_indent(lines: list[str], region: Region) -> int:
    """Indentation of the region's first code line; the marker's when the region is empty."""
    for line in lines[region.start + 1 : region.end]:
        if is_code(line):
            return indent_of(line)
    return region.indent


def enclosing_loop(lines: list[str], span: FunctionSpan, region: Region) -> str:
    """The ``for`` header the region's code sits in, without its comment; "" when none."""
    depth = body_indent(lines, region)
    for i in range(region.start - 1, span.start, -1):
        line = lines[i]
        if is_code(line) and indent_of(line) < depth:
            header = strip_comment(line).rstrip()
            return header.strip() if header.lstrip().startswith("for ") else ""
    return ""


def _split_range(header: str) -> tuple[str, ast.expr, ast.expr] | None:
    """``for v in range(a, b):`` → (v, a, b); None for any other loop (steps included)."""
    match = FOR_RANGE.match(header)
    if not match:
        return None
    try:
        call = ast.parse(f"range({match.group(2)})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or call.keywords or not 1 <= len(call.args) <= 2:
        return None
    start = call.args[0] if len(call.args) == 2 else ast.Constant(0)
    return match.group(1), start, call.args[-1]


def _split_constant(node: ast.expr) -> tuple[str, int]:
    """An expression as (its non-constant part, integer added to it): ``L + 1`` → ("L", 1)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return "", node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        right = node.right
        if isinstance(right, ast.Constant) and type(right.value) is int:
            rest, constant = _split_constant(node.left)
            return rest, constant + (right.value if isinstance(node.op, ast.Add) else -right.value)
    return ast.dump(node), 0


def loop_offset(written_for: str, runs_in: str) -> int:
    """How much larger the loop variable is in ``written_for`` than in ``runs_in``, when both
    loops count the same number of steps with the same variable; 0 otherwise.

    ``loop_offset("for l in range(1, L + 1):", "for l in range(L):") == 1``.
    """
    mine, ours = _split_range(written_for), _split_range(runs_in)
    if mine is None or ours is None or mine[0] != ours[0]:
        return 0
    (my_start, my_first), (our_start, our_first), (my_stop, my_last), (our_stop, our_last) = (
        _split_constant(e) for e in (mine[1], ours[1], mine[2], ours[2]))
    if my_start or our_start or my_stop != our_stop:  # starts must be numbers, stops the same expression
        return 0
    shift = my_first - our_first
    return shift if my_last - our_last == shift else 0


def loop_variable(header: str) -> str:
    match = FOR_RANGE.match(header)
    return match.group(1) if match else ""


def shifted(body: str, variable: str, shift: int) -> str:
    """The region's code run with the loop variable as its own loop counted it, then restored."""
    return (f"{variable} = {variable} + {shift}  # counted as in the loop this region was written for\n"
            f"{body}\n{variable} = {variable} - {shift}")


def aliases_outside(lines: list[str], span: FunctionSpan, regions: tuple[Region, ...]) -> dict[str, str]:
    """Plain ``name = other_name`` lines of a function outside its regions: {name: other_name}."""
    inside = {i for r in regions for i in range(r.start, r.end + 1)}
    found = {}
    for i in range(span.start + 1, span.stop):
        match = ALIAS.match(strip_comment(lines[i]))
        if i not in inside and match:
            found[match.group(1)] = match.group(2)
    return found


def names_mentioned(code: str) -> set[str]:
    """Identifiers a piece of code mentions (comments and strings aside); empty if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def names_bound(function_text: str) -> set[str]:
    """Parameters and assigned names of a function's source."""
    try:
        tree = ast.parse(function_text)
    except SyntaxError:
        return set()
    bound = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
             for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg) if a is not None}
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return bound
