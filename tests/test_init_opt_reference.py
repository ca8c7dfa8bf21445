"""The Initialization and Optimization methods solutions, helpers and check specifications.

Reference functions come from the solution notebooks (every cell not tagged
``demo``, run in-process). Known mistakes are made the way students make them:
the notebook's graded cell with one edit. The specs are then replayed
in-process: a "student" passes a check when ``grader.checks.compare`` finds its
(projected) output equal to the reference's within the check's tolerance.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
from solution_namespace import load_solution_namespace

from grader.checks.compare import compare
from grader.checks.spec import load_module

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
INIT_NB = SOLUTIONS / "Initialization.ipynb"
OPT_NB = SOLUTIONS / "Optimization_methods.ipynb"
cases = load_module(SOLUTIONS / "nn_test_cases.py")
helpers = load_module(SOLUTIONS / "nn_helpers.py")


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def init_ns():
    return load_solution_namespace(INIT_NB)


@pytest.fixture(scope="module")
def opt_ns():
    return load_solution_namespace(OPT_NB)


def _assignment(spec_name):
    return replace(load_module(SOLUTIONS / spec_name).ASSIGNMENT, folder=SOLUTIONS)


@pytest.fixture(scope="module")
def init_spec():
    return _assignment("Initialization.checks.py")


@pytest.fixture(scope="module")
def opt_spec():
    return _assignment("Optimization_methods.checks.py")


def graded_cells(path):
    """Source of each graded function's cell, by function name."""
    cells = {}
    for cell in nbformat.read(path, as_version=4).cells:
        match = re.match(r"# GRADED FUNCTION: (\w+)", cell.source)
        if cell.cell_type == "code" and match:
            cells[match.group(1)] = cell.source
    return cells


def edited(path, function, *edits):
    """The reference function with textual edits applied to its cell, like a student's mistake."""
    source = graded_cells(path)[function]
    for old, new in edits:
        assert old in source, f"{function}: {old!r} not found; the mistake no longer applies"
        source = source.replace(old, new)
    namespace = {"np": np, "math": math}
    exec(compile(source, f"<edited {function}>", "exec"), namespace)
    return namespace[function]


def output(assignment, check, fn):
    """What the grader compares for ``fn`` on this check (fresh inputs, projection applied)."""
    kwargs = assignment.resolve(check.inputs)()
    if check.seed is not None:
        np.random.seed(check.seed)
    value = fn(**kwargs)
    return assignment.resolve(check.project)(value) if check.project else value


def passes(assignment, check, reference, fn):
    expected = output(assignment, check, reference)
    try:
        got = output(assignment, check, fn)
    except Exception:
        return False
    return compare(expected, got, rtol=check.rtol, atol=check.atol).passed


# ============================================================ seed outputs

def test_gd_matches_seed(opt_ns):
    p = opt_ns["update_parameters_with_gd"](**cases.gd_case())
    np.testing.assert_allclose(p["W1"], [[1.63535156, -0.62320365, -0.53718766],
                                         [-1.07799357, 0.85639907, -2.29470142]], atol=1e-8)
    np.testing.assert_allclose(p["b1"], [[1.74604067], [-0.75184921]], atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[0.32171798, -0.25467393, 1.46902454],
                                         [-2.05617317, -0.31554548, -0.3756023],
                                         [1.1404819, -1.09976462, -0.1612551]], atol=1e-8)
    np.testing.assert_allclose(p["b2"], [[-0.88020257], [0.02561572], [0.57539477]], atol=1e-8)


