"""Build the code that runs: the assignment's scaffold with the student's regions spliced in.

The student contributes regions, nothing else (DESIGN.md, principle 1). Every
region of the scaffold is replaced, so the kernel never receives reference code:
by the student's region, or, where the student's cannot be used, by the released
placeholder.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field

from nbformat import NotebookNode

from grader.checks.spec import Assignment
from grader.core.results import FunctionStatus
from grader.notebook.checkcells import is_checker_cell
from grader.notebook.fit import OurDefinition, fit_to_scaffold, our_definition
from grader.notebook.reader import cell_tags, code_cells
from grader.notebook.regions import (
    Definition,
    Extraction,
    essence,
    extract,
    function_source,
    indent_of,
    is_untouched,
    normalise_source,
    placeholder_for,
)
from grader.notebook.second import (
    TopImport,
    explain,
    import_texts,
    imports_used,
    outside_items,
    top_level_imports,
)

DEMO_TAG = "demo"


@dataclass(frozen=True)
class FunctionBuild:
    name: str
    status: FunctionStatus
    message: str = ""
    regions: tuple[dict, ...] = ()
    cell: int = -1  # index in Build.cells of the cell that defines it
    # Every definition of the function in the notebook, and which one was graded
    # (-1: none), so that a later stage can weigh the ones that were not.
    definitions: tuple[Definition, ...] = ()
    graded: int = -1


@dataclass
class Build:
    cells: list[str]
    functions: dict[str, FunctionBuild]
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # The second opinion: the built cells with each function below replaced by the student's
    # whole definition, and for each, how that definition differs (one line).
    second_cells: list[str] = field(default_factory=list)
    second: dict[str, str] = field(default_factory=dict)
    # For each runnable function, the other graded functions its built definition calls.
    uses: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Located:
    """The student's code as one text, remembering which cell and line each line came from."""

    def __init__(self, sources: list[str]):
        lines: list[str] = []
        where: list[tuple[int, int]] = []
        for number, source in enumerate(sources, start=1):
            cell_lines = normalise_source(source).split("\n")
            lines.extend(cell_lines)
            where.extend((number, i + 1) for i in range(len(cell_lines)))
        self.text = "\n".join(lines)
        self.where = where

    def describe(self, line: int) -> str:
        cell, row = self.where[line]
        return f"code cell {cell}, line {row}"


def scaffold_cells(scaffold: NotebookNode) -> list[str]:
    return [
        normalise_source(cell.source)
        for cell in scaffold.cells
        if cell.cell_type == "code" and DEMO_TAG not in cell_tags(cell)
    ]


def _replace_lines(lines: list[str], start: int, stop: int, body: str, indent: int) -> None:
    new = textwrap.indent(body, " " * indent).split("\n") if body.strip() else []
    lines[start:stop] = new


def _body_indent(lines: list[str], start: int, end: int, default: int) -> int:
    for line in lines[start + 1 : end]:
        if line.strip():
            return indent_of(line)
    return default


def splice(cell_text: str, base: Extraction, bodies: list[str] | None, whole_def: str | None) -> str:
    """Replace ``base``'s regions by ``bodies`` (or its whole definition by ``whole_def``)."""
    lines = cell_text.split("\n")
    if whole_def is not None:
        assert base.span is not None
        _replace_lines(lines, base.span.start, base.span.stop, whole_def, base.span.indent)
        return "\n".join(lines)
    assert bodies is not None
    for region, body in sorted(zip(base.regions, bodies), key=lambda rb: -rb[0].start):
        indent = _body_indent(lines, region.start, region.end, region.indent)
        _replace_lines(lines, region.start + 1, region.end, body, indent)
    return "\n".join(lines)


def _syntax_error(source: str) -> SyntaxError | None:
    try:
        compile(source, "<cell>", "exec")
    except SyntaxError as exc:
        # IPython syntax (magics, shell escapes) is fine in a notebook: ask IPython.
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            compile(TransformerManager().transform_cell(source), "<cell>", "exec")
        except SyntaxError:
            return exc
        except Exception:
            return exc
    return None


