"""The Gradient Checking solution, its helpers and its check specification.

The reference functions come from the solution notebook (every cell not tagged
``demo``, run in-process). The checks are then replayed in-process too: a
"student" is the notebook's graded cells with a few edits, and a check passes
when ``grader.checks.compare`` finds its output equal to the reference's within the
check's tolerance.
"""
from __future__ import annotations

import contextlib
import io
import re
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
from solution_namespace import load_solution_namespace

from grader.checks.compare import compare
from grader.checks.spec import load_module

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
NOTEBOOK = SOLUTIONS / "Gradient_Checking.ipynb"
SEED_1D_DIFFERENCE = 2.919335883291695e-10
SEED_ND_BUGGY = 0.2850931568
SEED_ND_FIXED = 1.19e-07

helpers = load_module(SOLUTIONS / "gradcheck_helpers.py")


@pytest.fixture(scope="module")
def ns():
    return load_solution_namespace(NOTEBOOK)


@pytest.fixture(scope="module")
def assignment():
    spec = load_module(SOLUTIONS / "Gradient_Checking.checks.py")
    return replace(spec.ASSIGNMENT, folder=SOLUTIONS)


@pytest.fixture(scope="module")
def graded_cells():
    """Source of each graded function's cell, by function name."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = {}
    for cell in nb.cells:
        match = re.match(r"# GRADED FUNCTION: (\w+)", cell.source)
        if cell.cell_type == "code" and match:
            cells[match.group(1)] = cell.source
    return cells


def fixed_backward_n(X, Y, cache):
    """backward_propagation_n with both planted bugs corrected."""
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dZ3 = A3 - Y
    dA2 = W3.T @ dZ3
    dZ2 = np.where(A2 > 0, dA2, 0.0)
    dA1 = W2.T @ dZ2
    dZ1 = np.where(A1 > 0, dA1, 0.0)
    return {"dW3": dZ3 @ A2.T / m, "db3": dZ3.sum(axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m,
            "dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m}


def quietly(function, **inputs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(**inputs)


# ----------------------------------------------------------- replaying checks

def outcome(assignment, check, function):
    """What the grader compares for one call: the return value and observed arguments,
    or the exception the call raised."""
    inputs = assignment.resolve(check.inputs)()
    try:
        with np.errstate(all="ignore"):
            value = quietly(function, **inputs)
    except Exception as exc:  # a crashing student fails the check
        return exc
    return {"return": value, **{name: inputs[name] for name in check.observe}}


def agrees(check, expected, got) -> bool:
    if isinstance(expected, Exception) or isinstance(got, Exception):
        return False
    return compare(expected, got, rtol=check.rtol, atol=check.atol).passed


def failed_checks(assignment, reference, student) -> set[str]:
    """Names of the checks a student namespace fails against the reference namespace."""
    return {
        check.name for check in assignment.checks
        if not agrees(check, outcome(assignment, check, reference[check.function]),
                      outcome(assignment, check, student[check.function]))
    }


def student(ns, graded_cells, edits=()):
    """The reference namespace with every graded cell re-run after the given edits.

    ``edits`` are (function, old text, new text); re-running all graded cells makes
    each function call its neighbours from this namespace (gradient_check uses the
    student's own backward_propagation, as in a real submission).
    """
    sources = dict(graded_cells)
    for function, old, new in edits:
        assert old in sources[function], f"{old!r} is not in {function}: update the test"
        sources[function] = sources[function].replace(old, new)
    namespace = dict(ns)
    for source in sources.values():
        exec(compile(source, "<student>", "exec"), namespace)
    return namespace


# ------------------------------------------------------- the expected values

def test_forward_and_backward_on_the_example(ns):
    assert ns["forward_propagation"](**helpers.forward_case()) == 8
    assert ns["backward_propagation"](**helpers.backward_case()) == 2


def test_one_dimensional_difference(ns):
    difference = quietly(ns["gradient_check"], **helpers.gradient_check_case())
    assert difference == pytest.approx(SEED_1D_DIFFERENCE, rel=1e-6)
    assert difference < 1e-7


def test_n_dimensional_difference_with_the_given_backprop(ns):
    difference = quietly(ns["gradient_check_n"], **helpers.gradient_check_n_case())
    assert difference == pytest.approx(SEED_ND_BUGGY, rel=1e-7)
    assert difference > 2e-7


def test_n_dimensional_difference_after_fixing_both_bugs(ns):
    case = helpers.gradient_check_n_case()
    _, cache = ns["forward_propagation_n"](case["X"], case["Y"], case["parameters"])
    case["gradients"] = fixed_backward_n(case["X"], case["Y"], cache)
    difference = quietly(ns["gradient_check_n"], **case)
    assert difference == pytest.approx(SEED_ND_FIXED, abs=1e-8)
    assert difference < 2e-7


def test_notebook_given_code_matches_the_helpers_private_copy(ns):
    """The public builder computes gradients with its own copy of the given code."""
    X, Y, parameters = helpers.draw_network_case()
    cost, cache = ns["forward_propagation_n"](X, Y, parameters)
    copy_cost, copy_cache = helpers._forward_n(X, Y, parameters)
    assert cost == copy_cost
    assert all(np.array_equal(a, b) for a, b in zip(cache, copy_cache, strict=True))
    given = ns["backward_propagation_n"](X, Y, cache)
    copied = helpers._buggy_backward_n(X, Y, cache)
    assert given.keys() == copied.keys()
    assert all(np.array_equal(given[k], copied[k]) for k in given)


def test_gradient_check_n_case_draws_in_the_documented_order():
    case = helpers.gradient_check_n_case()
    np.random.seed(1)
    assert np.array_equal(case["X"], np.random.randn(4, 3))
    assert np.array_equal(case["Y"], [1, 1, 0])
    for name, shape in (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)),
                        ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1))):
        assert np.array_equal(case["parameters"][name], np.random.randn(*shape)), name


# ---------------------------------------------------- vector conversions

def test_dictionary_to_vector_round_trip():
    parameters = helpers.draw_network_case()[2]
    theta, keys = helpers.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1)
    assert len(keys) == 47 and keys[0] == "W1" and keys[20] == "b1" and keys[-1] == "b3"
    back = helpers.vector_to_dictionary(theta)
    assert back.keys() == parameters.keys()
    assert all(np.array_equal(back[k], parameters[k]) for k in parameters)


def test_vector_layout_is_row_major_in_parameter_order():
    parameters = helpers.vector_to_dictionary(np.arange(47.0).reshape(-1, 1))
    assert parameters["W1"][0, 1] == 1 and parameters["W1"][1, 0] == 4
    assert parameters["b1"][0, 0] == 20 and parameters["W2"][0, 0] == 25
    assert parameters["b2"][2, 0] == 42 and parameters["W3"][0, 2] == 45 and parameters["b3"][0, 0] == 46


def test_gradients_line_up_with_parameters():
    parameters = helpers.draw_network_case()[2]
    gradients = {"d" + k: v for k, v in parameters.items()}
    gradients["dZ3"] = np.ones((1, 3))  # extra entries are ignored
    assert np.array_equal(helpers.gradients_to_vector(gradients), helpers.dictionary_to_vector(parameters)[0])


def test_vector_to_dictionary_copies_and_checks_length():
    theta = np.zeros((47, 1))
    parameters = helpers.vector_to_dictionary(theta)
    theta[0, 0] = 5.0
    assert parameters["W1"][0, 0] == 0.0
    with pytest.raises(ValueError):
        helpers.vector_to_dictionary(np.zeros((46, 1)))


# ------------------------------------------------------- the check spec

def test_spec_shape(assignment):
    assert assignment.points == 30
    assert assignment.functions == ("forward_propagation", "backward_propagation",
                                    "gradient_check", "gradient_check_n")
    for function in assignment.functions:
        kinds = {c.hidden for c in assignment.checks_for(function)}
        assert kinds == {False, True}, f"{function} needs public and hidden checks"
    for check in assignment.checks:
        assert check.description
        if not check.hidden:
            assert check.inputs.startswith("gradcheck_helpers:")
            assert callable(assignment.resolve(check.inputs))


def test_reference_replayed_as_a_student_passes_everything(ns, graded_cells, assignment):
    assert failed_checks(assignment, ns, student(ns, graded_cells)) == set()


def test_every_hint_variant_loses_points(assignment, ns):
    """A variant reproduces a mistake; the mistake must fail a check of its function."""
    variants = {}
    for check in assignment.checks:
        for hint in check.hints:
            variants.setdefault((check.function, hint.variant), hint.message)
    assert variants
    for (function, variant), _ in variants.items():
        checks = assignment.checks_for(function)
        failing = [c.name for c in checks
                   if not agrees(c, outcome(assignment, c, ns[function]), outcome(assignment, c, variant))]
        assert failing, f"{variant.__name__} passes every check of {function}"


# Mistakes as a student would write them, with the variant that should recognise them.
MISTAKES = {
    "dtheta_is_theta": ([("backward_propagation", "dtheta = x", "dtheta = theta")], "_dtheta_is_theta"),
    "dtheta_from_cost": ([("forward_propagation", "J = theta * x", "J = np.dot(theta, x)"),
                          ("backward_propagation", "dtheta = x", "dtheta = forward_propagation(x, theta) / theta")],
                         "_dtheta_from_cost"),
    "1d_over_epsilon": ([("gradient_check", "/ (2 * epsilon)", "/ epsilon")], "_gradient_check_over_epsilon"),
    "1d_absolute": ([("gradient_check", "difference = numerator / denominator", "difference = numerator")],
                    "_gradient_check_absolute"),
    "nd_over_epsilon": ([("gradient_check_n", "/ (2 * epsilon)", "/ epsilon")], "_n_over_epsilon"),
    "nd_absolute": ([("gradient_check_n", "difference = numerator / denominator", "difference = numerator")],
                    "_n_absolute"),
    "nd_no_copy": ([("gradient_check_n", "np.copy(parameters_values)", "parameters_values")], "_n_no_copy"),
    "nd_no_copy_plus": ([("gradient_check_n", "thetaplus = np.copy(parameters_values)",
                          "thetaplus = parameters_values")], "_n_no_copy_plus"),
    "nd_no_copy_minus": ([("gradient_check_n", "thetaminus = np.copy(parameters_values)",
                           "thetaminus = parameters_values")], "_n_no_copy_minus"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_student_mistake_fails_and_its_hint_recognises_it(name, ns, graded_cells, assignment):
    edits, variant_name = MISTAKES[name]
    function = edits[-1][0]
    mistaken = student(ns, graded_cells, edits)
    failed = failed_checks(assignment, ns, mistaken)
    assert failed, f"{name} passes every check"
    # gradient_check calls the student's backward_propagation, so a wrong backward
    # pass may cost gradient_check points too; the hint is judged on its own function.
    assert any(c.function == function for c in assignment.checks if c.name in failed)
    for check in assignment.checks_for(function):
        if check.name not in failed:
            continue
        hinted = [h for h in check.hints if h.variant.__name__ == variant_name]
        assert hinted, f"{check.name} fails {name} but has no hint for it"
        got = outcome(assignment, check, mistaken[function])
        shown = outcome(assignment, check, hinted[0].variant)
        assert agrees(check, {"return": shown["return"]}, {"return": got["return"]}), (name, check.name)


def test_the_seed_shortcut_fails_only_at_theta_zero(ns, graded_cells, assignment):
    seed_student = student(ns, graded_cells, MISTAKES["dtheta_from_cost"][0])
    assert failed_checks(assignment, ns, seed_student) == {"backward_theta_zero"}


def test_accumulating_shifts_are_caught_by_a_hidden_check(ns, graded_cells, assignment):
    """thetaminus aliasing parameters_values moves every parameter by -epsilon in turn;
    at epsilon = 1e-7 that hides in the noise, so a hidden check uses a larger step."""
    failed = failed_checks(assignment, ns, student(ns, graded_cells, MISTAKES["nd_no_copy_minus"][0]))
    hidden = {c.name for c in assignment.checks if c.hidden}
    assert failed & hidden


@pytest.mark.parametrize("function", ["gradient_check", "gradient_check_n"])
def test_a_hard_coded_step_fails_a_hidden_check(function, ns, graded_cells, assignment):
    edits = [(function, "+ epsilon", "+ 1e-7"), (function, "- epsilon", "- 1e-7"),
             (function, "(2 * epsilon)", "(2 * 1e-7)")]
    failed = failed_checks(assignment, ns, student(ns, graded_cells, edits))
    assert failed and all(c.hidden for c in assignment.checks if c.name in failed)


ALTERNATIVES = {
    "forward_dot": [("forward_propagation", "J = theta * x", "J = np.dot(theta, x)")],
    "forward_swapped": [("forward_propagation", "J = theta * x", "J = np.multiply(x, theta)")],
    "backward_float": [("backward_propagation", "dtheta = x", "dtheta = float(x)")],
    "gradient_check_inline": [
        ("gradient_check",
         "    J_plus = forward_propagation(x, thetaplus)\n    J_minus = forward_propagation(x, thetaminus)\n"
         "    gradapprox = (J_plus - J_minus) / (2 * epsilon)",
         "    J_minus = forward_propagation(x, theta - epsilon)\n    J_plus = forward_propagation(x, theta + epsilon)\n"
         "    gradapprox = 0.5 * (J_plus - J_minus) / epsilon"),
        ("gradient_check", "numerator = np.linalg.norm(grad - gradapprox)", "numerator = abs(grad - gradapprox)"),
        ("gradient_check", "denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
         "denominator = np.sqrt(grad ** 2) + np.sqrt(gradapprox ** 2)"),
    ],
    "gradient_check_n_reordered": [
        ("gradient_check_n", "thetaplus = np.copy(parameters_values)\n        thetaplus[i][0] = thetaplus[i][0] + epsilon",
         "thetaplus = parameters_values.copy()\n        thetaplus[i, 0] += epsilon"),
        ("gradient_check_n", "J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))",
         "J_minus[i] = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))[0]"),
        ("gradient_check_n", "(J_plus[i] - J_minus[i]) / (2 * epsilon)", "(J_plus[i] - J_minus[i]) / epsilon / 2"),
        ("gradient_check_n", "numerator = np.linalg.norm(grad - gradapprox)",
         "numerator = np.sqrt(np.sum(np.square(grad - gradapprox)))"),
        ("gradient_check_n", "denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
         "denominator = np.sqrt(np.sum(grad ** 2)) + np.sqrt(np.sum(gradapprox ** 2))"),
    ],
}


@pytest.mark.parametrize("name", ALTERNATIVES)
def test_alternative_correct_implementations_pass_every_check(name, ns, graded_cells, assignment):
    assert failed_checks(assignment, ns, student(ns, graded_cells, ALTERNATIVES[name])) == set()


def test_hard_coded_answers_fail_hidden_checks(ns, graded_cells, assignment):
    """Returning the public example's values passes the public checks only."""
    public_values = {
        "forward_propagation": "J = 8", "backward_propagation": "dtheta = 2",
        "gradient_check": f"difference = {SEED_1D_DIFFERENCE!r}",
        "gradient_check_n": "difference = 0.2850931567206389",
    }
    edits = [(f, "\n    return", f"\n    {line}\n    return") for f, line in public_values.items()]
    failed = failed_checks(assignment, ns, student(ns, graded_cells, edits))
    assert failed == {c.name for c in assignment.checks if c.hidden}


# ------------------------------------------------------- the notebook itself

@pytest.mark.slow
def test_notebook_runs_top_to_bottom():
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    seconds = time.perf_counter() - started
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "J = 8" in text and "dtheta = 2" in text
    one_d = float(re.search(r"difference = (\S+)\n", text).group(1))
    assert one_d == pytest.approx(SEED_1D_DIFFERENCE, rel=1e-6)
    n_d = [float(v) for v in re.findall(r"difference = (\S+)\n", text)[1:]]
    assert n_d and all(v == pytest.approx(SEED_ND_BUGGY, rel=1e-7) for v in n_d)
    print(f"notebook executed in {seconds:.2f} s")
