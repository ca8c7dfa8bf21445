"""Find graded functions and the student's regions inside them.

Works on text, not on the AST, because a student's code may not parse.
A region is identified by the graded function that encloses it and its
order there (DESIGN.md, principle 2), never by cell position.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

START = re.compile(r"^\s*#+\s*(start\s+code\s+here|your\s+code\s+starts\s+here)\b", re.I)
END = re.compile(r"^\s*#+\s*(end\s+code\s+here|your\s+code\s+ends\s+here)\b", re.I)
TAB_WIDTH = 8  # what Python itself assumes for a tab


def normalise_source(text: str) -> str:
    """CRLF and CR to LF, tabs in indentation expanded the way Python reads them."""
    if "\r" not in text and "\t" not in text:  # nothing to change
        return text
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
class Definition:
    """One definition of a graded function in the student's text, and the state of its markers."""

    span: FunctionSpan
    regions: tuple[Region, ...]
    problem: str  # what is wrong with its markers, with where; "" when nothing (or none are left)
    where: str  # where the def line is, for messages
    source: str  # the whole definition, dedented

    @property
    def marked(self) -> bool:
        """Its markers are all there and pair up as released: its regions can be graded."""
        return bool(self.regions) and not self.problem

    @property
    def state(self) -> str:
        """Its markers in a few words, for notes."""
        if self.marked:
            return "it keeps its START/END markers"
        if self.problem:
            return f"its markers are broken: {self.problem}"
        return "it has no START/END markers"


@dataclass(frozen=True)
class Extraction:
    """What was found for one graded function in one text: every definition, and the one graded.

    The graded definition is the last one that keeps its markers; when none does, the last
    one (the one Python keeps), whose whole definition is then the only thing left to grade.
    """

    name: str
    definitions: tuple[Definition, ...] = ()
    graded: int = -1  # index into definitions; -1 when the function is not defined

    @property
    def found(self) -> bool:
        return bool(self.definitions)

    @property
    def chosen(self) -> Definition | None:
        return self.definitions[self.graded] if self.definitions else None

    @property
    def span(self) -> FunctionSpan | None:
        return self.chosen.span if self.chosen else None

    @property
    def regions(self) -> tuple[Region, ...]:
        return self.chosen.regions if self.chosen else ()

    @property
    def error(self) -> str:
        """Region problems of the graded definition, with where they are."""
        return self.chosen.problem if self.chosen else ""

    def ignored(self) -> list[Definition]:
        """The definitions that were not graded, in notebook order."""
        return [d for i, d in enumerate(self.definitions) if i != self.graded]


def find_functions(lines: list[str], name: str) -> list[FunctionSpan]:
    """Every definition of ``name`` in the text, with where its body ends."""
    return [span for span, _ in _scanned_functions(lines, name, keep_scan=False)]


Scan = tuple[list[bool], list[bool]]  # _scan's answer for a definition's lines


def _scanned_functions(lines: list[str], name: str, *, keep_scan: bool) -> list[tuple[FunctionSpan, Scan | None]]:
    """``find_functions``, each span with ``_scan`` of its lines when ``keep_scan`` (the reading
    that finds where a body ends is that scan, so it is kept rather than done again)."""
    pattern = re.compile(rf"^(\s*)(async\s+)?def\s+{re.escape(name)}\s*\(")
    found: list[tuple[FunctionSpan, Scan | None]] = []
    for i, line in enumerate(lines):
        match = pattern.match(line) if name in line else None
        if not match:
            continue
        indent = len(match.group(1))
        stop = i + 1
        starts, fresh = [is_code(line)], [True]  # nothing is open before the def line
        # The body runs on while statements are indented deeper than the def; comment
        # lines and lines continuing a bracket or a string never end it (students drift
        # markers and docstrings to column 0). Read from the def on, so that an unclosed
        # string elsewhere cannot hide the function.
        state = _Open().after(line)
        for j in range(i + 1, len(lines)):
            if state.closed and is_code(lines[j]) and indent_of(lines[j]) <= indent:
                break
            if keep_scan:
                starts.append(state.closed and is_code(lines[j]))
                fresh.append(state == _FRESH)
            state = state.after(lines[j])
            stop = j + 1
        while stop > i + 1 and not lines[stop - 1].strip():
            stop -= 1
        scan = (starts[: stop - i], fresh[: stop - i]) if keep_scan else None
        found.append((FunctionSpan(name, i, stop, indent), scan))
    return found


def statement_starts(lines: list[str]) -> list[bool]:
    """For each line, whether it begins a statement: code that does not continue an open
    bracket, string or backslash of the lines before it. Comments and blank lines do not."""
    return _scan(lines)[0]


def _scan(lines: list[str]) -> Scan:
    """``statement_starts``, and for each line whether nothing at all is open before it (then
    the starts of the lines from there on are those of a scan that begins there)."""
    starts, fresh = [], []
    state = _Open()
    for line in lines:
        starts.append(state.closed and is_code(line))
        fresh.append(state == _FRESH)
        state = state.after(line)
    return starts, fresh