@dataclass(frozen=True)
class Base:
    """A graded function as a scaffold cell defines it, with what every build compares with it:
    its extraction, what fitting reads of it, and its lines outside the regions."""

    extraction: Extraction
    fitting: OurDefinition
    outside: tuple = ()  # second.outside_items of the definition


def base_of(cell: str, name: str) -> Base:
    found = extract(cell, name)
    assert found.span is not None
    lines = cell.split("\n")
    return Base(found, our_definition(cell, found), tuple(outside_items(lines, found.span, found.regions)))


@dataclass(frozen=True)
class ScaffoldFacts:
    """What every build needs from the scaffold alone, the same for every student: its code
    cells as they run, the cell defining each graded function and that function as the scaffold
    has it (``bases``), the released placeholder of each of its regions, each code cell's
    shape outside the regions (``known``), its code cells' sources as written (``sources``) and
    its top-level imports (``imports``). The catalog works them out once per assignment
    (``Catalog.scaffold_facts``), so a worker does it once, not once per notebook."""

    homes: dict[str, int]
    known: frozenset[str]
    cells: tuple[str, ...] = ()
    bases: dict[str, Base] = field(default_factory=dict)
    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()


def scaffold_facts(assignment: Assignment, scaffold: NotebookNode) -> ScaffoldFacts:
    cells = tuple(scaffold_cells(scaffold))
    homes, bases, placeholders = {}, {}, {}
    for name in assignment.functions:
        home = next((i for i, c in enumerate(cells) if extract(c, name, texts=False).found), None)
        if home is not None:
            homes[name] = home
            bases[name] = base_of(cells[home], name)
            placeholders[name] = tuple(placeholder_for(r.body) for r in bases[name].extraction.regions)
    sources = frozenset(c.source for c in scaffold.cells if c.cell_type == "code")
    known = frozenset(_outside_regions(source, assignment.functions) for source in sources)
    return ScaffoldFacts(homes, known, cells, bases, placeholders, sources, import_texts("\n".join(cells)))


@dataclass
class _Student:
    """One student's notebook as every function's build reads it."""

    located: _Located
    lines: list[str]
    imports: list[TopImport]  # imports in cells of the student's own (for the second opinion)


@dataclass(frozen=True)
class _Built:
    """One graded function, built: its result, its cell as it runs, what the run should know."""

    function: FunctionBuild
    cell: str
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    candidate: tuple[str, str] | None = None  # (whole definition, why) for the second opinion


def build(assignment: Assignment, scaffold: NotebookNode, student: NotebookNode, *, fallback: bool = True,
          second_opinion: bool = True, facts: ScaffoldFacts | None = None) -> Build:
    """``second_opinion``: also prepare the student's whole definitions where they differ
    from the scaffold outside the regions (``Build.second``). ``facts`` of this scaffold,
    when the caller keeps them (a class run does), save working them out."""
    facts = facts or scaffold_facts(assignment, scaffold)
    cells = list(facts.cells)
    located = _Located(code_cells(student))
    lines = located.text.split("\n")
    mine = _Student(located, lines, top_level_imports(lines, located.describe) if second_opinion else [])
    functions: dict[str, FunctionBuild] = {}
    notes: list[str] = []
    flags: list[str] = []
    candidates: dict[str, tuple[str, str]] = {}
    for name in assignment.functions:
        if name not in facts.homes:
            raise ValueError(f"{assignment.slug}: the scaffold does not define graded function {name}")
        built = _build_function(name, facts, cells[facts.homes[name]], mine,
                                fallback=fallback, second_opinion=second_opinion)
        cells[built.function.cell] = built.cell
        functions[name] = built.function
        notes += built.notes
        flags += built.flags
        if built.candidate is not None:
            candidates[name] = built.candidate

    graded_whole = tuple(n for n, f in functions.items() if f.status == "fallback")
    notes.extend(_ignored_cells_note(facts, student, assignment, graded_whole))
    second_cells, second = _second_build(cells, functions, candidates)
    uses = {n: graded_calls(cells[f.cell], n, assignment.functions) for n, f in functions.items() if f.status.runnable}
    return Build(cells, functions, notes, flags, second_cells, second, uses)


