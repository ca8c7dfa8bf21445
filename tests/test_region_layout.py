"""How a correct region is laid out never changes its grade (issue 10, item 4).

Hypothesis rewrites correct graded cells the way editors and students do: another
indentation unit or tabs, markers further left or right, blank lines holding spaces,
comments at any depth, trailing comments and spaces, a bracket continued at any column,
CRLF line ends. Only layouts that Python itself compiles are kept (it is the student's
notebook: if it runs there, it must grade here). The property is checked on the build,
without a kernel: the function that would run is the same code (the same syntax tree) as
for the canonical layout, so the grade cannot differ. A few layouts are graded in a kernel.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import TINY_SOURCE, tiny_reference_body
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from grader.grading.catalog import Catalog
from grader.notebook.build import build
from grader.notebook.regions import END, START

ROOT = Path(__file__).resolve().parent.parent
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The tiny scale function with a region of three lines, one of them in a nested block.
TINY_REGION = "y = x * 0\nfor _ in range(1):\n    y = y + x * factor"


@dataclass(frozen=True)
class Layout:
    """One way of writing the same cell."""

    unit: str = "    "  # one level of indentation
    marker_shift: int = 0  # levels the markers sit left (<0) or right (>0) of their code
    extras: tuple[tuple[int, str, int], ...] = ()  # (region line it precedes, "blank"/"comment", depth)
    trailing: tuple[int, ...] = ()  # region lines given a trailing comment and spaces
    continued_at: int | None = None  # column of a bracket continuation, when one is made
    newline: str = "\n"


def relayout(cell: str, layout: Layout) -> str:
    """``cell`` (indented by four spaces a level) written in ``layout``."""
    lines = cell.split("\n")
    out: list[str] = []
    region_line = -1
    for line in lines:
        body = line.lstrip(" ")
        level = (len(line) - len(body)) // 4
        if START.match(line) or END.match(line):
            inside = START.match(line) is not None
            level = max(0, level + layout.marker_shift)
            region_line = 0 if inside else -1
            out.append(layout.unit * level + body + (" \t " if layout.trailing else ""))
            continue
        if region_line >= 0 and body:
            for at, kind, depth in layout.extras:
                if at == region_line:
                    out.append(" \t " if kind == "blank" else layout.unit * depth + "# a note of mine")
            if layout.continued_at is not None and " = " in body and not body.endswith(":"):
                head, tail = body.split(" = ", 1)  # the whole right-hand side in brackets: the same tree
                out.append(layout.unit * level + head + " = (")
                body, level = " " * layout.continued_at + tail + ")", 0
            if region_line in layout.trailing:
                body += "   # why  " + " "
            region_line += 1
        out.append(layout.unit * level + body if body else "")
    return layout.newline.join(out)


@st.composite
def layouts(draw, region_lines: int = 3) -> Layout:
    extras = draw(st.lists(st.tuples(st.integers(0, region_lines - 1), st.sampled_from(["blank", "comment"]),
                                     st.integers(0, 4)), max_size=4))
    return Layout(
        unit=draw(st.sampled_from(["    ", "  ", "        ", "\t", "   "])),
        marker_shift=draw(st.integers(-2, 1)),
        extras=tuple(extras),
        trailing=tuple(draw(st.lists(st.integers(0, region_lines - 1), max_size=2))),
        continued_at=draw(st.none() | st.integers(0, 12)),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
    )


def compiles(source: str) -> bool:
    try:
        compile(source.replace("\r\n", "\n"), "<student cell>", "exec")
    except SyntaxError:
        return False
    return True


def function_tree(cells: list[str], name: str) -> str:
    """The syntax tree of ``name``'s definition in the built cells (comments and layout aside)."""
    for cell in cells:
        for node in ast.parse(cell).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return ast.dump(node)
    raise AssertionError(f"{name} is not in the built cells")


