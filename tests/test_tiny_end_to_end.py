"""The tiny one-function assignment graded end to end: kernels, release, student mode.

Each submission is named by its scenario and built from the solution notebook with
one region replaced, so the test reads as the story it checks.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile

import nbformat
import numpy as np
import pytest
from conftest import notebook_with_region, tiny_reference_body

from grader.core.codec import decode
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook
from grader.grading.release import release
from grader.grading.studentkit import DISTRIBUTION
from grader.notebook.regions import placeholder_for

pytestmark = pytest.mark.kernel


def checks_of(result: dict) -> dict[str, dict]:
    return {c["name"]: c for f in result["functions"] for c in f["checks"]}


def function_of(result: dict, name: str = "scale") -> dict:
    return next(f for f in result["functions"] if f["name"] == name)


@pytest.fixture
def catalog(tiny_warm):
    return Catalog(tiny_warm)


def test_correct(catalog, tiny_submission, kernel_options):
    result = grade_notebook(tiny_submission("correct", "y = factor * x"), catalog, options=kernel_options).to_dict()
    assignment = catalog.get("tiny")
    assert result["status"] == "graded"
    assert result["student"] == "correct"
    assert result["score"] == result["max_score"] == assignment.points
    assert {c["status"] for c in checks_of(result).values()} == {"passed"}
    assert function_of(result)["status"] == "ok"


def test_adds_instead_of_multiplies_gets_the_hint(catalog, tiny_submission, kernel_options):
    result = grade_notebook(tiny_submission("adds_instead_of_multiplies", "y = x + factor"), catalog, options=kernel_options).to_dict()
    assert result["score"] == 0
    checks = checks_of(result)
    assert {c["status"] for c in checks.values()} == {"failed"}
    hinted = [c for c in catalog.get("tiny").checks if c.hints]
    assert hinted, "the tiny spec pairs a hint with a known mistake"
    for spec in hinted:
        assert checks[spec.name]["hint"] == spec.hints[0].message
    assert "entries differ" in checks["scale_public"]["message"]


def test_raises_in_region_shows_the_students_line(catalog, tiny_submission, kernel_options):
    line = "raise ValueError('factor must be positive, says the student')"
    result = grade_notebook(tiny_submission("raises_in_region", "y = x * factor\n" + line), catalog, options=kernel_options).to_dict()
    assert result["score"] == 0
    for check in checks_of(result).values():
        assert check["status"] == "error"
        assert "ValueError" in check["message"]
        assert any(line in frame for frame in check["traceback"])
        assert not any("grader-harness" in frame for frame in check["traceback"])


def test_syntax_error_costs_the_function(catalog, tiny_submission, kernel_options):
    result = grade_notebook(tiny_submission("syntax_error", "y = x * (factor"), catalog, options=kernel_options).to_dict()
    assert result["status"] == "graded"
    assert result["score"] == 0
    fn = function_of(result)
    assert fn["status"] == "syntax_error"
    assert "y = x * (factor" in fn["message"]
    assert {c["status"] for c in fn["checks"]} == {"error"}


def test_untouched_is_not_attempted(catalog, tiny_submission, kernel_options):
    result = grade_notebook(tiny_submission("untouched", placeholder_for(tiny_reference_body())), catalog, options=kernel_options).to_dict()
    assert result["score"] == 0
    fn = function_of(result)
    assert fn["status"] == "not_attempted"
    assert {c["status"] for c in fn["checks"]} == {"not_attempted"}


def test_infinite_loop_times_out_and_the_batch_carries_on(tiny_warm, tiny_submission, kernel_options):
    catalog = Catalog(tiny_warm)
    catalog.assignments = [dataclasses.replace(a, cell_timeout=1.0) for a in catalog.assignments]
    looping = grade_notebook(tiny_submission("infinite_loop", "while True:\n    pass\ny = x"), catalog, options=kernel_options).to_dict()
    assert looping["status"] == "graded"
    assert looping["score"] == 0
    assert {c["status"] for c in checks_of(looping).values()} == {"timeout"}
    assert all("did not finish" in c["message"] for c in checks_of(looping).values())
    after = grade_notebook(tiny_submission("correct_after_loop", "y = factor * x"), catalog, options=kernel_options).to_dict()
    assert after["score"] == after["max_score"]


def test_a_loop_that_never_ends_gets_the_same_result_every_time(tiny_warm, tiny_submission, kernel_options):
    """The clock stops a loop on whichever of its lines it is at: that line is not part of the result."""
    catalog = Catalog(tiny_warm)
    catalog.assignments = [dataclasses.replace(a, cell_timeout=1.0) for a in catalog.assignments]
    loop = "n = 0\nwhile n >= 0:\n    n = n + 1\n    n = n * 1\n    n = abs(n)\ny = x"
    path = tiny_submission("loop_of_several_lines", loop)
    first, second = (grade_notebook(path, catalog, options=kernel_options).to_dict() for _ in range(2))
    for result in (first, second):
        result.pop("timing")
        for check in checks_of(result).values():
            assert check["status"] == "timeout" and not check["traceback"]
            assert "did not finish within 1 s" in check["message"]
            check.pop("seconds")
    assert first == second


def test_printing_a_pass_does_not_pass(catalog, tiny_submission, kernel_options):
    fake = ("print('scale_public: passed  2/2')\n"
            "print(json.dumps({'status': 'passed', 'score': 5}))\n"
            "y = x - factor")
    result = grade_notebook(tiny_submission("prints_passed", "import json\n" + fake), catalog, options=kernel_options).to_dict()
    assert result["score"] == 0
    assert {c["status"] for c in checks_of(result).values()} == {"failed"}


def test_same_submission_same_grade(catalog, tiny_submission, kernel_options):
    path = tiny_submission("graded_twice", "y = x * factor + 1e-3 * np.sign(x)")
    first, second = grade_notebook(path, catalog, options=kernel_options).to_dict(), grade_notebook(path, catalog, options=kernel_options).to_dict()

    def essentials(result):
        return (result["score"], [(f["name"], f["status"], [(c["name"], c["status"], c["points"], c["message"])
                                                           for c in f["checks"]]) for f in result["functions"]])

    assert essentials(first) == essentials(second)
    assert first["score"] < first["max_score"]


# --- release and student mode --------------------------------------------------------------

def released_files(folder):
    """Every released file by name; the student wheel's members as ``wheel!member``."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    for name in [n for n in files if n.endswith(".whl")]:
        with zipfile.ZipFile(folder / name) as wheel:
            files.update({f"{name}!{member}": wheel.read(member) for member in wheel.namelist()})
    return files