def _build_function(name: str, facts: ScaffoldFacts, cell: str, student: _Student, *,
                    fallback: bool, second_opinion: bool) -> _Built:
    """One graded function: which of the student's definitions is graded, and its cell with the
    student's regions (or whole definition, or the placeholders) spliced in."""
    home, placeholders = facts.homes[name], list(facts.placeholders[name])
    # Worked out once from the scaffold; afresh when another function of this cell changed it.
    ours = facts.bases[name] if cell == facts.cells[home] else base_of(cell, name)
    base = ours.extraction
    located = student.located
    mine = extract(located.text, name, len(base.regions), located.describe)
    chosen = mine.chosen
    if chosen is None:
        return _Built(FunctionBuild(name, FunctionStatus.MISSING, f"{name} is not defined in the notebook", (), home),
                      splice(cell, base, placeholders, None))
    notes, flags = _ignored_definitions_notes(mine), []
    if len([d for d in mine.definitions if d.marked]) > 1:
        flags.append(f"{name} is defined {len(mine.definitions)} times; the last definition that keeps "
                     f"its markers ({chosen.where}) was graded")
    shown = tuple({"index": r.index, "code": r.body, "where": located.describe(r.start)} for r in mine.regions)
    status, message = _classify(name, mine, placeholders, fallback)
    candidate = None
    if second_opinion and status != "fallback":
        candidate = _second_candidate(name, ours, mine, student.lines,
                                      imports_used(student.imports, facts.imports, chosen.source))
    fitted: list[str] = []
    if status == "fallback":
        shown = ({"index": 0, "code": chosen.source, "where": chosen.where},)
        built = splice(cell, base, None, chosen.source)
        flags.append(_fallback_flag(name, mine))
    elif status == "ok":
        bodies, fitted = fit_to_scaffold(name, cell, base, student.lines, mine, ours.fitting)
        built = splice(cell, base, bodies, None)
    else:
        built = splice(cell, base, placeholders, None)

    error = _syntax_error(built) if FunctionStatus(status).runnable else None
    if error is not None:  # the placeholders instead, in the cell as the functions before this one left it
        built = splice(cell, base, placeholders, None)
        status, message, fitted = "syntax_error", f"{name} does not compile: {_described(error)}", []
    function = FunctionBuild(name, FunctionStatus(status), message, shown, home, mine.definitions, mine.graded)
    return _Built(function, built, notes + fitted, flags, candidate)


def _described(error: SyntaxError) -> str:
    detail = f"{type(error).__name__}: {error.msg}"
    if error.text:
        detail += f" in `{error.text.strip()}`"
    return detail


def graded_calls(cell: str, name: str, graded: tuple[str, ...]) -> tuple[str, ...]:
    """The other graded functions that definition ``name`` in ``cell`` calls by name, in order."""
    others = [g for g in graded if g != name]
    if not any(g in cell for g in others):  # no other graded name in the cell: nothing to parse
        return ()
    span = extract(cell, name, texts=False).span
    if span is None:
        return ()
    try:
        tree = ast.parse(function_source(cell, span))
    except SyntaxError:  # IPython syntax: no dependencies are named, none are blamed
        return ()
    called = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    return tuple(dict.fromkeys(c for c in called if c in graded and c != name))


def _second_candidate(name: str, ours: Base, mine: Extraction, student_lines: list[str],
                      imports: list[TopImport]) -> tuple[str, str] | None:
    """(the student's whole definition, how it differs) when it deserves a second opinion.

    The definition Python would keep (the last) is the one run: where that is not the one
    graded, it is another definition; where it is, it differs from the scaffold outside
    the regions, or uses an import the student made in a cell of their own (which then
    runs before it), or no second opinion is needed.
    """
    chosen, last = mine.chosen, mine.definitions[-1]
    assert chosen is not None
    if last is not chosen:
        return last.source, f"{last.where} defines `{name}` again ({last.state})"
    theirs = outside_items(student_lines, chosen.span, chosen.regions)
    reason = explain(list(ours.outside), theirs, len(ours.extraction.regions))
    if imports:
        first = imports[0]
        reason = reason or f"`{first.text}` is outside the regions ({first.where})"
        return "\n".join(t.text for t in imports) + "\n" + chosen.source, reason
    return (chosen.source, reason) if reason else None