def test_mini_batches_match_seed(opt_ns):
    batches = opt_ns["random_mini_batches"](**cases.mini_batches_case())
    assert [x.shape for x, _ in batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [y.shape for _, y in batches] == [(1, 64), (1, 64), (1, 20)]
    np.testing.assert_allclose(batches[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157], atol=1e-8)


def test_mini_batches_keep_every_example_with_its_label(opt_ns):
    case = cases.mini_batches_case()
    batches = opt_ns["random_mini_batches"](**case)
    X = np.hstack([x for x, _ in batches])
    Y = np.hstack([y for _, y in batches])
    order = np.argsort(X[0])
    original = np.argsort(case["X"][0])
    np.testing.assert_array_equal(X[:, order], case["X"][:, original])
    np.testing.assert_array_equal(Y[:, order], case["Y"][:, original])


def test_mini_batches_summary_is_small_and_telling(opt_ns):
    batches = opt_ns["random_mini_batches"](**cases.mini_batches_case())
    summary = cases.mini_batches_summary(batches)
    np.testing.assert_array_equal(summary["X_shapes"], [[12288, 64], [12288, 64], [12288, 20]])
    np.testing.assert_array_equal(summary["Y_shapes"], [[1, 64], [1, 64], [1, 20]])
    np.testing.assert_allclose(summary["sanity_check"], [0.90085595, -0.7612069, 0.2344157], atol=1e-8)
    np.testing.assert_array_equal(summary["first_columns"][2], batches[2][0][:5, 0])
    assert summary["labels"].shape == (148,)
    assert sum(np.asarray(v).size for v in summary.values()) < 200
    # an empty batch or a missing one still yields a summary, which then differs
    with_empty = cases.mini_batches_summary(batches + [(batches[0][0][:, :0], batches[0][1][:, :0])])
    assert np.isnan(with_empty["first_columns"][3]).all()
    assert with_empty["X_shapes"].shape == (4, 2)
    # an unanswered notebook returns (None, None) pairs: summarised, never an exception
    unanswered = cases.mini_batches_summary([(None, None)] * 3)
    assert (unanswered["X_shapes"] == -1).all() and np.isnan(unanswered["labels"]).all()
    assert cases.mini_batches_summary([])["X_shapes"].shape == (0, 2)


def test_velocity_matches_seed(opt_ns):
    v = opt_ns["initialize_velocity"](**cases.velocity_case())
    assert {k: a.shape for k, a in v.items()} == {"dW1": (2, 3), "db1": (2, 1), "dW2": (3, 3), "db2": (3, 1)}
    assert not any(a.any() for a in v.values())


def test_momentum_matches_seed(opt_ns):
    p, v = opt_ns["update_parameters_with_momentum"](**cases.momentum_case())
    np.testing.assert_allclose(p["W1"], [[1.62544598, -0.61290114, -0.52907334],
                                         [-1.07347112, 0.86450677, -2.30085497]], atol=1e-8)
    np.testing.assert_allclose(p["b1"], [[1.74493465], [-0.76027113]], atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[0.31930698, -0.24990073, 1.4627996],
                                         [-2.05974396, -0.32173003, -0.38320915],
                                         [1.13444069, -1.0998786, -0.1713109]], atol=1e-8)
    np.testing.assert_allclose(p["b2"], [[-0.87809283], [0.04055394], [0.58207317]], atol=1e-8)
    np.testing.assert_allclose(v["dW1"], [[-0.11006192, 0.11447237, 0.09015907],
                                          [0.05024943, 0.09008559, -0.06837279]], atol=1e-8)
    np.testing.assert_allclose(v["db1"], [[-0.01228902], [-0.09357694]], atol=1e-8)
    np.testing.assert_allclose(v["db2"], [[0.02344157], [0.16598022], [0.07420442]], atol=1e-8)


def test_adam_init_matches_seed(opt_ns):
    v, s = opt_ns["initialize_adam"](**cases.adam_init_case())
    shapes = {"dW1": (2, 3), "db1": (2, 1), "dW2": (3, 3), "db2": (3, 1)}
    for moments in (v, s):
        assert {k: a.shape for k, a in moments.items()} == shapes
        assert not any(a.any() for a in moments.values())
    assert v["dW1"] is not s["dW1"]


def test_adam_matches_seed(opt_ns):
    p, v, s = opt_ns["update_parameters_with_adam"](**cases.adam_case())
    np.testing.assert_allclose(p["W1"], [[1.63178673, -0.61919778, -0.53561312],
                                         [-1.08040999, 0.85796626, -2.29409733]], atol=1e-8)
    np.testing.assert_allclose(p["b1"], [[1.75225313], [-0.75376553]], atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[0.32648046, -0.25681174, 1.46954931],
                                         [-2.05269934, -0.31497584, -0.37661299],
                                         [1.14121081, -1.09244991, -0.16498684]], atol=1e-8)
    np.testing.assert_allclose(p["b2"], [[-0.88529979], [0.03477238], [0.57537385]], atol=1e-8)
    np.testing.assert_allclose(v["db1"], [[-0.01228902], [-0.09357694]], atol=1e-8)
    np.testing.assert_allclose(s["dW1"], [[0.00121136, 0.00131039, 0.00081287],
                                          [0.0002525, 0.00081154, 0.00046748]], atol=1e-8)
    np.testing.assert_allclose(s["db1"], [[1.51020075e-05], [8.75664434e-04]], rtol=1e-8)


def test_epsilon_inside_the_root_gives_the_seeds_other_number(opt_spec):
    spec_module = load_module(SOLUTIONS / "Optimization_methods.checks.py")
    p, _, _ = spec_module.adam_epsilon_inside_root(**cases.adam_case())
    assert p["W2"][2, 1] == pytest.approx(-1.09245036, abs=1e-8)


