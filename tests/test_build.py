"""Splicing a student's regions into the scaffold, without a kernel (grader/build.py)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from conftest import notebook_with_region, tiny_reference_body

from grader.grading.catalog import Catalog
from grader.notebook.build import build
from grader.notebook.regions import placeholder_for

TINY = Path(__file__).parent / "fixtures" / "tiny"


@pytest.fixture(scope="module")
def tiny():
    catalog = Catalog(TINY)
    assignment = catalog.get("tiny")
    return assignment, catalog.scaffold(assignment)


@pytest.fixture(scope="module")
def reference() -> str:
    return tiny_reference_body()


def student(scaffold, reference, region: str | None = None) -> nbformat.NotebookNode:
    """The solution notebook with the student's region in place of the reference one."""
    return notebook_with_region(scaffold, reference, region if region is not None else reference)


def code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def notebook_of(sources: list[str]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def graded_cell(result) -> str:
    return result.cells[result.functions["scale"].cell]


def test_correct_region_is_spliced(tiny, reference):
    assignment, scaffold = tiny
    mine = "y = factor * x  # my own way"
    result = build(assignment, scaffold, student(scaffold, reference, mine))
    fb = result.functions["scale"]
    assert fb.status == "ok"
    assert fb.message == ""
    assert [r["code"] for r in fb.regions] == [mine]
    assert mine in graded_cell(result)
    assert reference not in "\n".join(result.cells)
    assert result.notes == [] and result.flags == []


def test_region_keeps_the_scaffold_indentation(tiny, reference):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, student(scaffold, reference, "z = x\ny = z * factor"))
    assert "\n    z = x\n    y = z * factor\n" in graded_cell(result)
    compile(graded_cell(result), "<cell>", "exec")


def test_demo_cells_are_left_out(tiny, reference):
    assignment, scaffold = tiny
    demo = [c.source for c in scaffold.cells if "demo" in c.metadata.get("tags", [])]
    assert demo, "the tiny solution has a demo cell"
    result = build(assignment, scaffold, student(scaffold, reference, "y = factor * x"))
    assert not any(d in result.cells for d in demo)


def test_region_location_is_reported(tiny, reference):
    assignment, scaffold = tiny
    nb = student(scaffold, reference, "y = factor * x")
    result = build(assignment, scaffold, nb)
    cell_number = next(i for i, s in enumerate(code_sources(nb), start=1) if "def scale" in s)
    assert result.functions["scale"].regions[0]["where"].startswith(f"code cell {cell_number}, line ")


def test_untouched_region_is_not_attempted(tiny, reference):
    assignment, scaffold = tiny
    released = placeholder_for(reference)
    result = build(assignment, scaffold, student(scaffold, reference, released))
    fb = result.functions["scale"]
    assert fb.status == "not_attempted"
    assert "as released" in fb.message
    assert reference not in "\n".join(result.cells)


@pytest.mark.parametrize("region", ["pass", "", "# TODO"])
def test_emptied_region_is_not_attempted(tiny, reference, region):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, student(scaffold, reference, region))
    assert result.functions["scale"].status == "not_attempted"


