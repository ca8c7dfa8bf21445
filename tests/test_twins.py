"""Twins: hard-coding the released expected outputs earns nothing.

Every public check of the bundled assignments has a twin, the same call on fresh
inputs of the same shape that only solutions/ knows. A public check's points
need the twin to pass too.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_FILES, TINY_SOURCE

from grader.checks.compare import compare
from grader.checks.spec import TWIN_SUFFIX, Check
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
HARD_CODED = "passes only on the released inputs; the output looks hard-coded"


@pytest.fixture(scope="module")
def catalog():
    return Catalog(SOLUTIONS)


def _public(catalog):
    return [(a, c) for a in catalog.assignments for c in a.checks if not c.hidden]


def test_every_public_check_of_the_bundled_assignments_has_a_twin(catalog):
    missing = [c.name for _, c in _public(catalog) if c.twin is None]
    assert not missing


def test_a_twin_runs_right_after_its_check(catalog):
    for assignment in catalog.assignments:
        names = [r.name for r in assignment.runs]
        for check in assignment.checks:
            if check.twin is not None:
                assert names[names.index(check.name) + 1] == check.name + TWIN_SUFFIX


def test_a_twin_belongs_to_a_public_check_and_lives_in_the_spec():
    with pytest.raises(ValueError, match="twin"):
        Check("h", "f", points=1, inputs=lambda: {}, rtol=0, atol=0, hidden=True, twin=lambda: {})
    with pytest.raises(ValueError, match="twin"):
        Check("p", "f", points=1, inputs="cases:p", rtol=0, atol=0, twin="cases:q")


def _structure(value):
    """What 'the same shape' keeps: keys, types, list lengths, array ranks and kinds."""
    if isinstance(value, dict):
        return {k: _structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_structure(v) for v in value]]
    if isinstance(value, np.ndarray):
        return ["ndarray", value.ndim, value.dtype.kind]
    return type(value).__name__


def test_twin_inputs_have_the_public_inputs_shape_but_other_values(catalog):
    for assignment, check in _public(catalog):
        public = assignment.resolve(check.inputs)()
        twin = check.twin()
        assert _structure(twin) == _structure(public), check.name
        assert not compare(public, twin, rtol=0, atol=0).passed, f"{check.name}: the twin's inputs are the public ones"


@pytest.mark.kernel
def test_the_public_answer_fails_every_twin(catalog):
    """Copying a released expected output cannot pass the twin: the reference outputs differ."""
    for assignment, check in _public(catalog):
        expected = catalog.expected(assignment)
        public, twin = expected[check.name].value, expected[check.name + TWIN_SUFFIX].value
        assert not compare(twin["return"], public["return"], rtol=check.rtol, atol=check.atol).passed, check.name


# ---- end to end, on a copy of the tiny assignment with a twin for its public check

TWIN_SPEC = '''

def _scale_twin():
    return {"x": np.array([[2.5, -1.0, 4.0], [0.5, 7.0, -3.0]]), "factor": 3.0}


ASSIGNMENT = dataclasses.replace(ASSIGNMENT, checks=(
    dataclasses.replace(ASSIGNMENT.checks[0], twin=_scale_twin),) + ASSIGNMENT.checks[1:])
'''


@pytest.fixture(scope="module")
def tiny_with_twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_twin")
    for name in TINY_FILES:
        shutil.copyfile(TINY_SOURCE / name, folder / name)
    spec = folder / "Tiny.checks.py"
    spec.write_text("import dataclasses\n" + spec.read_text() + TWIN_SPEC)
    return Catalog(folder)


def _checks(result):
    return {c["name"]: c for f in result["functions"] for c in f["checks"]}


@pytest.mark.kernel
@pytest.mark.parametrize("scenario, region, public_message", [
    ("copies_the_released_answer", "y = np.array([[0.0, 3.0, 6.0], [9.0, 12.0, 15.0]])",
     HARD_CODED + " (on fresh inputs of the same shape it returns a different answer from the reference)"),
    ("special_cases_the_released_input", "y = factor * x if x[0, 0] == 0 else x",
     HARD_CODED + " (on fresh inputs of the same shape it returns a different answer from the reference)"),
    ("fails_loudly_off_the_released_input", "assert x[0, 0] == 0\ny = factor * x",
     HARD_CODED + " (on fresh inputs of the same shape it raised AssertionError)"),
])
def test_hard_coded_public_answers_earn_nothing(tiny_with_twin, tiny_submission, scenario, region, public_message):
    result = grade_notebook(tiny_submission(scenario, region), tiny_with_twin).to_dict()
    checks = _checks(result)
    assert checks["scale_public"]["status"] == "failed"
    assert checks["scale_public"]["points"] == 0
    assert checks["scale_public"]["message"] == public_message
    assert not [name for name in checks if TWIN_SUFFIX in name], "twins are not reported as checks"
    assert result["score"] == 0


@pytest.mark.kernel
def test_honest_work_keeps_its_points_with_a_twin(tiny_with_twin, tiny_submission):
    result = grade_notebook(tiny_submission("honest", "y = x * factor"), tiny_with_twin).to_dict()
    assert result["score"] == result["max_score"] == 5
    public = _checks(result)["scale_public"]
    assert public["status"] == "passed" and "hard-coded" not in public["message"]
