"""A check's projection applied in the kernel: the grader gets the small projection back, not
the large output, and grades it as it graded the full output."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook
from grader.grading.pipeline import _Unprojectable, kernel_projection, observed_output, run_checks

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
PUBLIC = "mini_batches_148_by_64"


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


@pytest.fixture(scope="module")
def optimization(catalog):
    return catalog.get("optimization")


def _check(assignment, name):
    return next(c for c in assignment.runs if c.name == name)


def test_only_projections_in_the_assignments_files_go_to_the_kernel(optimization):
    assert kernel_projection(optimization, _check(optimization, PUBLIC)) == "nn_test_cases:mini_batches_summary"
    assert kernel_projection(optimization, _check(optimization, "gd_two_layers")) is None  # none at all
    spec_only = _check(optimization, PUBLIC).__class__(
        "x", "random_mini_batches", points=1, inputs=lambda: {}, rtol=0, atol=0, hidden=True, project=len)
    assert kernel_projection(optimization, spec_only) is None  # a callable of the spec stays in the grader


def test_the_kernel_sends_back_the_summary_not_the_batches(catalog, optimization):
    student = nbformat.read(str(SUBMISSIONS / "opt_reference_code.ipynb"), as_version=4)
    run = run_checks(optimization, catalog.scaffold(optimization), student, second_opinion=False)
    output = run.execution.outputs[PUBLIC]
    assert output["status"] == "ok" and output["projected"] is True
    assert set(output["value"]) == {"X_shapes", "Y_shapes", "sanity_check", "first_columns", "labels"}
    assert observed_output(optimization, _check(optimization, PUBLIC), output)["return"] is output["value"]


def test_a_failed_projection_in_the_kernel_reads_like_one_in_the_grader(optimization):
    got = observed_output(optimization, _check(optimization, PUBLIC),
                          {"status": "ok", "value": None, "unprojectable": "TypeError: 'int' object is not iterable"})
    assert isinstance(got["return"], _Unprojectable)
    assert "an output of the wrong form (TypeError" in repr(got["return"])


def test_a_mistake_in_the_batches_still_fails_with_what_differs(catalog):
    result = grade_notebook(SUBMISSIONS / "opt_mini_batches_drop_last.ipynb", catalog)
    public = next(c for f in result.functions for c in f.checks if c.name == PUBLIC)
    assert public.status.value == "failed" and public.points == 0
    assert public.message.startswith("result['X_shapes']: 1 of 6 entries differ")
    shapes = next(d for d in public.details if d["path"] == "result['X_shapes']")
    assert shapes["expected"][2] == [12288, 20] and shapes["got"][2] == [12288, 0]


def test_the_reference_code_passes_the_projected_check(catalog):
    result = grade_notebook(SUBMISSIONS / "opt_reference_code.ipynb", catalog)
    public = next(c for f in result.functions for c in f.checks if c.name == PUBLIC)
    assert public.status.value == "passed" and public.points == public.max_points