def test_initialisers_match_seed(init_ns):
    zeros = init_ns["initialize_parameters_zeros"](**cases.zeros_case())
    assert {k: a.shape for k, a in zeros.items()} == {"W1": (2, 3), "b1": (2, 1), "W2": (1, 2), "b2": (1, 1)}
    assert not any(a.any() for a in zeros.values())

    large = init_ns["initialize_parameters_random"](**cases.random_case())
    np.testing.assert_allclose(large["W1"], [[17.88628473, 4.36509851, 0.96497468],
                                             [-18.63492703, -2.77388203, -3.54758979]], atol=1e-8)
    np.testing.assert_allclose(large["W2"], [[-0.82741481, -6.27000677]], atol=1e-8)
    assert not large["b1"].any() and not large["b2"].any()

    he = init_ns["initialize_parameters_he"](**cases.he_case())
    np.testing.assert_allclose(he["W1"], [[1.78862847, 0.43650985], [0.09649747, -1.8634927],
                                          [-0.2773882, -0.35475898], [-0.08274148, -0.62700068]], atol=1e-8)
    np.testing.assert_allclose(he["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], atol=1e-8)
    assert he["b1"].shape == (4, 1) and not he["b1"].any()


def test_he_cost_at_iteration_zero(init_ns):
    train_X, train_Y, _, _ = helpers.load_circles_dataset()
    _, costs = init_ns["model"](train_X, train_Y, num_iterations=1, print_cost=False, initialization="he")
    assert costs[0] == pytest.approx(0.8830537463, abs=1e-10)


# ========================================================= training runs

@pytest.fixture(scope="module")
def circles():
    return helpers.load_circles_dataset()


@pytest.mark.slow
@pytest.mark.parametrize("initialization, train_acc, test_acc", [
    ("zeros", 0.50, 0.50), ("random", 0.83, 0.86), ("he", 0.9933, 0.96)])
def test_initialisation_accuracy_table(init_ns, circles, initialization, train_acc, test_acc):
    train_X, train_Y, test_X, test_Y = circles
    parameters, costs = init_ns["model"](train_X, train_Y, print_cost=False, initialization=initialization)
    assert len(costs) == 15
    assert helpers.accuracy(helpers.predict_dec(parameters, train_X), train_Y) == pytest.approx(train_acc, abs=5e-5)
    assert helpers.accuracy(helpers.predict_dec(parameters, test_X), test_Y) == pytest.approx(test_acc, abs=5e-5)
    if initialization == "random":
        assert costs[0] == np.inf and np.isfinite(costs[1:]).all()
    if initialization == "zeros":
        np.testing.assert_allclose(costs, np.log(2))


@pytest.fixture(scope="module")
def optimisation_runs(opt_ns):
    X, Y = helpers.load_moons_dataset()
    return X, Y, {}


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, accuracy, first_costs", [
    ("gd", 0.7967, (0.690736, 0.685273, 0.647072)),
    ("momentum", 0.7967, None),
    ("adam", 0.94, (0.690552, 0.185567, 0.150852)),
])
def test_optimiser_accuracy_table(opt_ns, optimisation_runs, optimizer, accuracy, first_costs):
    X, Y, _ = optimisation_runs
    parameters, costs = opt_ns["model"](X, Y, [X.shape[0], 5, 2, 1], optimizer=optimizer, print_cost=False)
    assert len(costs) == 100  # every 100 epochs
    assert helpers.accuracy(helpers.predict_dec(parameters, X), Y) == pytest.approx(accuracy, abs=5e-5)
    if first_costs:
        # epochs 0, 1000, 2000 are entries 0, 10, 20
        np.testing.assert_allclose([costs[0], costs[10], costs[20]], first_costs, atol=5e-7)


# ====================================================== notebook structure

REGIONS = {  # SEED-FACTS, "Where the regions sit": (regions, ≈ lines of each)
    INIT_NB: {"initialize_parameters_zeros": [2], "initialize_parameters_random": [2],
              "initialize_parameters_he": [2]},
    OPT_NB: {"update_parameters_with_gd": [2], "random_mini_batches": [2, 2], "initialize_velocity": [2],
             "update_parameters_with_momentum": [4], "initialize_adam": [4],
             "update_parameters_with_adam": [2, 2, 2, 2, 2]},
}