def with_cell(nb: nbformat.NotebookNode, name: str, source: str) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(nb)
    cell = next(c for c in copy.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    cell.source = source
    return copy


# ---- the tiny assignment -----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    catalog = Catalog(TINY_SOURCE)
    assignment = catalog.get("tiny")
    solution = nbformat.read(str(TINY_SOURCE / "Tiny.ipynb"), as_version=4)
    graded = next(c.source for c in solution.cells if "def scale(" in c.source)
    canonical_cell = graded.replace("    " + tiny_reference_body(), "    " + TINY_REGION.replace("\n", "\n    "))
    canonical = build(assignment, catalog.scaffold(assignment), with_cell(solution, "scale", canonical_cell))
    assert canonical.functions["scale"].status == "ok"
    return assignment, catalog.scaffold(assignment), solution, canonical_cell, function_tree(canonical.cells, "scale")


@FAST
@given(layout=layouts())
@example(layout=Layout(unit="\t", marker_shift=-2, extras=((1, "comment", 0), (2, "blank", 0)), trailing=(0, 2),
                       continued_at=0, newline="\r\n"))
def test_the_layout_of_a_correct_region_never_changes_what_runs(tiny, layout):
    assignment, scaffold, solution, canonical_cell, expected = tiny
    cell = relayout(canonical_cell, layout)
    assume(compiles(cell))
    result = build(assignment, scaffold, with_cell(solution, "scale", cell))
    fb = result.functions["scale"]
    assert fb.status == "ok", (fb.message, cell)
    assert function_tree(result.cells, "scale") == expected, cell
    assert result.flags == []


# ---- every graded function of the three assignments ----------------------------------

@pytest.fixture(scope="module")
def solutions():
    catalog = Catalog(ROOT / "solutions")
    out = {}
    for assignment in catalog.assignments:
        solution = nbformat.read(str(ROOT / "solutions" / assignment.notebook), as_version=4)
        canonical = build(assignment, catalog.scaffold(assignment), solution)
        out[assignment.slug] = (assignment, catalog.scaffold(assignment), solution, canonical)
    return out


FUNCTIONS = [("initialization", "initialize_parameters_he"), ("gradient_checking", "gradient_check_n"),
             ("gradient_checking", "gradient_check"), ("optimization", "update_parameters_with_adam"),
             ("optimization", "random_mini_batches"), ("optimization", "initialize_adam")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(FUNCTIONS), layout=layouts(region_lines=5))
def test_the_layout_of_the_reference_regions_never_changes_what_runs(solutions, which, layout):
    slug, name = which
    assignment, scaffold, solution, canonical = solutions[slug]
    graded = next(c.source for c in solution.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    cell = relayout(graded, layout)
    assume(compiles(cell))
    result = build(assignment, scaffold, with_cell(solution, name, cell))
    assert result.functions[name].status == "ok", (result.functions[name].message, cell)
    assert function_tree(result.cells, name) == function_tree(canonical.cells, name), cell


# ---- a few layouts graded in a kernel --------------------------------------------------

GRADED_LAYOUTS = {
    "tabs_crlf_comments_at_column_0": Layout(unit="\t", marker_shift=-1, extras=((1, "comment", 0),),
                                             newline="\r\n"),
    "two_spaces_continued_at_column_0": Layout(unit="  ", extras=((2, "blank", 0),), continued_at=0),
    "markers_right_trailing_spaces": Layout(unit="        ", marker_shift=1, trailing=(0, 2),
                                            extras=((0, "comment", 3),)),
}


@pytest.mark.kernel
@pytest.mark.parametrize("scenario", sorted(GRADED_LAYOUTS))
def test_a_relaid_correct_region_gets_full_marks(tiny, tiny_warm, tmp_path, scenario):
    from grader.grading.grade import grade_notebook

    _, _, solution, canonical_cell, _ = tiny
    cell = relayout(canonical_cell, GRADED_LAYOUTS[scenario])
    assert compiles(cell)
    path = tmp_path / scenario / "Tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(with_cell(solution, "scale", cell), str(path))
    result = grade_notebook(path, Catalog(tiny_warm)).to_dict()
    assert result["status"] == "graded", result["message"]
    assert result["score"] == result["max_score"] == 5
    assert result["functions"][0]["status"] == "ok"
