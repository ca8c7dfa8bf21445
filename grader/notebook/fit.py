"""Fit a region written in another edition's scaffold to ours.

The original course's revised edition counts some loops differently from our scaffold
(``for l in range(1, L + 1)`` with keys ``str(l)`` where we write ``range(L)`` and
``str(l + 1)``), names aliases outside its regions (``inc = mini_batch_size``) and binds
some scaffold names under other names (``grad_approx`` where ours has ``gradapprox``).
A region written there is honest work that would break in our scaffold; these helpers
find what it needs. They read the student's text outside the regions only to learn
those things, never to run it. Only ``build`` uses them.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

from grader.notebook.regions import (
    Extraction,
    FunctionSpan,
    Region,
    dedent_block,
    function_source,
    indent_of,
    is_code,
    strip_comment,
)

FOR_RANGE = re.compile(r"^\s*for\s+([A-Za-z_]\w*)\s+in\s+range\((.*)\)\s*:\s*$")


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


# How a statement outside the regions binds a name: ("parameter", "", position),
# ("=", value's source, item) or ("for", iterable's source, item); item -1 for a plain name.
How = tuple[str, str, int]


def bindings_outside(lines: list[str], span: FunctionSpan, regions: tuple[Region, ...]) -> list[tuple[How, str]]:
    """Names the function binds outside its regions, each with how, in the order they appear.

    Empty when the code around the regions does not parse.
    """
    return _bindings_in(_outside_regions(lines, span, regions))


def _bindings_in(outside: str) -> list[tuple[How, str]]:
    """``bindings_outside`` of a function's code around its regions (``_outside_regions``)."""
    try:
        tree = ast.parse(outside)
    except SyntaxError:
        return []
    function = tree.body[0] if tree.body else None
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    found: list[tuple[How, str]] = [(("parameter", "", k), a.arg)
                                    for k, a in enumerate([*function.args.posonlyargs, *function.args.args])]
    statements = sorted((n for n in ast.walk(function) if isinstance(n, (ast.Assign, ast.For))),
                        key=lambda n: (n.lineno, n.col_offset))
    for node in statements:
        if isinstance(node, ast.Assign):
            kind, source, targets = "=", ast.unparse(node.value), node.targets
        else:
            kind, source, targets = "for", ast.unparse(node.iter), [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                found.append(((kind, source, -1), target.id))
            elif isinstance(target, (ast.Tuple, ast.List)):
                found += [((kind, source, k), e.id) for k, e in enumerate(target.elts) if isinstance(e, ast.Name)]
    return found


def _outside_regions(lines: list[str], span: FunctionSpan, regions: tuple[Region, ...]) -> str:
    """The function's source with every region's body replaced by ``pass``, so that it parses."""
    out = []
    for i in range(span.start, span.stop):
        region = next((r for r in regions if r.start <= i < r.end), None)
        if region is None:
            out.append(lines[i])
        elif i == region.start:
            out += [lines[i], " " * body_indent(lines, region) + "pass"]
    return dedent_block(out)


def aliases_outside(lines: list[str], span: FunctionSpan, regions: tuple[Region, ...]) -> dict[str, str]:
    """Plain ``name = other_name`` statements of a function outside its regions: {name: other_name}."""
    return _aliases(bindings_outside(lines, span, regions))


def _aliases(bindings: list[tuple[How, str]]) -> dict[str, str]:
    return {name: source for (kind, source, item), name in bindings
            if kind == "=" and item == -1 and source.isidentifier()}


def counterparts(mine: list[tuple[How, str]], ours: list[tuple[How, str]], my_names: set[str],
                 our_names: set[str]) -> dict[str, str]:
    """{the student's name: ours} for names their scaffold binds the way ours binds another.

    ``grad_approx = np.zeros((num_parameters, 1))`` against our ``gradapprox = np.zeros(...)``
    gives ``{"grad_approx": "gradapprox"}``. Statements bound the same way are paired in
    order, only among names one side lacks, and only when both sides have as many.
    """
    renames: dict[str, str] = {}
    for how in dict.fromkeys(h for h, _ in mine):
        theirs = list(dict.fromkeys(n for h, n in mine if h == how and n not in our_names))
        matching = list(dict.fromkeys(n for h, n in ours if h == how and n not in my_names))
        if theirs and len(theirs) == len(matching):
            renames.update(zip(theirs, matching))
    return renames


def renamed(code: str, names: dict[str, str]) -> str:
    """``code`` with each name in ``names`` replaced by its counterpart; attributes and
    keyword arguments of the same spelling stay. Unchanged when it does not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                                                      tokenize.INDENT, tokenize.DEDENT)]
    edits, depth = [], 0
    for i, tok in enumerate(significant):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type != tokenize.NAME or tok.string not in names:
            continue
        before = significant[i - 1].string if i else ""
        after = significant[i + 1].string if i + 1 < len(significant) else ""
        if before == "." or (depth > 0 and after == "="):
            continue
        edits.append(tok)
    lines = code.split("\n")
    for tok in reversed(edits):
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + names[tok.string] + line[tok.end[1]:]
    return "\n".join(lines)


@dataclass(frozen=True)
class OurDefinition:
    """What fitting reads of the scaffold's own definition of a function: every name it binds,
    and how it binds those outside its regions. The same for every student of an assignment."""

    bound: frozenset[str]
    bindings: tuple[tuple[How, str], ...]
    outside: str = ""  # its code around the regions (_outside_regions), which decides ``bindings``


def our_definition(scaffold_cell: str, base: Extraction) -> OurDefinition:
    assert base.span is not None
    outside = _outside_regions(scaffold_cell.split("\n"), base.span, base.regions)
    return OurDefinition(frozenset(names_bound(function_source(scaffold_cell, base.span))),
                         tuple(_bindings_in(outside)), outside)


def fit_to_scaffold(
    name: str, scaffold_cell: str, base: Extraction, student_lines: list[str], mine: Extraction,
    known: OurDefinition | None = None,
) -> tuple[list[str], list[str]]:
    """The student's region bodies, fitted to our scaffold where theirs was the original course's.

    Three differences are bridged: a name the student's scaffold binds where ours binds
    another the same way (``grad_approx`` for ``gradapprox``: the region is read with ours);
    a plain alias such as ``inc = mini_batch_size`` that the region uses but our scaffold
    lacks (it is set at the region's start); and a loop counting the same steps from another
    start (the region runs with the loop variable as its own loop counted it). Returns the
    bodies and a note for each fit. ``known``: ``our_definition`` of this cell and base, when
    the caller keeps it.
    """
    assert base.span is not None and mine.span is not None
    our_lines = scaffold_cell.split("\n")
    known = known or our_definition(scaffold_cell, base)
    ours = set(known.bound)
    around = _outside_regions(student_lines, mine.span, mine.regions)
    theirs = list(known.bindings) if around == known.outside else _bindings_in(around)  # the same code binds the same
    renames: dict[str, str] = {}
    aliases: dict[str, str] = {}
    used_by: list[set[str]] = [set() for _ in mine.regions]
    # Bound outside the regions as in our scaffold, every name also ours: nothing to rename or
    # borrow (counterparts and aliases only take names ours lacks), so the regions need not be read.
    if tuple(theirs) != known.bindings or any(n not in ours for _, n in theirs):
        used_by = [names_mentioned(r.body) for r in mine.regions]
        mentioned = set().union(*used_by)
        paired = counterparts(theirs, list(known.bindings), {n for _, n in theirs} | mentioned, ours)
        renames = {student: our for student, our in paired.items() if student in mentioned}
        aliases = {alias: target for alias, target in _aliases(theirs).items()
                   if alias not in ours and target in ours and alias not in renames}
    bodies: list[str] = []
    loops: dict[tuple[str, str], list[str]] = {}
    read_as: dict[tuple[str, str], list[str]] = {}
    borrowed: set[str] = set()
    for region, base_region, used in zip(mine.regions, base.regions, used_by):
        body = region.body
        if body.strip():
            here = {n: o for n, o in renames.items() if n in used and o not in used}
            if here:
                body = renamed(body, here)
                for pair in here.items():
                    read_as.setdefault(pair, []).append(str(region.index))
            needed = [f"{alias} = {target}" for alias, target in aliases.items() if alias in used]
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
    notes = [f"{name}: `{student}`, which the notebook's own code around the regions binds where ours binds "
             f"`{our}`, was read as `{our}` in {_regions(indexes)}."
             for (student, our), indexes in read_as.items()]
    notes += [f"{name}: {_regions(indexes)} {'were' if len(indexes) > 1 else 'was'} written inside "
              f"`{written_for}` and ran inside our `{runs_in}`, with `{loop_variable(written_for)}` counted "
              "as in its own loop."
              for (written_for, runs_in), indexes in loops.items()]
    if borrowed:
        notes.append(f"{name}: `{'`, `'.join(sorted(borrowed))}` from the notebook's own code around the "
                     "regions was kept, because a region uses it.")
    return bodies, notes


def _regions(indexes: list[str]) -> str:
    return f"{'regions' if len(indexes) > 1 else 'region'} {', '.join(indexes)}"