@pytest.mark.parametrize("path", [INIT_NB, OPT_NB], ids=["init", "opt"])
def test_regions_sit_where_the_course_put_them(path):
    cells = graded_cells(path)
    assert set(cells) == set(REGIONS[path])
    for name, sizes in REGIONS[path].items():
        lines = cells[name].splitlines()
        starts = [i for i, line in enumerate(lines) if "### START CODE HERE ###" in line]
        ends = [i for i, line in enumerate(lines) if "### END CODE HERE ###" in line]
        assert len(starts) == len(ends) == len(sizes), name
        for start, end, size in zip(starts, ends, sizes):
            assert f"(≈ {size} lines of code)" in lines[start]
            body = [line for line in lines[start + 1:end] if line.strip()]
            assert len(body) == size, name
            indent = len(lines[start]) - len(lines[start].lstrip())
            assert all(len(line) - len(line.lstrip()) == indent for line in body + [lines[end]]), name


@pytest.mark.parametrize("path", [INIT_NB, OPT_NB], ids=["init", "opt"])
def test_demo_tags(path):
    """Untagged cells only import or define; everything that runs, prints or plots is tagged demo."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        demo = "demo" in cell.metadata.get("tags", [])
        definition = re.match(r"(# GRADED FUNCTION: \w+\n+def |def |import |from )", cell.source)
        assert demo != bool(definition), cell.source[:80]
        if not demo:
            assert not re.search(r"^\s*(%|plt\.|print\()", cell.source, re.M) or "def " in cell.source
            assert "model(" not in cell.source.replace("def model(", "")


def test_scaffold_names_kept():
    opt = graded_cells(OPT_NB)
    for name in ("permutation = list(np.random.permutation(m))", "shuffled_X = X[:, permutation]",
                 "shuffled_Y = Y[:, permutation].reshape((1, m))",
                 "num_complete_minibatches = math.floor(m / mini_batch_size)",
                 "for k in range(0, num_complete_minibatches):", "if m % mini_batch_size != 0:"):
        assert name in opt["random_mini_batches"]
    assert "v_corrected = {}" in opt["update_parameters_with_adam"]
    init = graded_cells(INIT_NB)
    assert "np.random.seed(3)" in init["initialize_parameters_random"]
    assert "L = len(layers_dims) - 1" in init["initialize_parameters_he"]


# =================================================== check specifications

def test_points(init_spec, opt_spec):
    assert sum(c.points for c in init_spec.checks) == 30 == init_spec.points
    assert sum(c.points for c in opt_spec.checks) == 40 == opt_spec.points
    assert set(init_spec.functions) == set(REGIONS[INIT_NB])
    assert set(opt_spec.functions) == set(REGIONS[OPT_NB])


@pytest.mark.parametrize("which", ["init", "opt"])
def test_every_function_has_public_and_hidden_checks(which, init_spec, opt_spec):
    spec = init_spec if which == "init" else opt_spec
    for function in spec.functions:
        checks = spec.checks_for(function)
        assert any(not c.hidden for c in checks) and any(c.hidden for c in checks), function
        for c in checks:
            assert c.description, c.name
            if not c.hidden:
                assert c.inputs.startswith("nn_test_cases:")


@pytest.mark.parametrize("which", ["init", "opt"])
def test_hint_variants_differ_from_the_reference(which, init_ns, opt_ns, init_spec, opt_spec):
    """A hint whose variant equals the reference could never be the right diagnosis."""
    spec, ns = (init_spec, init_ns) if which == "init" else (opt_spec, opt_ns)
    for check in spec.checks:
        for hint in check.hints:
            assert not passes(spec, check, ns[check.function], hint.variant), (check.name, hint.message)


def test_public_mini_batch_check_projects(opt_spec, opt_ns):
    check = next(c for c in opt_spec.checks if c.function == "random_mini_batches" and not c.hidden)
    assert check.project == "nn_test_cases:mini_batches_summary"
    summary = output(opt_spec, check, opt_ns["random_mini_batches"])
    np.testing.assert_array_equal(summary["X_shapes"][:, 1], [64, 64, 20])


# ----------------------------------------------------------------- mistakes
# (function, label, edits to the graded cell). Edits of the given code stand for
# a student whose markers were lost and whose whole definition is graded.

INIT_MISTAKES = [
    ("initialize_parameters_zeros", "transposed W",
     [("np.zeros((layers_dims[l], layers_dims[l - 1]))", "np.zeros((layers_dims[l - 1], layers_dims[l]))")]),
    ("initialize_parameters_zeros", "flat b", [("np.zeros((layers_dims[l], 1))", "np.zeros(layers_dims[l])")]),
    ("initialize_parameters_zeros", "only two layers", [("for l in range(1, L):", "for l in range(1, 3):")]),
    ("initialize_parameters_random", "* 10 on the biases",
     [("np.zeros((layers_dims[l], 1))", "np.random.randn(layers_dims[l], 1) * 10")]),
    ("initialize_parameters_random", "transposed W",
     [("randn(layers_dims[l], layers_dims[l - 1])", "randn(layers_dims[l - 1], layers_dims[l])")]),
    ("initialize_parameters_random", "no factor 10", [(") * 10", ")")]),
    ("initialize_parameters_random", "flat b", [("np.zeros((layers_dims[l], 1))", "np.zeros(layers_dims[l])")]),
    ("initialize_parameters_he", "Xavier scale", [("np.sqrt(2 / layers_dims[l - 1])", "np.sqrt(1 / layers_dims[l - 1])")]),
    ("initialize_parameters_he", "fan-out scale", [("np.sqrt(2 / layers_dims[l - 1])", "np.sqrt(2 / layers_dims[l])")]),
    ("initialize_parameters_he", "* 10 on the biases",
     [("np.zeros((layers_dims[l], 1))", "np.random.randn(layers_dims[l], 1) * 10")]),
    ("initialize_parameters_he", "He-scaled random biases",
     [("np.zeros((layers_dims[l], 1))", "np.random.randn(layers_dims[l], 1) * np.sqrt(2 / layers_dims[l - 1])")]),
    ("initialize_parameters_he", "transposed W",
     [("randn(layers_dims[l], layers_dims[l - 1])", "randn(layers_dims[l - 1], layers_dims[l])")]),
    ("initialize_parameters_he", "flat b", [("np.zeros((layers_dims[l], 1))", "np.zeros(layers_dims[l])")]),
    ("initialize_parameters_he", "last layer skipped", [("range(1, L + 1)", "range(1, L)")]),
]

OPT_MISTAKES = [
    ("update_parameters_with_gd", "gradient ascent", [("] - learning_rate", "] + learning_rate")]),
    ("update_parameters_with_gd", "learning rate hard-coded", [("- learning_rate *", "- 0.01 *")]),
    ("update_parameters_with_gd", "only two layers", [("for l in range(L):", "for l in range(2):")]),
    ("random_mini_batches", "drops the last partial batch", [("if m % mini_batch_size != 0:", "if False:")]),
    ("random_mini_batches", "adds an empty batch", [("if m % mini_batch_size != 0:", "if True:")]),
    ("random_mini_batches", "Y shuffled with its own permutation",
     [("shuffled_Y = Y[:, permutation]", "shuffled_Y = Y[:, list(np.random.permutation(m))]")]),
    ("random_mini_batches", "labels from the unshuffled Y",
     [("mini_batch_Y = shuffled_Y[:, k", "mini_batch_Y = Y[:, k"),
      ("mini_batch_Y = shuffled_Y[:, num", "mini_batch_Y = Y[:, num")]),
    ("random_mini_batches", "full batches' labels from the unshuffled Y",
     [("mini_batch_Y = shuffled_Y[:, k", "mini_batch_Y = Y[:, k")]),
    ("random_mini_batches", "last batch from the unshuffled X",
     [("mini_batch_X = shuffled_X[:, num", "mini_batch_X = X[:, num")]),
    ("random_mini_batches", "last batch starts one column early",
     [("shuffled_X[:, num_complete_minibatches * mini_batch_size:m]",
       "shuffled_X[:, num_complete_minibatches * mini_batch_size - 1:m]"),
      ("shuffled_Y[:, num_complete_minibatches * mini_batch_size:m]",
       "shuffled_Y[:, num_complete_minibatches * mini_batch_size - 1:m]")]),
    ("initialize_velocity", "keys like the parameters", [('v["dW"', 'v["W"'), ('v["db"', 'v["b"')]),
    ("initialize_velocity", "transposed", [('parameters["W" + str(l + 1)].shape', 'parameters["W" + str(l + 1)].T.shape')]),
    ("initialize_velocity", "only two layers", [("for l in range(L):", "for l in range(2):")]),
    ("update_parameters_with_momentum", "without (1 - beta)", [("(1 - beta) * grads", "grads")]),
    ("update_parameters_with_momentum", "steps with the gradient",
     [('learning_rate * v["dW" + str(l + 1)]', 'learning_rate * grads["dW" + str(l + 1)]'),
      ('learning_rate * v["db" + str(l + 1)]', 'learning_rate * grads["db" + str(l + 1)]')]),
    ("update_parameters_with_momentum", "old velocity dropped", [("beta * v[", "0 * v[")]),
    ("update_parameters_with_momentum", "beta hard-coded", [("= beta * v[", "= 0.9 * v["), ("(1 - beta)", "(1 - 0.9)")]),
    ("initialize_adam", "keys like the parameters",
     [('v["dW"', 'v["W"'), ('v["db"', 'v["b"'), ('s["dW"', 's["W"'), ('s["db"', 's["b"')]),
    ("initialize_adam", "only two layers", [("for l in range(L):", "for l in range(2):")]),
    ("update_parameters_with_adam", "beta1 in the correction of s",
     [('s["dW" + str(l + 1)] / (1 - beta2 ** t)', 's["dW" + str(l + 1)] / (1 - beta1 ** t)'),
      ('s["db" + str(l + 1)] / (1 - beta2 ** t)', 's["db" + str(l + 1)] / (1 - beta1 ** t)')]),
    ("update_parameters_with_adam", "no bias correction", [(" / (1 - beta1 ** t)", ""), (" / (1 - beta2 ** t)", "")]),
    ("update_parameters_with_adam", "no bias correction of s", [(" / (1 - beta2 ** t)", "")]),
    ("update_parameters_with_adam", "epsilon inside the root",
     [('np.sqrt(s_corrected["dW" + str(l + 1)]) + epsilon', 'np.sqrt(s_corrected["dW" + str(l + 1)] + epsilon)'),
      ('np.sqrt(s_corrected["db" + str(l + 1)]) + epsilon', 'np.sqrt(s_corrected["db" + str(l + 1)] + epsilon)')]),
    ("update_parameters_with_adam", "t hard-coded to 2", [("** t)", "** 2)")]),
    ("update_parameters_with_adam", "default betas hard-coded",
     [("beta1 *", "0.9 *"), ("(1 - beta1)", "(1 - 0.9)"), ("beta2 *", "0.999 *"), ("(1 - beta2)", "(1 - 0.999)")]),
    ("update_parameters_with_adam", "epsilon hard-coded", [(") + epsilon)", ") + 1e-8)")]),
    ("update_parameters_with_adam", "old averages dropped", [("beta1 * v[", "0 * v["), ("beta2 * s[", "0 * s[")]),
]


def _mistake_params(mistakes, which):
    return [pytest.param(which, f, edits, id=f"{f}: {label}") for f, label, edits in mistakes]


@pytest.mark.parametrize("which, function, edits",
                         _mistake_params(INIT_MISTAKES, "init") + _mistake_params(OPT_MISTAKES, "opt"))
def test_each_mistake_loses_points(which, function, edits, init_ns, opt_ns, init_spec, opt_spec):
    spec, ns, path = (init_spec, init_ns, INIT_NB) if which == "init" else (opt_spec, opt_ns, OPT_NB)
    mistaken = edited(path, function, *edits)
    caught = [c.name for c in spec.checks_for(function) if not passes(spec, c, ns[function], mistaken)]
    assert caught, "no check of this function notices the mistake"


def _hard_coded(reference, public_kwargs):
    """A 'student' who returns the public example's answer whatever the input."""
    answer = reference(**public_kwargs)

    def stub(**_):
        return answer
    return stub