@pytest.fixture(scope="module")
def released(tiny_warm, tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(tiny_warm, out)
    return out


def test_release_is_byte_identical_twice(tiny_warm, released, tmp_path):
    again = tmp_path / "again"
    release(tiny_warm, again)
    release(tiny_warm, again)  # over an existing release, too
    first, second = released_files(released), released_files(again)
    wheels = [n for n in first if n.startswith(f"{DISTRIBUTION}-") and n.endswith(".whl")]
    assert len(wheels) == 1, "one student wheel, the one a second release wrote over"
    assert {n for n in first if "!" not in n} == {"Tiny.ipynb", "tiny_cases.py", "checks/Tiny.json", *wheels}
    assert f"{wheels[0]}!grader/released/checks/Tiny.json" in first
    assert first == second


def test_release_holds_no_reference_code(released):
    reference = tiny_reference_body()
    for name, data in released_files(released).items():
        assert reference.encode() not in data, name
    notebook = json.loads((released / "Tiny.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert placeholder_for(reference) in code
    assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


def _arrays_in(node):
    value = decode(node, None)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            yield item


def test_release_holds_no_hidden_check_data(tiny_warm, released):
    catalog = Catalog(tiny_warm)
    assignment = catalog.get("tiny")
    hidden = [c for c in assignment.checks if c.hidden]
    assert hidden
    text = (released / "checks" / "Tiny.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert {c["name"] for c in data["checks"]} == {c.name for c in assignment.checks if not c.hidden}
    secret_arrays = []
    for check in hidden:
        assert check.name not in text
        for hint in check.hints:
            assert hint.message not in text
        inputs = assignment.resolve(check.inputs)()
        secret_arrays += [v for v in inputs.values() if isinstance(v, np.ndarray)]
        secret_arrays.append(np.asarray(catalog.expected(assignment)[check.name].value["return"]))
    for item in data["checks"]:
        for array in _arrays_in(item["expected"]):
            assert not any(array.shape == s.shape and np.allclose(array, s) for s in secret_arrays)


def test_student_mode_grades_public_checks_only(released, tiny_submission, tmp_path, kernel_options):
    catalog = Catalog(released)
    assert catalog.mode == "student"
    assignment = catalog.get("tiny")
    public_points = sum(c.points for c in assignment.checks)
    template = catalog.scaffold(assignment)
    nb = notebook_with_region(template, placeholder_for(tiny_reference_body()), "y = factor * x")
    path = tmp_path / "me" / "Tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    result = grade_notebook(path, catalog, options=kernel_options).to_dict()
    assert result["mode"] == "student"
    assert result["score"] == result["max_score"] == public_points
    names = set(checks_of(result))
    assert names == {c.name for c in assignment.checks}
    assert not any(c["hidden"] for c in checks_of(result).values())
    assert result["assignment"]["max_score"] > public_points  # the full worth is still known