def test_deleted_markers_fall_back_to_the_whole_definition(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    mine = "def scale(x, factor):\n    return factor * x"
    nb = notebook_of([sources[0], "# GRADED FUNCTION: scale\n\n" + mine])
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "fallback"
    assert "whole definition" in fb.message
    assert fb.regions[0]["code"] == mine
    assert mine in graded_cell(result)
    assert reference not in "\n".join(result.cells)
    assert any("scale" in flag and "markers deleted" in flag for flag in result.flags)


def test_deleted_markers_without_fallback_are_a_region_error(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    nb = notebook_of([sources[0], "def scale(x, factor):\n    return factor * x"])
    result = build(assignment, scaffold, nb, fallback=False)
    fb = result.functions["scale"]
    assert fb.status == "region_error"
    assert fb.message.startswith("scale:")
    assert "deleted" in fb.message
    assert reference not in "\n".join(result.cells)
    assert "return factor * x" not in "\n".join(result.cells)


def test_fallback_cell_is_not_called_ignored(tiny):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    nb = notebook_of([sources[0], "# GRADED FUNCTION: scale\n\ndef scale(x, factor):\n    return factor * x"])
    result = build(assignment, scaffold, nb)
    assert result.functions["scale"].status == "fallback"
    assert result.notes == []


def _without(graded: str, marker: str) -> str:
    return "\n".join(line for line in graded.split("\n") if marker not in line)


def _scale_cell(scaffold, reference, region: str = "y = factor * x") -> str:
    return next(s for s in code_sources(student(scaffold, reference, region)) if "def scale" in s)


def test_unclosed_region_falls_back_to_the_whole_definition_and_says_where(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    nb = notebook_of([sources[0], _without(_scale_cell(scaffold, reference), "END CODE HERE")])
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "fallback"
    assert fb.message.startswith("markers broken (the region opened at code cell 2, line ")
    assert "never closed" in fb.message and "whole definition was graded" in fb.message
    assert "y = factor * x" in graded_cell(result)
    assert any(flag.startswith("scale: START/END markers broken (") for flag in result.flags)


def test_unclosed_region_without_fallback_is_a_region_error_naming_the_place(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    nb = notebook_of([sources[0], _without(_scale_cell(scaffold, reference), "END CODE HERE")])
    fb = build(assignment, scaffold, nb, fallback=False).functions["scale"]
    assert fb.status == "region_error"
    assert fb.message.startswith("scale:")
    assert "code cell 2, line" in fb.message
    assert "never closed" in fb.message


@pytest.mark.parametrize("breakage", ["start deleted", "end deleted", "end before start"])
def test_broken_markers_grade_the_whole_definition(tiny, reference, breakage):
    assignment, scaffold = tiny
    graded = _scale_cell(scaffold, reference, "y = factor * x  # the student's own line")
    if breakage == "start deleted":
        graded = _without(graded, "START CODE HERE")
    elif breakage == "end deleted":
        graded = _without(graded, "END CODE HERE")
    else:
        lines = graded.split("\n")
        start = next(i for i, l in enumerate(lines) if "START CODE HERE" in l)
        end = next(i for i, l in enumerate(lines) if "END CODE HERE" in l)
        lines[start], lines[end] = lines[end], lines[start]
        graded = "\n".join(lines)
    result = build(assignment, scaffold, notebook_of([code_sources(scaffold)[0], graded]))
    fb = result.functions["scale"]
    assert fb.status == "fallback", fb.message
    assert fb.message.startswith("markers broken (")
    assert fb.regions[0]["index"] == 0
    assert "y = factor * x  # the student's own line" in graded_cell(result)
    assert reference not in "\n".join(result.cells)
    assert len(result.flags) == 1 and result.flags[0].startswith("scale: START/END markers broken (")


def test_duplicated_region_falls_back_or_is_a_region_error_without_fallback(tiny, reference):
    assignment, scaffold = tiny
    twice = f"### END CODE HERE ###\n### START CODE HERE ###\n{reference}"
    nb = student(scaffold, reference, "y = factor * x\n" + twice)
    assert build(assignment, scaffold, nb).functions["scale"].status == "fallback"
    fb = build(assignment, scaffold, nb, fallback=False).functions["scale"]
    assert fb.status == "region_error"
    assert "found 2 marked regions" in fb.message


# --- which definition is graded: the one that keeps the markers ----------------------------

def test_a_later_unmarked_redefinition_is_ignored_with_a_note(tiny, reference):
    assignment, scaffold = tiny
    nb = student(scaffold, reference, "y = factor * x")
    nb.cells.append(nbformat.v4.new_code_cell("def scale(x, factor):\n    return x + factor  # wrong, and unmarked"))
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "ok"
    assert "y = factor * x" in graded_cell(result)
    assert "x + factor" not in "\n".join(result.cells)
    last = len(code_sources(nb))
    ignored = [n for n in result.notes if n.startswith("scale: the definition at")]
    assert ignored == [f"scale: the definition at code cell {last}, line 1 was ignored (it has no START/END "
                       f"markers); the one at {fb.regions[0]['where'].rsplit(',', 1)[0]}, line 3, which keeps "
                       "its START/END markers, was graded."]
    assert result.flags == []
    assert [d.marked for d in fb.definitions] == [True, False] and fb.graded == 0


def test_untouched_regions_stay_not_attempted_under_complete_definitions_pasted_below(tiny, reference):
    assignment, scaffold = tiny
    nb = student(scaffold, reference, placeholder_for(reference))
    nb.cells.append(nbformat.v4.new_code_cell("def scale(x, factor):\n    return factor * x"))
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "not_attempted"
    assert not any("markers deleted" in flag for flag in result.flags)
    assert "return factor * x" not in "\n".join(result.cells)
    assert any("was ignored (it has no START/END markers)" in n for n in result.notes)
    # The pasted definition stays on record for a second opinion.
    assert fb.definitions[1].source == "def scale(x, factor):\n    return factor * x"


def test_with_no_marked_definition_the_last_is_graded_whole(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(scaffold)
    broken = _without(_scale_cell(scaffold, reference, "y = x + factor"), "END CODE HERE")
    nb = notebook_of([sources[0], broken, "def scale(x, factor):\n    return factor * x"])
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "fallback"
    assert fb.regions[0]["code"] == "def scale(x, factor):\n    return factor * x"
    note = next(n for n in result.notes if "was ignored" in n)
    assert "(its markers are broken: the region opened at code cell 2" in note
    assert "the last one, as none keeps its markers, was graded" in note


def test_syntax_error_shows_the_offending_text(tiny, reference):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, student(scaffold, reference, "y = x *"))
    fb = result.functions["scale"]
    assert fb.status == "syntax_error"
    assert "SyntaxError" in fb.message
    assert "`y = x *`" in fb.message
    compile(graded_cell(result), "<cell>", "exec")  # the placeholder went in instead
    assert reference not in "\n".join(result.cells)


def test_indentation_error_is_a_syntax_error(tiny, reference):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, student(scaffold, reference, "if True:\ny = factor * x"))
    fb = result.functions["scale"]
    assert fb.status == "syntax_error"
    assert "IndentationError" in fb.message


def test_ipython_magic_in_the_cell_is_not_a_syntax_error(tiny, reference):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, student(scaffold, reference, "y = factor * x\n%time z = 1"))
    assert result.functions["scale"].status == "ok"


def test_missing_function(tiny):
    assignment, scaffold = tiny
    nb = notebook_of(["import numpy as np", "def unrelated():\n    return 1"])
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "missing"
    assert "scale" in fb.message


def test_code_outside_the_region_is_ignored_with_a_note(tiny, reference):
    assignment, scaffold = tiny
    nb = student(scaffold, reference, "y = factor * x")
    for cell in nb.cells:
        if "def scale" in cell.source:
            cell.source = cell.source.replace("return y", "return y + 1000")
    nb.cells.append(nbformat.v4.new_code_cell("print('my own experiment')"))
    result = build(assignment, scaffold, nb)
    assert result.functions["scale"].status == "ok"
    assert "return y + 1000" not in graded_cell(result)
    assert not any("my own experiment" in c for c in result.cells)
    assert len(result.notes) == 1
    note = result.notes[0]
    assert note.startswith("2 code cells")
    assert "ignored" in note


def test_cells_reordered_and_duplicated_outside_regions_change_nothing(tiny, reference):
    assignment, scaffold = tiny
    plain = build(assignment, scaffold, student(scaffold, reference, "y = factor * x"))
    nb = student(scaffold, reference, "y = factor * x")
    nb.cells = list(reversed(nb.cells)) + [nbformat.from_dict(c) for c in nb.cells if c.cell_type == "code"][:1]
    shuffled = build(assignment, scaffold, nb)
    assert shuffled.functions["scale"].status == plain.functions["scale"].status == "ok"
    assert shuffled.cells == plain.cells
    assert shuffled.notes == []


def test_function_split_over_two_cells(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(student(scaffold, reference, "y = factor * x"))
    graded = next(s for s in sources if "def scale" in s)
    cut = graded.index("    y = factor * x")
    nb = notebook_of([sources[0], graded[:cut], graded[cut:]])
    result = build(assignment, scaffold, nb)
    fb = result.functions["scale"]
    assert fb.status == "ok"
    assert fb.regions[0]["code"] == "y = factor * x"
    assert "y = factor * x" in graded_cell(result)


def test_function_merged_with_another_cell(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(student(scaffold, reference, "y = factor * x"))
    merged = "\n\n".join(sources)
    result = build(assignment, scaffold, notebook_of([merged]))
    assert result.functions["scale"].status == "ok"
    assert result.functions["scale"].regions[0]["where"].startswith("code cell 1, line ")


def test_function_defined_twice_grades_the_last_and_flags_it(tiny, reference):
    assignment, scaffold = tiny
    first = student(scaffold, reference, "y = x + factor")
    second = student(scaffold, reference, "y = factor * x")
    nb = notebook_of(code_sources(first) + [s for s in code_sources(second) if "def scale" in s])
    result = build(assignment, scaffold, nb)
    assert result.functions["scale"].status == "ok"
    assert "y = factor * x" in graded_cell(result)
    assert "y = x + factor" not in graded_cell(result)
    assert any("defined 2 times" in flag for flag in result.flags)


def test_crlf_and_tabs_in_the_student_cell(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(student(scaffold, reference, "y = factor * x"))
    graded = next(s for s in sources if "def scale" in s)
    odd = graded.replace("    ", "\t").replace("\n", "\r\n")
    result = build(assignment, scaffold, notebook_of([sources[0], odd]))
    assert result.functions["scale"].status == "ok"
    assert "\n    y = factor * x\n" in graded_cell(result)


def test_newer_marker_style_in_the_student_notebook(tiny, reference):
    assignment, scaffold = tiny
    sources = code_sources(student(scaffold, reference, "y = factor * x"))
    graded = next(s for s in sources if "def scale" in s)
    lines = graded.split("\n")
    lines = ["    # YOUR CODE STARTS HERE" if "START CODE HERE" in l else
             "    # YOUR CODE ENDS HERE" if "END CODE HERE" in l else l for l in lines]
    result = build(assignment, scaffold, notebook_of([sources[0], "\n".join(lines)]))
    assert result.functions["scale"].status == "ok"
    assert "y = factor * x" in graded_cell(result)


def test_the_scaffold_itself_builds_ok_and_unchanged(tiny):
    assignment, scaffold = tiny
    result = build(assignment, scaffold, scaffold)
    assert result.functions["scale"].status == "ok"
    assert result.notes == [] and result.flags == []


def test_a_comment_at_the_functions_depth_inside_a_region_still_compiles(tiny):
    assignment, scaffold = tiny
    mine = (
        "def scale(x, factor):\n"
        "    if True:  # the student wrapped the region in a block of their own\n"
        "        ### START CODE HERE ###\n"
        "    # Step 1: scale (a comment at the function's depth)\n"
        "        y = x * factor\n"
        "        ### END CODE HERE ###\n"
        "    return y"
    )
    result = build(assignment, scaffold, notebook_of([code_sources(scaffold)[0], mine]))
    fb = result.functions["scale"]
    assert fb.status == "ok", fb.message
    assert fb.regions[0]["code"] == "# Step 1: scale (a comment at the function's depth)\ny = x * factor"
    assert "\n    # Step 1: scale (a comment at the function's depth)\n    y = x * factor\n" in graded_cell(result)


def test_a_syntax_error_keeps_the_other_functions_of_its_cell_as_the_student_wrote_them(tiny):
    """Two graded functions share a cell; the second does not compile. Its placeholders go in,
    and the first keeps the student's (wrong) region: the solution's must never come back."""
    assignment, _ = tiny
    check = assignment.checks[0]
    two = replace(assignment, checks=(replace(check, points=check.points / 2),
                                      replace(check, name="shift_check", function="shift", points=check.points / 2),
                                      *assignment.checks[1:]))
    solution = ("def scale(x, factor):\n    ### START CODE HERE ###\n    y = x * factor\n    ### END CODE HERE ###\n"
                "    return y\n\n"
                "def shift(x, by):\n    ### START CODE HERE ###\n    z = x + by\n    ### END CODE HERE ###\n    return z\n")
    mine = solution.replace("y = x * factor", "y = x - factor").replace("z = x + by", "z = (x + by")
    result = build(two, notebook_of([solution]), notebook_of([mine]))
    assert result.functions["scale"].status == "ok"
    assert result.functions["shift"].status == "syntax_error"
    assert "y = x - factor" in result.cells[0]
    assert "y = x * factor" not in result.cells[0]
    assert "z = x + by" not in result.cells[0]