@pytest.mark.parametrize("which", ["init", "opt"])
def test_every_hidden_check_catches_something(which, init_ns, opt_ns, init_spec, opt_spec):
    """Each hidden check fails a hard-coded answer, and at least one listed mistake."""
    spec, ns, path, mistakes = ((init_spec, init_ns, INIT_NB, INIT_MISTAKES) if which == "init"
                                else (opt_spec, opt_ns, OPT_NB, OPT_MISTAKES))
    for check in spec.checks:
        if not check.hidden:
            continue
        reference = ns[check.function]
        public = next(c for c in spec.checks_for(check.function) if not c.hidden)
        assert not passes(spec, check, reference, _hard_coded(reference, spec.resolve(public.inputs)())), check.name
        caught = [label for f, label, edits in mistakes if f == check.function
                  and not passes(spec, check, reference, edited(path, f, *edits))]
        assert caught, f"{check.name} catches none of the listed mistakes"


VARIANT_OF_MISTAKE = {
    "init": {
        ("initialize_parameters_zeros", "transposed W"): "zeros_transposed",
        ("initialize_parameters_zeros", "flat b"): "zeros_flat_bias",
        ("initialize_parameters_random", "* 10 on the biases"): "random_bias_times_10",
        ("initialize_parameters_random", "transposed W"): "random_transposed",
        ("initialize_parameters_random", "no factor 10"): "random_unscaled",
        ("initialize_parameters_he", "Xavier scale"): "he_xavier",
        ("initialize_parameters_he", "fan-out scale"): "he_fan_out",
        ("initialize_parameters_he", "He-scaled random biases"): "he_random_bias",
        ("initialize_parameters_he", "transposed W"): "he_transposed",
    },
    "opt": {
        ("update_parameters_with_gd", "gradient ascent"): "gd_ascent",
        ("random_mini_batches", "drops the last partial batch"): "batches_drop_last",
        ("random_mini_batches", "adds an empty batch"): "batches_empty_last",
        ("random_mini_batches", "Y shuffled with its own permutation"): "batches_Y_own_permutation",
        ("random_mini_batches", "labels from the unshuffled Y"): "batches_unshuffled_Y",
        ("random_mini_batches", "full batches' labels from the unshuffled Y"): "batches_unshuffled_Y_in_full_batches",
        ("initialize_velocity", "keys like the parameters"): "velocity_keyed_like_parameters",
        ("initialize_velocity", "transposed"): "velocity_transposed",
        ("initialize_adam", "keys like the parameters"): "adam_init_keyed_like_parameters",
        ("update_parameters_with_momentum", "without (1 - beta)"): "momentum_without_damping",
        ("update_parameters_with_momentum", "steps with the gradient"): "momentum_steps_with_gradient",
        ("update_parameters_with_adam", "beta1 in the correction of s"): "adam_beta1_in_s_correction",
        ("update_parameters_with_adam", "no bias correction"): "adam_without_bias_correction",
        ("update_parameters_with_adam", "no bias correction of s"): "adam_only_v_corrected",
        ("update_parameters_with_adam", "epsilon inside the root"): "adam_epsilon_inside_root",
    },
}


