"""The second opinion (a student's whole definition, graded too) and dependent functions.

Scenario grades are in tests/test_scenarios.py; here: when a second opinion is prepared and
how its reason reads (no kernel), the three review policies, what reaches the report, the
class overview and summary.json, and how a failing dependency is named.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.checks.spec import Check
from grader.cli import main
from grader.core.files import safe_file_name
from grader.core.results import (
    CheckResult,
    CheckStatus,
    FunctionResult,
    FunctionStatus,
    Kept,
    Review,
)
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook, name_failing_dependencies
from grader.grading.pipeline import PreparedInputs, plan
from grader.notebook.build import build
from grader.notebook.regions import extract, normalise_source

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


@pytest.fixture(scope="module")
def gc(catalog):
    return catalog.get("Gradient_Checking.ipynb")


def solution(name: str = "Gradient_Checking.ipynb") -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / "solutions" / name), as_version=4)


def edited(function: str, edit) -> nbformat.NotebookNode:
    """The solution with ``edit(lines, regions)`` applied to the lines of ``function``'s cell."""
    nb = solution()
    cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source)
    text = normalise_source(cell.source)
    lines = text.split("\n")
    edit(lines, extract(text, function).regions)
    cell.source = "\n".join(lines)
    return nb


def second_reasons(catalog, assignment, nb, **options) -> dict[str, str]:
    return build(assignment, catalog.scaffold(assignment), nb, **options).second


# --- when a second opinion is prepared, and its reason (no kernel) ---------------------------

def test_a_submission_like_the_scaffold_gets_no_second_opinion(catalog, gc):
    assert second_reasons(catalog, gc, solution()) == {}


def test_comments_docstrings_and_marker_style_are_no_difference(catalog, gc):
    def cosmetic(lines, regions):
        lines.insert(regions[0].start, "    # my own note about the next step")
        for i, line in enumerate(lines):
            if "Compare backward_propagation" in line:
                lines[i] = line.replace("Compare backward_propagation", "Check backward_propagation")
            lines[i] = lines[i].replace("### START CODE HERE ###", "# YOUR CODE STARTS HERE")
            lines[i] = lines[i].replace("### END CODE HERE ###", "# YOUR CODE ENDS HERE")
    assert second_reasons(catalog, gc, edited("gradient_check", cosmetic)) == {}


@pytest.mark.parametrize("where, edit, reason", [
    ("above", lambda lines, r: lines.insert(r[0].start, "    thetaplus = theta + epsilon"),
     "your code sits above the START marker of region 1"),
    ("below", lambda lines, r: lines.insert(r[2].end + 1, "    difference = abs(difference)"),
     "your code sits below the END marker of region 3"),
    ("between", lambda lines, r: lines.insert(r[1].start, "    grad = x"),
     "your code sits between regions 1 and 2 (`grad = x`)"),
    ("import", lambda lines, r: lines.insert(r[0].start, "    import math"),
     "`import math` is outside the regions"),
    ("deleted", lambda lines, r: lines.remove("    return difference"),
     "the scaffold's `return difference` is missing from your definition"),
])
def test_the_reason_says_where_the_student_wrote(catalog, gc, where, edit, reason):
    reasons = second_reasons(catalog, gc, edited("gradient_check", edit))
    assert set(reasons) == {"gradient_check"}
    assert reason in reasons["gradient_check"]


def test_a_renamed_scaffold_variable_is_named(catalog, gc):
    def rename(lines, regions):
        for i, line in enumerate(lines):
            lines[i] = re.sub(r"\bnum_parameters\b", "n_params", line)
    reasons = second_reasons(catalog, gc, edited("gradient_check_n", rename))
    assert reasons == {"gradient_check_n": "the scaffold's variable `num_parameters` is renamed `n_params` "
                                           "outside the regions"}