def _second_build(cells: list[str], functions: dict[str, FunctionBuild],
                  candidates: dict[str, tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """The built cells with each candidate's whole definition in place of the built one;
    a definition that does not compile there is left out (it could not score)."""
    second_cells, second = list(cells), {}
    for name, (whole, reason) in candidates.items():
        home = functions[name].cell
        trial = splice(second_cells[home], extract(second_cells[home], name, texts=False), None, whole)
        if _syntax_error(trial) is None:
            second_cells[home], second[name] = trial, reason
    return (second_cells, second) if second else ([], {})


def _classify(name: str, mine: Extraction, placeholders: list[str], fallback: bool) -> tuple[str, str]:
    """What the student's graded definition of one function amounts to: (status, message)."""
    assert mine.chosen is not None
    if not mine.chosen.marked:  # no definition keeps its markers: deleted or broken
        if fallback:
            why = f"markers broken ({mine.error})" if mine.error else "markers deleted"
            return "fallback", f"{why}: the whole definition was graded"
        if mine.error:
            return "region_error", f"{name}: {mine.error}"
        return "region_error", f"{name}: its START/END markers were deleted, so there is no region to grade"
    if all(is_untouched(r.body, p) for r, p in zip(mine.regions, placeholders)):
        return "not_attempted", f"{name}: the marked regions are still as released"
    return "ok", ""


def _fallback_flag(name: str, mine: Extraction) -> str:
    if mine.error:
        return f"{name}: START/END markers broken ({mine.error}); the student's whole definition was graded"
    return f"{name}: START/END markers deleted; the student's whole definition was graded"


def _ignored_definitions_notes(mine: Extraction) -> list[str]:
    """One note per definition that was not graded, saying why the graded one was chosen."""
    chosen = mine.chosen
    assert chosen is not None
    why = "which keeps its START/END markers" if chosen.marked else "the last one, as none keeps its markers"
    return [f"{mine.name}: the definition at {d.where} was ignored ({d.state}); "
            f"the one at {chosen.where}, {why}, was graded." for d in mine.ignored()]


def _outside_regions(source: str, names: tuple[str, ...]) -> str:
    """A cell's code with every region body blanked out, for comparing what lies around them."""
    text = normalise_source(source)
    lines = text.split("\n")
    for name in names:
        found = extract(text, name, texts=False)
        for region in sorted(found.regions, key=lambda r: -r.start):
            lines[region.start + 1 : region.end] = []
    return essence("\n".join(lines))


def _ignored_cells_note(
    facts: ScaffoldFacts, student: NotebookNode, assignment: Assignment, whole: tuple[str, ...]
) -> list[str]:
    """Cells whose code outside the regions differs from the scaffold (and so was not run).

    Cells defining a function graded as a whole definition are not counted: they were used;
    nor are the checker cells a release adds (installing and calling ``grader.check``).
    """
    names = assignment.functions
    known = facts.known
    changed = []
    for number, source in enumerate(code_cells(student), start=1):
        if source in facts.sources:  # a cell as the scaffold has it: its shape is known
            continue
        shape = _outside_regions(source, names)
        if any(extract(normalise_source(source), n, texts=False).found for n in whole) or is_checker_cell(source):
            continue
        if shape and shape not in known:
            changed.append(number)
    if not changed:
        return []
    listed = ", ".join(map(str, changed[:12])) + (" …" if len(changed) > 12 else "")
    cells = f"{len(changed)} code cells ({listed}) differ" if len(changed) > 1 else f"code cell {listed} differs"
    return [f"{cells} from the assignment outside the marked regions; "
            "only code inside the regions was graded, the rest was ignored."]