@pytest.mark.parametrize("which", ["init", "opt"])
def test_spec_variants_reproduce_the_edited_mistakes(which, init_spec, opt_spec):
    """Each hint variant returns what the notebook with that mistake returns, on every check."""
    spec, path, mistakes, spec_file = (
        (init_spec, INIT_NB, INIT_MISTAKES, "Initialization.checks.py") if which == "init"
        else (opt_spec, OPT_NB, OPT_MISTAKES, "Optimization_methods.checks.py"))
    module = load_module(SOLUTIONS / spec_file)
    edits_of = {(f, label): edits for f, label, edits in mistakes}
    hinted = {h.variant.__name__ for c in spec.checks for h in c.hints}
    assert hinted == set(VARIANT_OF_MISTAKE[which].values())
    for (function, label), variant_name in VARIANT_OF_MISTAKE[which].items():
        mistaken = edited(path, function, *edits_of[(function, label)])
        for check in spec.checks_for(function):
            expected = output(spec, check, mistaken)
            got = output(spec, check, getattr(module, variant_name))
            assert compare(expected, got, rtol=check.rtol, atol=check.atol).passed, (label, check.name)


# ------------------------------------------------ correct, written differently

def zeros_comprehension(layers_dims):
    shapes = list(zip(layers_dims[1:], layers_dims[:-1]))
    out = {f"W{l}": np.zeros([rows, cols]) for l, (rows, cols) in enumerate(shapes, start=1)}
    out.update({f"b{l}": np.zeros((rows, 1), dtype=float) for l, (rows, _) in enumerate(shapes, start=1)})
    return out


