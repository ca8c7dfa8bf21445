"""The NumPy dataset generators and the support code in solutions/nn_helpers.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checks.spec import load_module

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
helpers = load_module(SOLUTIONS / "nn_helpers.py")


# ---------------------------------------------------------------- shapes

def test_circles_shapes_and_labels():
    train_X, train_Y, test_X, test_Y = helpers.load_circles_dataset()
    assert train_X.shape == (2, 300) and train_Y.shape == (1, 300)
    assert test_X.shape == (2, 100) and test_Y.shape == (1, 100)
    assert train_Y.dtype.kind == "i" and set(np.unique(train_Y)) == {0, 1}
    assert train_Y.sum() == 150 and test_Y.sum() == 50  # balanced classes


def test_moons_shapes_and_labels():
    X, Y = helpers.load_moons_dataset()
    assert X.shape == (2, 300) and Y.shape == (1, 300)
    assert Y.dtype.kind == "i" and Y.sum() == 150


def test_circles_radii_follow_the_labels():
    # Without noise, class 0 sits on the unit circle and class 1 on radius 0.8.
    points, labels = helpers.make_circles_points(40, noise=None, factor=0.8)
    radii = np.hypot(points[:, 0], points[:, 1])
    np.testing.assert_allclose(radii[labels == 0], 1.0)
    np.testing.assert_allclose(radii[labels == 1], 0.8)


def test_generators_are_reproducible_and_seed_dependent():
    first = helpers.load_circles_dataset()
    second = helpers.load_circles_dataset()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.random.seed(4)
    other, _ = helpers.make_circles_points(300, noise=0.05)
    assert not np.array_equal(other.T, first[0])


def test_train_and_test_circles_differ():
    train_X, _, test_X, _ = helpers.load_circles_dataset()
    assert not np.allclose(train_X[:, :100], test_X)


# ------------------------------------------------- agreement with scikit-learn

def test_circles_match_scikit_learn_bit_for_bit():
    datasets = pytest.importorskip("sklearn.datasets")
    np.random.seed(1)
    train_X, train_y = datasets.make_circles(n_samples=300, noise=0.05)
    np.random.seed(2)
    test_X, test_y = datasets.make_circles(n_samples=100, noise=0.05)
    ours = helpers.load_circles_dataset()
    np.testing.assert_array_equal(ours[0], train_X.T)
    np.testing.assert_array_equal(ours[1], train_y.reshape(1, -1))
    np.testing.assert_array_equal(ours[2], test_X.T)
    np.testing.assert_array_equal(ours[3], test_y.reshape(1, -1))


def test_moons_match_scikit_learn_bit_for_bit():
    datasets = pytest.importorskip("sklearn.datasets")
    np.random.seed(3)
    X, y = datasets.make_moons(n_samples=300, noise=0.2)
    ours_X, ours_Y = helpers.load_moons_dataset()
    np.testing.assert_array_equal(ours_X, X.T)
    np.testing.assert_array_equal(ours_Y, y.reshape(1, -1))


@pytest.mark.parametrize("n_samples", [7, 50, 301])
def test_odd_sizes_match_scikit_learn(n_samples):
    datasets = pytest.importorskip("sklearn.datasets")
    for ours_fn, theirs_fn, kwargs in (
        (helpers.make_circles_points, datasets.make_circles, {"noise": 0.1, "factor": 0.5}),
        (helpers.make_moons_points, datasets.make_moons, {"noise": 0.3}),
    ):
        np.random.seed(11)
        theirs = theirs_fn(n_samples=n_samples, **kwargs)
        np.random.seed(11)
        ours = ours_fn(n_samples, **kwargs)
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])
        # both must leave the global generator in the same state
        after_theirs = np.random.random()
        np.random.seed(11)
        ours_fn(n_samples, **kwargs)
        assert np.random.random() == after_theirs


# ------------------------------------------------------------ the network

def test_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    dims = [2, 4, 3, 1]
    parameters = {}
    for l in range(1, 4):
        parameters[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
        parameters[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    X = rng.standard_normal((2, 6))
    Y = (rng.uniform(size=(1, 6)) < 0.5).astype(float)
    a3, cache = helpers.forward_propagation(X, parameters)
    grads = helpers.backward_propagation(X, Y, cache)
    eps = 1e-6
    for key in parameters:
        numeric = np.zeros_like(parameters[key])
        for idx in np.ndindex(numeric.shape):
            shifted = {k: v.copy() for k, v in parameters.items()}
            shifted[key][idx] += eps
            up = helpers.compute_cost(helpers.forward_propagation(X, shifted)[0], Y)
            shifted[key][idx] -= 2 * eps
            down = helpers.compute_cost(helpers.forward_propagation(X, shifted)[0], Y)
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads["d" + key], numeric, rtol=1e-5, atol=1e-8)


def test_loss_is_infinite_only_for_confident_mistakes():
    Y = np.array([[1, 0, 1]])
    # a saturated right answer counts 0, a saturated wrong one costs inf
    assert helpers.compute_loss(np.array([[1.0, 0.0, 0.5]]), Y) == pytest.approx(np.log(2) / 3)
    assert helpers.compute_loss(np.array([[0.0, 0.0, 0.5]]), Y) == np.inf


def test_predict_prints_accuracy(capsys):
    parameters = {"W1": np.eye(2), "b1": np.zeros((2, 1)), "W2": np.eye(2), "b2": np.zeros((2, 1)),
                  "W3": np.array([[1.0, 0.0]]), "b3": np.array([[-0.5]])}
    X = np.array([[0.0, 2.0, 3.0, 0.1], [1.0, 1.0, 1.0, 1.0]])
    Y = np.array([[0, 1, 1, 1]])
    predictions = helpers.predict(X, Y, parameters)
    np.testing.assert_array_equal(predictions, [[0, 1, 1, 0]])
    assert capsys.readouterr().out.strip() == "Accuracy: 0.75"


def test_he_parameters_for_the_optimisation_runs():
    parameters = helpers.initialize_parameters([2, 5, 2, 1])
    np.random.seed(3)
    expected_W1 = np.random.randn(5, 2) * np.sqrt(2 / 2)
    np.testing.assert_allclose(parameters["W1"], expected_W1)
    assert parameters["W3"].shape == (1, 2) and not parameters["b2"].any()


# ----------------------------------------------------------------- plots

def test_import_does_not_load_matplotlib():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import nn_helpers, nn_test_cases; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(SOLUTIONS)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plots_draw_headless():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, Y = helpers.load_moons_dataset()
    fig, axes = plt.subplots(1, 3)
    try:
        helpers.plot_dataset(X, Y, title="moons", ax=axes[0])
        helpers.plot_decision_boundary(lambda grid: (grid[0] > 0.5).astype(int), X, Y, ax=axes[1], step=0.05)
        helpers.plot_costs([0.7, 0.6, 0.5], every=100, unit="epochs", ax=axes[2])
        assert len(axes[0].collections) == 1          # one scatter
        assert len(axes[1].collections) >= 2          # filled contours + scatter
        np.testing.assert_array_equal(axes[2].lines[0].get_xdata(), [0, 100, 200])
    finally:
        plt.close(fig)