def test_an_import_in_a_cell_of_the_students_own_runs_with_the_whole_definition(catalog, gc):
    nb = edited("gradient_check", lambda lines, r: lines.insert(r[2].start + 1, "    unused = sqrt(4)"))
    nb.cells.insert(0, nbformat.v4.new_code_cell("import numpy as np\nfrom math import sqrt\nimport json"))
    built = build(gc, catalog.scaffold(gc), nb)
    assert built.second == {"gradient_check": "`from math import sqrt` is outside the regions (code cell 1, line 2)"}
    home = built.functions["gradient_check"].cell
    assert "from math import sqrt\ndef gradient_check(" in built.second_cells[home]
    assert "import json" not in built.second_cells[home]  # only what the definition uses


def test_a_later_definition_is_a_second_opinion_with_its_place(catalog, gc):
    nb = solution()
    nb.cells.append(nbformat.v4.new_code_cell("def forward_propagation(x, theta):\n    return x * theta"))
    reasons = second_reasons(catalog, gc, nb)
    assert list(reasons) == ["forward_propagation"]
    assert re.fullmatch(r"code cell \d+, line 1 defines `forward_propagation` again \(it has no START/END markers\)",
                        reasons["forward_propagation"])


def test_strict_prepares_nothing_and_a_definition_that_cannot_compile_is_not_run(catalog, gc):
    above = edited("gradient_check", lambda lines, r: lines.insert(r[0].start, "    import math"))
    assert second_reasons(catalog, gc, above, second_opinion=False) == {}
    broken = edited("gradient_check", lambda lines, r: lines.insert(r[0].start, "    thetaplus = (theta +"))
    built = build(gc, catalog.scaffold(gc), broken)
    assert built.second == {} and built.second_cells == []


def test_the_second_job_calls_only_the_flagged_functions_checks(catalog, gc):
    nb = nbformat.read(str(SUBMISSIONS / "gc_code_above_start.ipynb"), as_version=4)
    with PreparedInputs() as inputs:
        planned = plan(gc, catalog.scaffold(gc), nb, inputs=inputs)
        assert planned.second is not None
        assert {c.function for c in planned.second.calls} == {"gradient_check"}
        assert {c.check for c in planned.second.calls} >= {c.name for c in gc.checks_for("gradient_check")}
        assert plan(gc, catalog.scaffold(gc), nb, inputs=inputs, second_opinion=False).second is None


def test_dependencies_are_the_graded_functions_a_definition_calls(catalog, gc):
    uses = build(gc, catalog.scaffold(gc), solution()).uses
    assert uses["gradient_check"] == ("forward_propagation", "backward_propagation")
    assert uses["forward_propagation"] == () and uses["gradient_check_n"] == ()


# --- dependent functions (no kernel) ---------------------------------------------------------

def _check(name: str, status: CheckStatus, points: float, hint: str | None = None) -> CheckResult:
    return CheckResult(name=name, status=status, points=points, max_points=2, message="differs", hint=hint)


def test_a_failing_dependency_is_named_its_hint_withheld_and_points_kept(gc):
    backward = FunctionResult("backward_propagation", FunctionStatus.OK,
                              (_check("backward_x2_theta4", CheckStatus.FAILED, 0),))
    gradient = FunctionResult("gradient_check", FunctionStatus.OK, (
        _check("gradient_check_x2_theta4", CheckStatus.FAILED, 0, hint="gradapprox looks twice too large"),
        _check("gradient_check_negative", CheckStatus.PASSED, 2)))
    named = name_failing_dependencies(gc, (backward, gradient), {"gradient_check": ("backward_propagation",)})
    failed, passed = named[1].checks
    assert failed.message == "uses your `backward_propagation`, which fails its own checks; fix that first"
    assert failed.hint is None and failed.points == 0
    assert passed == gradient.checks[1]  # a passing check is left as it is
    assert named[0] == backward
    assert named[1].score == gradient.score


