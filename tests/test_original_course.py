"""Notebooks saved from the original course grade by their regions, like our own.

The fixtures (tests/original_course/, written by tests/make_original_course.py) carry
the course's structure: its helper imports and test calls, saved outputs and
tracebacks, nbformat 4.0 to 4.5, Coursera or Colab metadata, and both editions'
scaffolds. Each scenario states the grade it must get (scenarios.json).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from grader.grading.catalog import Catalog
from grader.notebook.build import build
from grader.notebook.fit import (
    aliases_outside,
    bindings_outside,
    counterparts,
    enclosing_loop,
    loop_offset,
    names_bound,
    renamed,
)
from grader.notebook.reader import parse_notebook, read_notebook
from grader.notebook.regions import extract, is_untouched, normalise_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "original_course"
SCENARIOS = json.loads((FIXTURES / "scenarios.json").read_text(encoding="utf-8"))
IDS = [s["file"][:-6] for s in SCENARIOS]


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


def raw(scenario: dict) -> dict:
    return json.loads((FIXTURES / scenario["file"]).read_text(encoding="utf-8"))


def built(scenario: dict, catalog: Catalog):
    nb = read_notebook(FIXTURES / scenario["file"])
    assignment, reason = catalog.recognise(nb)
    assert assignment is not None, reason
    return assignment, build(assignment, catalog.scaffold(assignment), nb)


# ---- the fixtures are what they claim to be ------------------------------------------

def test_every_fixture_is_listed_and_every_listed_one_exists():
    listed = {s["file"] for s in SCENARIOS}
    on_disk = {p.name for p in FIXTURES.glob("*.ipynb")}
    assert listed == on_disk


def test_each_expected_grade_is_full_marks_minus_the_checks_it_loses(catalog):
    for scenario in SCENARIOS:
        spec = catalog.get(scenario["notebook"])
        names = {c.name for c in spec.checks}
        assert set(scenario["loses"]) <= names, scenario["file"]
        if scenario["unfilled"]:
            assert scenario["score"] == 0
            continue
        lost = sum(c.points for c in spec.checks if c.name in scenario["loses"])
        assert scenario["score"] == spec.points - lost, scenario["file"]


def test_fixtures_cover_what_old_submissions_carry():
    notebooks = [raw(s) for s in SCENARIOS]
    sources = ["".join(c["source"]) for nb in notebooks for c in nb["cells"]]
    outputs = [o for nb in notebooks for c in nb["cells"] for o in c.get("outputs", [])]
    assert {nb["nbformat_minor"] for nb in notebooks} == {0, 1, 2, 3, 4, 5}
    assert all("id" not in c for nb in notebooks if nb["nbformat_minor"] < 5 for c in nb["cells"])
    for module in ("testCases", "init_utils", "gc_utils", "opt_utils", "public_tests"):
        assert any(re.search(rf"^from {module}\w* import", s, re.M) for s in sources), module
    assert any("### START CODE HERE ### (≈" in s for s in sources)
    assert any("### START CODE HERE ### (approx." in s for s in sources)
    assert any("# YOUR CODE STARTS HERE" in s for s in sources)
    assert any(s.startswith("# GRADED FUNCTION: update_lr") for s in sources), "an exercise we do not grade"
    assert any(re.search(r"^\w+_test\(\w+\)$", s, re.M) for s in sources), "calls into public_tests"
    kinds = {o["output_type"] for o in outputs}
    assert {"stream", "display_data", "error"} <= kinds
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any(nb["metadata"].get("coursera") for nb in notebooks)
    assert any(nb["metadata"].get("colab") for nb in notebooks)
    assert any(c.get("execution_count") for nb in notebooks for c in nb["cells"])


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if "crashed" in s["file"]],
                         ids=lambda s: s["file"][:-6])
def test_crashed_fixtures_hold_saved_tracebacks(scenario):
    errors = [o for c in raw(scenario)["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert any(e["ename"] == "ModuleNotFoundError" for e in errors)
    assert any(e["ename"] == "NameError" for e in errors)


# ---- building, without a kernel --------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_regions_are_found_in_every_fixture(scenario, catalog):
    assignment, result = built(scenario, catalog)
    assert assignment.notebook == scenario["notebook"]
    statuses = {name: f.status for name, f in result.functions.items()}
    if scenario["unfilled"]:
        assert set(statuses.values()) == {"not_attempted"}
        return
    expected = {name: "fallback" if name in scenario["fallback"] else "ok" for name in assignment.functions}
    assert statuses == expected
    assert len(result.flags) == len(scenario["fallback"])
    for name in scenario["fallback"]:
        assert any(flag.startswith(f"{name}: START/END markers deleted") for flag in result.flags)
    for cell in result.cells:
        compile(cell, "<built cell>", "exec")


def test_classic_regions_run_unchanged(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "opt_classic_correct.ipynb")
    _, result = built(scenario, catalog)
    assert not any("counted as in its own loop" in n or "was kept" in n for n in result.notes)
    assert not any("counted as in the loop" in cell for cell in result.cells)


def test_revised_loops_from_one_are_counted_as_written(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "opt_revised_correct.ipynb")
    _, result = built(scenario, catalog)
    adam = result.cells[result.functions["update_parameters_with_adam"].cell]
    assert adam.count("l = l + 1") == 5 and adam.count("l = l - 1") == 5
    loop_notes = [n for n in result.notes if "counted as in its own loop" in n]
    assert [n.split(":")[0] for n in loop_notes] == [
        "update_parameters_with_gd", "initialize_velocity", "update_parameters_with_momentum",
        "initialize_adam", "update_parameters_with_adam"]
    assert "regions 1, 2, 3, 4, 5 were written inside `for l in range(1, L + 1):`" in loop_notes[-1]
    # What the report shows is the student's own code, not the fitted one.
    shown = [r["code"] for r in result.functions["update_parameters_with_gd"].regions]
    assert shown == ['parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]\n'
                     'parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]']


def test_the_course_alias_inc_travels_with_the_regions_that_use_it(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "opt_revised_correct.ipynb")
    _, result = built(scenario, catalog)
    batches = result.cells[result.functions["random_mini_batches"].cell]
    assert batches.count("inc = mini_batch_size") == 2
    assert any(n.startswith("random_mini_batches: `inc = mini_batch_size`") for n in result.notes)


def test_the_revised_grad_approx_is_read_as_our_gradapprox(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "gc_revised_correct.ipynb")
    _, result = built(scenario, catalog)
    cell = result.cells[result.functions["gradient_check_n"].cell]
    assert "gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)" in cell
    assert "grad_approx" not in cell
    assert ("gradient_check_n: `grad_approx`, which the notebook's own code around the regions binds where ours "
            "binds `gradapprox`, was read as `gradapprox` in regions 3, 4.") in result.notes
    # The report shows what the student wrote.
    assert "grad_approx[i]" in result.functions["gradient_check_n"].regions[2]["code"]


def test_signatures_come_from_our_scaffold_not_the_student(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "gc_classic_extra_parameters.ipynb")
    _, result = built(scenario, catalog)
    cell = result.cells[result.functions["gradient_check"].cell]
    assert "def gradient_check(x, theta, epsilon=1e-7):" in cell
    assert "print_msg" not in "\n".join(result.cells)
    assert any("differ from the assignment outside the marked regions" in n for n in result.notes)


def test_a_fallback_keeps_the_students_own_signature(catalog):
    scenario = next(s for s in SCENARIOS if s["file"] == "gc_revised_markers_deleted.ipynb")
    _, result = built(scenario, catalog)
    cell = result.cells[result.functions["gradient_check"].cell]
    assert "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):" in cell


# ---- the pieces, on small texts ----------------------------------------------------------

@pytest.mark.parametrize("written_for, runs_in, shift", [
    ("for l in range(1, L + 1):", "for l in range(L):", 1),
    ("for l in range(L):", "for l in range(1, L + 1):", -1),
    ("for l in range(0, L):", "for l in range(L):", 0),
    ("for l in range(1, len(parameters) // 2 + 1):", "for l in range(len(parameters) // 2):", 1),
    ("for l in range(1, L):", "for l in range(L):", 0),            # one step fewer: not the same loop
    ("for k in range(1, L + 1):", "for l in range(L):", 0),        # another variable
    ("for l in range(1, L + 1, 1):", "for l in range(L):", 0),     # steps are not compared
    ("for l in reversed(range(L)):", "for l in range(L):", 0),
    ("", "for l in range(L):", 0),
])
def test_loop_offset(written_for, runs_in, shift):
    assert loop_offset(written_for, runs_in) == shift


def test_enclosing_loop_sees_through_markers_outdented_from_their_code():
    text = normalise_source(
        "def f(p):\n"
        "    for l in range(1, L + 1):  # layers\n"
        "        # (approx. 1 line)\n"
        "    # YOUR CODE STARTS HERE\n"
        "        v['dW' + str(l)] = 0\n"
        "    # YOUR CODE ENDS HERE\n"
        "    return v\n")
    found = extract(text, "f")
    assert enclosing_loop(text.split("\n"), found.span, found.regions[0]) == "for l in range(1, L + 1):"


def test_a_region_outside_any_loop_has_no_enclosing_loop():
    text = "def f(x):\n    ### START CODE HERE ###\n    y = x\n    ### END CODE HERE ###\n    return y\n"
    found = extract(text, "f")
    assert enclosing_loop(text.split("\n"), found.span, found.regions[0]) == ""


def test_only_plain_aliases_outside_regions_are_collected():
    text = ("def f(X, size=64):\n"
            "    inc = size\n"
            "    total = size * 2\n"
            "    ### START CODE HERE ###\n"
            "    step = inc  # inside a region: the student's own\n"
            "    ### END CODE HERE ###\n"
            "    return step\n")
    found = extract(text, "f")
    assert aliases_outside(text.split("\n"), found.span, found.regions) == {"inc": "size"}
    assert names_bound(text) >= {"X", "size", "inc", "total", "step"}


def _bindings(text: str):
    found = extract(normalise_source(text), "f")
    return bindings_outside(text.split("\n"), found.span, found.regions)


def test_names_bound_the_same_way_are_paired_in_order():
    ours = _bindings("def f(n):\n    a = np.zeros((n, 1))\n    b = np.zeros((n, 1))\n    c = np.zeros((n, 1))\n"
                     "    for i in range(n):\n        ### START CODE HERE ###\n        c[i] = a[i]\n"
                     "        ### END CODE HERE ###\n    return c\n")
    mine = _bindings("def f(size):\n    a = np.zeros((n, 1))\n    bee = np.zeros((n, 1))\n    cee = np.zeros((n, 1))\n"
                     "    for k in range(n):\n        # YOUR CODE STARTS HERE\n        cee[k] = a[k]\n"
                     "        # YOUR CODE ENDS HERE\n    return cee\n")
    assert (("for", "range(n)", -1), "k") in mine
    paired = counterparts(mine, ours, {n for _, n in mine}, {n for _, n in ours})
    assert paired == {"size": "n", "bee": "b", "cee": "c", "k": "i"}


def test_names_are_not_paired_when_the_counts_differ():
    ours = [(("=", "np.zeros(3)", -1), "a"), (("=", "np.zeros(3)", -1), "b")]
    mine = [(("=", "np.zeros(3)", -1), "x")]
    assert counterparts(mine, ours, {"x"}, {"a", "b"}) == {}


def test_renaming_leaves_attributes_keywords_strings_and_comments_alone():
    code = "grad_approx[i] = f(grad_approx=1) + obj.grad_approx  # grad_approx\ns = 'grad_approx'\nz = grad_approx"
    assert renamed(code, {"grad_approx": "gradapprox"}) == (
        "gradapprox[i] = f(grad_approx=1) + obj.grad_approx  # grad_approx\ns = 'grad_approx'\nz = gradapprox")
    assert renamed("x = (", {"x": "y"}) == "x = ("  # does not tokenize: left as written


def test_the_course_none_stubs_count_as_not_attempted():
    ours = 'parameters["W" + str(l + 1)] = None'
    assert is_untouched("parameters['W' + str(l+1)] = None\nparameters['b' + str(l+1)] = None", ours)
    assert is_untouched("thetaplus = None      # Step 1\nthetaminus = None", ours)
    assert not is_untouched("parameters['W' + str(l+1)] = None\nparameters['b' + str(l+1)] = 0", ours)
    assert not is_untouched("W = np.zeros((2, 3))", ours)


# ---- reading what old notebooks carry ----------------------------------------------------

@pytest.mark.parametrize("damage", [
    lambda cell: cell.__setitem__("outputs", None),
    lambda cell: cell.__setitem__("outputs", ["a bare string", None, 3]),
    lambda cell: cell.__setitem__("outputs", [{"output_type": "display_data", "data": None}]),
    lambda cell: cell.__setitem__("metadata", None),
], ids=["outputs-null", "outputs-not-objects", "output-data-null", "metadata-null"])
def test_damaged_saved_outputs_do_not_cost_the_notebook(damage):
    nb = raw(SCENARIOS[0])
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "def initialize_parameters_zeros" in "".join(c["source"]))
    damage(cell)
    read = parse_notebook(json.dumps(nb).encode())
    mine = next(c for c in read.cells if "def initialize_parameters_zeros" in c.source)
    assert mine.source == "".join(cell["source"])


def test_colab_metadata_and_old_minor_versions_read_like_any_notebook():
    for scenario in SCENARIOS:
        nb = read_notebook(FIXTURES / scenario["file"])
        assert nb.nbformat == 4
        nbformat.validate(nb)


# ---- grading, with a kernel (one batch for every fixture) ---------------------------------

@pytest.fixture(scope="module")
def graded(catalog, kernel_options):
    from grader.grading.grade import grade_notebook

    return {s["file"]: grade_notebook(FIXTURES / s["file"], catalog, options=kernel_options).to_dict() for s in SCENARIOS}


@pytest.mark.kernel
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_fixture_gets_its_grade(scenario, graded, catalog):
    result = graded[scenario["file"]]
    assert result["status"] == "graded", result["message"]
    assert result["assignment"]["title"] == catalog.get(scenario["notebook"]).title
    checks = {c["name"]: c for f in result["functions"] for c in f["checks"]}
    if scenario["unfilled"]:
        assert {c["status"] for c in checks.values()} == {"not_attempted"}
    else:
        lost = {name for name, c in checks.items() if c["status"] != "passed"}
        assert lost == set(scenario["loses"]), {n: checks[n]["message"] for n in lost}
    assert result["score"] == pytest.approx(scenario["score"])
    # The course's helper modules are absent from the kernel; that never shows in a check.
    messages = " ".join(c["message"] for c in checks.values())
    assert not re.search(r"testCases|_utils|public_tests|ModuleNotFoundError", messages)


@pytest.mark.kernel
def test_a_revised_adam_returning_five_items_is_graded_on_its_first_three(graded):
    result = graded["opt_revised_adam_markers_deleted.ipynb"]
    adam = next(f for f in result["functions"] if f["name"] == "update_parameters_with_adam")
    assert adam["status"] == "fallback"
    assert adam["score"] == adam["max_score"] == 10
    assert "return parameters, v, s, v_corrected, s_corrected" in adam["regions"][0]["code"]


def test_the_adam_projection_keeps_three_of_five_and_nothing_else(catalog):
    spec = catalog.get("optimization")
    project = spec.resolve(next(c for c in spec.checks if c.name == "adam_two_layers_t2").project)
    assert project(("p", "v", "s", "vc", "sc")) == ("p", "v", "s")
    assert project(("p", "v", "s", "vc")) == ("p", "v", "s", "vc")  # still "has 4 items, expected 3"
    assert project(("p", "v", "s")) == ("p", "v", "s")
