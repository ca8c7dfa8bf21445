"""Fit a region written in another edition's scaffold to ours.

The original course's revised edition counts some loops differently from our scaffold
(``for l in range(1, L + 1)`` with keys ``str(l)`` where we write ``range(L)`` and
``str(l + 1)``) and names aliases outside its regions (``inc = mini_batch_size``).
A region written there is honest work that would break in our scaffold; these helpers
find what it needs. They read the student's text outside the regions only to learn
those things, never to run it. Only ``build`` uses them.
"""
from __future__ import annotations

import ast
import re

from grader.notebook.regions import Extraction, FunctionSpan, Region, function_source, indent_of, is_code, strip_comment

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


def fit_to_scaffold(
    name: str, scaffold_cell: str, base: Extraction, student_lines: list[str], mine: Extraction,
) -> tuple[list[str], list[str]]:
    """The student's region bodies, fitted to our scaffold where theirs was the original course's.

    Two differences are bridged (see regions.py): a loop counting the same steps from
    another start (the region runs with the loop variable as its own loop counted it), and
    a plain alias such as ``inc = mini_batch_size`` that the region uses but our scaffold
    lacks (it is set at the region's start). Returns the bodies and a note for each fit.
    """
    assert base.span is not None and mine.span is not None
    our_lines = scaffold_cell.split("\n")
    ours = names_bound(function_source(scaffold_cell, base.span))
    aliases = {alias: target for alias, target in aliases_outside(student_lines, mine.span, mine.regions).items()
               if alias not in ours and target in ours}
    bodies: list[str] = []
    loops: dict[tuple[str, str], list[str]] = {}
    borrowed: set[str] = set()
    for region, base_region in zip(mine.regions, base.regions):
        body = region.body
        if body.strip():
            needed = [f"{alias} = {target}" for alias, target in aliases.items() if alias in names_mentioned(body)]
            if needed:
                body = "\n".join([*needed, body])
                borrowed.update(needed)
            written_for = enclosing_loop(student_lines, mine.span, region)
            runs_in = enclosing_loop(our_lines, base.span, base_region)
            shift = loop_offset(written_for, runs_in)
            if shift:
                body = shifted(body, loop_variable(written_for), shift)
                loops.setdefault((written_for, runs_in), []).append(str(region.index))
        bodies.append(body)
    notes = [f"{name}: {'regions' if len(indexes) > 1 else 'region'} {', '.join(indexes)} "
             f"{'were' if len(indexes) > 1 else 'was'} written inside `{written_for}` and ran inside our "
             f"`{runs_in}`, with `{loop_variable(written_for)}` counted as in its own loop."
             for (written_for, runs_in), indexes in loops.items()]
    if borrowed:
        notes.append(f"{name}: `{'`, `'.join(sorted(borrowed))}` from the notebook's own code around the "
                     "regions was kept, because a region uses it.")
    return bodies, notes