def test_a_passing_dependency_or_a_spec_saying_none_blames_nobody(gc):
    from dataclasses import replace

    backward_ok = FunctionResult("backward_propagation", FunctionStatus.OK,
                                 (_check("backward_x2_theta4", CheckStatus.PASSED, 2),))
    backward_bad = FunctionResult("backward_propagation", FunctionStatus.OK,
                                  (_check("backward_x2_theta4", CheckStatus.FAILED, 0),))
    gradient = FunctionResult("gradient_check", FunctionStatus.OK,
                              (_check("gradient_check_x2_theta4", CheckStatus.FAILED, 0, hint="h"),))
    derived = {"gradient_check": ("backward_propagation",)}
    assert name_failing_dependencies(gc, (backward_ok, gradient), derived)[1] == gradient
    checks = tuple(replace(c, uses=()) if c.function == "gradient_check" else c for c in gc.checks)
    says_none = replace(gc, checks=checks)
    assert name_failing_dependencies(says_none, (backward_bad, gradient), derived)[1] == gradient


def test_uses_survives_the_release_of_public_checks(tmp_path):
    check = Check("c", "f", points=1, inputs="m:case", rtol=0, atol=0, uses=("g",))
    assert check.uses == ("g",)
    assert Check("c", "f", points=1, inputs="m:case", rtol=0, atol=0).uses is None


# --- the review's one line ------------------------------------------------------------------

def test_the_review_line_shows_both_scores_and_which_counts():
    regions = FunctionResult("f", FunctionStatus.OK, (_check("a", CheckStatus.ERROR, 0),),
                             review=Review("`import math` is outside the regions", 2.0))
    assert regions.review_line == ("regions 0/2, whole definition 2/2 (the regions count): "
                                   "`import math` is outside the regions")
    best = FunctionResult("f", FunctionStatus.OK, (_check("a", CheckStatus.PASSED, 2),),
                          review=Review("why", 0.0, Kept.DEFINITION))
    assert best.review_line == "regions 0/2, whole definition 2/2 (the whole definition counts): why"
    assert Review.from_dict(best.review.to_dict()) == best.review
    assert Review.from_dict({"reason": "old", "other_score": 1}).kept is Kept.REGIONS


# --- policies, in a kernel ------------------------------------------------------------------

@pytest.mark.kernel
def test_best_counts_the_whole_definition_and_strict_runs_no_second_opinion(catalog):
    path = SUBMISSIONS / "gc_code_above_start.ipynb"
    best = grade_notebook(path, catalog, review_policy="best")
    function = {f.name: f for f in best.functions}["gradient_check"]
    assert best.score == pytest.approx(30) and function.score == pytest.approx(9)
    assert function.review.kept is Kept.DEFINITION and function.review.other_score == 0
    assert "above the START marker" in function.review_line
    assert best.to_dict()["review_policy"] == "best"
    strict = grade_notebook(path, catalog, review_policy="strict")
    assert strict.score == pytest.approx(21) and strict.needs_review == []


@pytest.mark.kernel
def test_review_reaches_report_overview_and_summary_and_the_policy_is_part_of_reuse(capsys, tmp_path):
    folder = tmp_path / "class" / "kim"
    folder.mkdir(parents=True)
    shutil.copyfile(SUBMISSIONS / "gc_code_above_start.ipynb", folder / "Gradient_Checking.ipynb")
    out = tmp_path / "out"
    args = ["grade", str(tmp_path / "class"), "--solutions", str(ROOT / "solutions"), "--out", str(out)]

    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "needs review" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["review_policy"] == "regions"
    assert [(r["student"], r["function"], r["score"], r["other_score"], r["kept"]) for r in summary["needs_review"]] \
        == [("kim", "gradient_check", 0.0, 9.0, "regions")]
    line = "regions 0/9, whole definition 9/9 (the regions count): your code sits above the START marker of region 1"
    assert line in (out / "index.html").read_text()
    assert "grader override kim gradient_checking gradient_check --accept" in (out / "index.html").read_text()
    report = (out / safe_file_name("kim") / "report.html").read_text()
    assert "Needs review" in report and line in report

    assert main(args + ["--review-policy", "best"]) == 0  # another policy: graded again, not reused
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["graded"] == 1 and summary["unchanged"] == 0
    assert summary["needs_review"][0]["kept"] == "definition"
    assert summary["average"] == pytest.approx(30)
    assert main(args + ["--review-policy", "best"]) == 0  # the same policy again: reused
    capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["unchanged"] == 1