@dataclass(frozen=True)
class _Open:
    """What is still open at the end of a line: brackets, a triple-quoted string, a backslash."""

    depth: int = 0
    quote: str | None = None
    backslash: bool = False

    @property
    def closed(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.backslash

    def after(self, line: str) -> _Open:
        # Jumps from one character that matters to the next (most lines hold few or none).
        depth, i = self.depth, 0
        quote: str | None = self.quote
        end = len(line)
        while True:
            if quote is not None:  # inside a string: look for its end, skipping escapes
                found = (_IN_DOUBLE_QUOTES if quote[0] == '"' else _IN_SINGLE_QUOTES).search(line, i)
                if found is None:
                    break
                i = found.start()
                if line[i] == "\\":
                    i += 2
                elif line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                else:
                    i += 1
                continue
            found = _OUTSIDE_STRING.search(line, i)
            if found is None:
                break
            i = found.start()
            char = line[i]
            if char == "#":
                end = i  # the rest is a comment
                break
            if line.startswith(('"""', "'''"), i):
                quote, i = line[i : i + 3], i + 3
                continue
            if char in "\"'":
                quote = char
            elif char in "([{":
                depth += 1
            else:
                depth = max(0, depth - 1)
            i += 1
        if quote is not None and len(quote) == 1:
            quote = None  # a one-line string left open is a syntax error, not a continuation
        backslash = quote is None and line[:end].rstrip().endswith("\\")
        return _Open(depth, quote, backslash)


_FRESH = _Open()  # nothing open

# The characters _Open.after stops at: outside a string, and inside one opened by each quote.
_OUTSIDE_STRING = re.compile(r"""[#"'()\[\]{}]""")
_IN_DOUBLE_QUOTES = re.compile(r'["\\]')
_IN_SINGLE_QUOTES = re.compile(r"['\\]")


def strip_comment(line: str) -> str:
    """The line without its trailing comment; a # inside a string literal is kept."""
    first = line.find("#")
    if first < 0:
        return line
    if "'" not in line[:first] and '"' not in line[:first]:  # no string before it: it starts the comment
        return line[:first]
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


def dedent_block(lines: list[str], starts: list[bool] | None = None) -> str:
    """The lines moved left by the indentation of their least indented statement.

    Only statements set the cut: a comment (``# Step 2`` at the function's depth), a blank
    line or a line continuing a bracket may sit further left, and is moved left only as
    far as it goes, never cut into. ``starts``: ``statement_starts(lines)``, when the caller has it.
    """
    starts = statement_starts(lines) if starts is None else starts
    indents = [indent_of(line) for line, start in zip(lines, starts) if start]
    cut = min(indents or [indent_of(line) for line in lines if line.strip()] or [0])
    kept = [line[min(cut, indent_of(line)):] if line.strip() else "" for line in lines]
    return "\n".join(kept).strip("\n")


def _line_number(i: int) -> str:
    return f"line {i + 1}"


def find_regions(
    lines: list[str], span: FunctionSpan, describe: Callable[[int], str] = _line_number, *, texts: bool = True,
    scan: Scan | None = None,
) -> tuple[tuple[Region, ...], str]:
    """Pair START/END markers inside a function; report the first problem found.
    ``texts=False`` leaves every region's body empty (for callers that need only where they are);
    ``scan``: ``_scan`` of the function's lines, when the caller has it."""
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
            body = _region_body(lines, span, open_at + 1, i, scan) if texts else ""
            regions.append(Region(len(regions) + 1, open_at, i, indent_of(lines[open_at]), body))
            open_at = None
    if open_at is not None:
        return tuple(regions), f"the region opened at {describe(open_at)} is never closed"
    return tuple(regions), ""


def _region_body(lines: list[str], span: FunctionSpan, first: int, end: int,
                 scan: Scan | None) -> str:
    """The dedented body from ``first`` to ``end``, reusing the function's scan where it applies."""
    k = first - span.start
    if scan is not None and k < len(scan[1]) and scan[1][k]:
        return dedent_block(lines[first:end], scan[0][k : end - span.start])
    return dedent_block(lines[first:end])


def extract(
    text: str, name: str, expected_regions: int | None = None, describe: Callable[[int], str] = _line_number,
    *, texts: bool = True,
) -> Extraction:
    """The regions of graded function ``name`` in ``text`` (already normalised).

    ``texts=False``: where each definition and region is, without their text (sources and
    bodies left empty), which saves dedenting them for callers that only need positions.
    """
    if name not in text:  # the text cannot define it
        return Extraction(name)
    lines = text.split("\n")
    definitions = tuple(_definition(lines, span, scan, expected_regions, describe)
                        for span, scan in _scanned_functions(lines, name, keep_scan=texts))
    if not definitions:
        return Extraction(name)
    marked = [i for i, d in enumerate(definitions) if d.marked]
    return Extraction(name, definitions, marked[-1] if marked else len(definitions) - 1)


def _definition(
    lines: list[str], span: FunctionSpan, scan: Scan | None, expected_regions: int | None,
    describe: Callable[[int], str],
) -> Definition:
    """One definition; its texts (region bodies, source) only when its ``scan`` is given."""
    body = lines[span.start : span.stop]
    regions, problem = find_regions(lines, span, describe, texts=scan is not None, scan=scan)
    if not problem and expected_regions is not None and regions and len(regions) != expected_regions:
        where = "; ".join(describe(r.start) for r in regions)
        problem = (
            f"found {len(regions)} marked regions ({where}), "
            f"expected {expected_regions}: markers duplicated or deleted"
        )
    source = dedent_block(body, scan[0]) if scan is not None else ""
    return Definition(span, regions, problem, describe(span.start), source)


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


_SPACES = re.compile(r"\s+")


def essence(body: str) -> str:
    """Code with comments and blank lines removed, spacing folded: for 'untouched?' tests."""
    kept = []
    for line in body.split("\n"):
        code = _SPACES.sub("", strip_comment(line))
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