def random_with_normal(layers_dims):
    np.random.seed(3)
    out = {}
    for l in range(1, len(layers_dims)):
        out["W" + str(l)] = np.random.normal(0, 10, (layers_dims[l], layers_dims[l - 1]))
        out["b" + str(l)] = np.zeros((layers_dims[l], 1)) * 10   # "* 10" on zeros changes nothing
    return out


def he_divided(layers_dims):
    np.random.seed(3)
    out = {}
    for l in range(1, len(layers_dims)):
        fan_in = layers_dims[l - 1]
        out["b" + str(l)] = np.zeros(shape=(layers_dims[l], 1))
        out["W" + str(l)] = np.random.standard_normal((layers_dims[l], fan_in)) / math.sqrt(fan_in / 2)
    return out


def gd_in_place(parameters, grads, learning_rate):
    for key in parameters:
        parameters[key] -= learning_rate * grads["d" + key]
    return parameters


def gd_comprehension(parameters, grads, learning_rate):
    return {key: value - grads["d" + key] * learning_rate for key, value in parameters.items()}


def mini_batches_by_offset(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    order = np.random.permutation(m)
    X, Y = X[:, order], Y[:, order]
    return [(X[:, i:i + mini_batch_size], Y[:, i:i + mini_batch_size]) for i in range(0, m, mini_batch_size)]


def velocity_zeros_like(parameters):
    return {"d" + key: np.zeros_like(value) for key, value in parameters.items()}


def momentum_vectorised(parameters, grads, v, beta, learning_rate):
    v = {key: v[key] + (1 - beta) * (grads[key] - v[key]) for key in v}
    parameters = {key: value - learning_rate * v["d" + key] for key, value in parameters.items()}
    return parameters, v


def momentum_params_first_order(parameters, grads, v, beta, learning_rate):
    for l in range(len(parameters) // 2, 0, -1):      # layers in reverse, b before W
        for name in ("b", "W"):
            key = f"d{name}{l}"
            v[key] = v[key] * beta + grads[key] * (1 - beta)
            parameters[f"{name}{l}"] -= v[key] * learning_rate
    return parameters, v


def adam_init_zeros_like(parameters):
    v = {"d" + key: np.zeros_like(value) for key, value in parameters.items()}
    return v, {key: np.zeros_like(value) for key, value in v.items()}


def adam_vectorised(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8):
    v = {k: beta1 * v[k] + (1 - beta1) * grads[k] for k in v}
    s = {k: beta2 * s[k] + (1 - beta2) * grads[k] ** 2 for k in s}
    step = {k: (v[k] / (1 - np.power(beta1, t))) / (np.sqrt(s[k] / (1 - np.power(beta2, t))) + epsilon) for k in v}
    return {k: p - learning_rate * step["d" + k] for k, p in parameters.items()}, v, s


def adam_loop_reordered(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8):
    for key in grads:
        g = grads[key]
        s[key] = (1 - beta2) * (g * g) + beta2 * s[key]
        v[key] = (1 - beta1) * g + beta1 * v[key]
        s_hat = s[key] / (1 - beta2 ** t)
        v_hat = v[key] / (1 - beta1 ** t)
        parameters[key[1:]] = parameters[key[1:]] - learning_rate * (v_hat / (np.sqrt(s_hat) + epsilon))
    return parameters, v, s


ALTERNATIVES = [
    ("init", "initialize_parameters_zeros", zeros_comprehension),
    ("init", "initialize_parameters_random", random_with_normal),
    ("init", "initialize_parameters_he", he_divided),
    ("opt", "update_parameters_with_gd", gd_in_place),
    ("opt", "update_parameters_with_gd", gd_comprehension),
    ("opt", "random_mini_batches", mini_batches_by_offset),
    ("opt", "initialize_velocity", velocity_zeros_like),
    ("opt", "update_parameters_with_momentum", momentum_vectorised),
    ("opt", "update_parameters_with_momentum", momentum_params_first_order),
    ("opt", "initialize_adam", adam_init_zeros_like),
    ("opt", "update_parameters_with_adam", adam_vectorised),
    ("opt", "update_parameters_with_adam", adam_loop_reordered),
]


@pytest.mark.parametrize("which, function, alternative", ALTERNATIVES,
                         ids=[f"{f}: {a.__name__}" for _, f, a in ALTERNATIVES])
def test_correct_alternatives_keep_full_marks(which, function, alternative, init_ns, opt_ns, init_spec, opt_spec):
    spec, ns = (init_spec, init_ns) if which == "init" else (opt_spec, opt_ns)
    failed = [c.name for c in spec.checks_for(function) if not passes(spec, c, ns[function], alternative)]
    assert not failed


@pytest.mark.parametrize("which, function, alternative", ALTERNATIVES[:1] + ALTERNATIVES[-1:],
                         ids=["zeros", "adam"])
def test_the_replay_can_fail(which, function, alternative, init_ns, opt_ns, init_spec, opt_spec):
    """Guard against a harness that passes everything: a broken alternative must fail."""
    spec, ns = (init_spec, init_ns) if which == "init" else (opt_spec, opt_ns)

    def broken(**kwargs):
        result = alternative(**kwargs)
        first = result[0] if isinstance(result, tuple) else result
        key = next(iter(first))
        first[key] = first[key] + 1e-3
        return result
    assert not any(passes(spec, c, ns[function], broken) for c in spec.checks_for(function))


# ============================================================ notebooks run

@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("path, printed", [
    (INIT_NB, ["Accuracy: 0.5", "Accuracy: 0.83", "Accuracy: 0.86", "Accuracy: 0.9933333333333333",
               "Accuracy: 0.96", "Cost after iteration 0: 0.8830537463", "Cost after iteration 0: inf"]),
    (OPT_NB, ["Accuracy: 0.7966666666666666", "Accuracy: 0.94", "Cost after epoch 0: 0.690736",
              "Cost after epoch 2000: 0.647072", "Cost after epoch 1000: 0.185567",
              "mini-batch sanity check: [ 0.90085595 -0.7612069   0.2344157 ]"]),
], ids=["Initialization", "Optimization_methods"])
def test_solution_notebook_runs_top_to_bottom(path, printed):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=600,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    text = "".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    for expected in printed:
        assert expected in text
    images = sum("image/png" in out.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                 for out in cell.get("outputs", []))
    assert images >= 4
