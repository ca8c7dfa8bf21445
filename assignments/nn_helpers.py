"""Support code for the Initialization and Optimization methods notebooks.

Everything here is given to students: two toy datasets, the activations, a
three-layer classifier (LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID)
with its forward pass, backward pass, cost and prediction, and a few plots.

Conventions: examples are columns, so ``X`` has shape ``(n_features, m)`` and
``Y`` has shape ``(1, m)``. Parameters live in a dict keyed ``W1, b1, ...``,
gradients in a dict keyed ``dW1, db1, ...``.

Only NumPy is imported at module level; matplotlib is imported inside the
plotting functions, so importing this module is quick and needs no display.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "make_circles_points", "make_moons_points",
    "load_circles_dataset", "load_moons_dataset",
    "sigmoid", "relu",
    "forward_propagation", "backward_propagation",
    "compute_loss", "compute_cost", "update_parameters",
    "initialize_parameters", "predict", "predict_dec", "accuracy",
    "plot_dataset", "plot_decision_boundary", "plot_costs",
]


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------
def _shuffle_then_add_noise(points, labels, noise):
    """Shuffle rows, then jitter them, both with NumPy's global RNG.

    The order of the two draws matters: first a permutation of ``arange(n)``,
    then Gaussian noise for every coordinate. Done in this order the result is
    identical, bit for bit, to scikit-learn's toy generators called without a
    ``random_state``, which is what the course's accuracy tables were made with.
    """
    order = np.arange(points.shape[0])
    np.random.shuffle(order)
    points, labels = points[order], labels[order]
    if noise is not None:
        points = points + np.random.normal(scale=noise, size=points.shape)
    return points, labels


def _two_classes(outer_xy, inner_xy):
    """Stack outer-class points (label 0) before inner-class points (label 1)."""
    points = np.vstack([np.append(outer_xy[0], inner_xy[0]),
                        np.append(outer_xy[1], inner_xy[1])]).T
    labels = np.hstack([np.zeros(outer_xy[0].size, dtype=np.intp),
                        np.ones(inner_xy[0].size, dtype=np.intp)])
    return points, labels


def make_circles_points(n_samples=100, noise=None, factor=0.8):
    """Two concentric rings; the inner one has radius ``factor``.

    Returns ``(points, labels)`` with shapes ``(n_samples, 2)`` and ``(n_samples,)``.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    # endpoint=False so that the first and last angle do not give the same point
    angles_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angles_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    points, labels = _two_classes(
        (np.cos(angles_out), np.sin(angles_out)),
        (np.cos(angles_in) * factor, np.sin(angles_in) * factor),
    )
    return _shuffle_then_add_noise(points, labels, noise)


def make_moons_points(n_samples=100, noise=None):
    """Two interleaved half circles. Same return convention as ``make_circles_points``."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    angles_out = np.linspace(0, np.pi, n_out)
    angles_in = np.linspace(0, np.pi, n_in)
    points, labels = _two_classes(
        (np.cos(angles_out), np.sin(angles_out)),
        (1 - np.cos(angles_in), 1 - np.sin(angles_in) - 0.5),
    )
    return _shuffle_then_add_noise(points, labels, noise)


def _as_columns(points, labels):
    """(m, 2) points and (m,) labels -> X of shape (2, m) and Y of shape (1, m)."""
    return points.T, labels.reshape((1, labels.shape[0]))


def load_circles_dataset():
    """Training and test sets for the Initialization notebook.

    Returns ``train_X (2, 300), train_Y (1, 300), test_X (2, 100), test_Y (1, 100)``.
    """
    np.random.seed(1)
    train_X, train_Y = _as_columns(*make_circles_points(300, noise=0.05, factor=0.8))
    np.random.seed(2)
    test_X, test_Y = _as_columns(*make_circles_points(100, noise=0.05, factor=0.8))
    return train_X, train_Y, test_X, test_Y


def load_moons_dataset():
    """Training set for the Optimization methods notebook: ``X (2, 300), Y (1, 300)``."""
    np.random.seed(3)
    return _as_columns(*make_moons_points(300, noise=0.2))


# --------------------------------------------------------------------------
# The three-layer network
# --------------------------------------------------------------------------
def sigmoid(z):
    """Elementwise logistic function."""
    return 1 / (1 + np.exp(-z))


def relu(z):
    """Elementwise max(0, z)."""
    return np.maximum(0, z)


def forward_propagation(X, parameters):
    """Run LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID on the columns of X.

    Returns the output activations ``a3`` (shape ``(1, m)``) and a cache of the
    intermediate values that ``backward_propagation`` needs.
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]

    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)

    cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    return a3, cache


def backward_propagation(X, Y, cache):
    """Gradients of the mean cross-entropy with respect to every parameter.

    Returns a dict with ``dW1, db1, dW2, db2, dW3, db3`` (plus the intermediate
    ``dz``/``da`` terms, handy when debugging).
    """
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache

    # sigmoid + cross-entropy: the derivative with respect to z3 simplifies to a3 - Y
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)

    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))  # ReLU passes gradient only where it was active
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)

    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)

    return {"dz3": dz3, "dW3": dW3, "db3": db3,
            "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
            "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}


def compute_loss(a3, Y):
    """Mean cross-entropy, with no epsilon inside the logarithm.

    With very large weights the sigmoid saturates to exactly 0 or 1. A wrong
    saturated prediction then costs ``inf`` (shown as such), while a right one
    produces ``0 * log(0) = nan``, which by the usual convention counts as 0:
    hence ``nansum``.
    """
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
        return 1.0 / m * np.nansum(logprobs)


def compute_cost(a3, Y):
    """Mean cross-entropy over the columns given (used per mini-batch)."""
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.sum(logprobs)


def update_parameters(parameters, grads, learning_rate):
    """One step of plain gradient descent on every ``W`` and ``b``."""
    for l in range(1, len(parameters) // 2 + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


def initialize_parameters(layer_dims):
    """He-scaled weights after ``np.random.seed(3)``, zero biases.

    This is the starting point of every run in the Optimization methods
    notebook, so that the three optimisers begin from the same place.
    """
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        fan_in = layer_dims[l - 1]
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], fan_in) * np.sqrt(2 / fan_in)
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def predict_dec(parameters, X):
    """Labels (0 or 1) the network assigns to the columns of X, shape ``(1, m)``."""
    a3, _ = forward_propagation(X, parameters)
    return (a3 > 0.5).astype(int)


def accuracy(predictions, Y):
    """Fraction of columns where the prediction equals the label."""
    return float(np.mean(predictions[0, :] == Y[0, :]))


def predict(X, Y, parameters):
    """Predict labels for X, print the accuracy against Y, return the predictions."""
    predictions = predict_dec(parameters, X)
    print("Accuracy: " + str(accuracy(predictions, Y)))
    return predictions


# --------------------------------------------------------------------------
# Plots (matplotlib is imported only when one is drawn)
# --------------------------------------------------------------------------
def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def plot_dataset(X, Y, title=None, ax=None):
    """Scatter the columns of X, coloured by their label."""
    ax = _axes(ax)
    ax.scatter(X[0, :], X[1, :], c=Y.ravel(), s=30, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(predict_fn, X, Y, title=None, ax=None, step=0.01, margin=0.5):
    """Shade the plane by the class ``predict_fn`` gives it, then overlay the data.

    ``predict_fn`` takes an array of shape ``(2, k)`` (points as columns) and
    returns ``k`` labels in any shape.
    """
    ax = _axes(ax)
    x1_min, x1_max = X[0, :].min() - margin, X[0, :].max() + margin
    x2_min, x2_max = X[1, :].min() - margin, X[1, :].max() + margin
    xx, yy = np.meshgrid(np.arange(x1_min, x1_max, step), np.arange(x2_min, x2_max, step))
    grid = np.vstack([xx.ravel(), yy.ravel()])
    zz = np.asarray(predict_fn(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, zz, cmap="coolwarm", alpha=0.35)
    plot_dataset(X, Y, title=title, ax=ax)
    ax.set_xlim(x1_min, x1_max)
    ax.set_ylim(x2_min, x2_max)
    return ax


def plot_costs(costs, every=1, unit="iterations", title=None, ax=None):
    """Line plot of a cost recorded once every ``every`` iterations or epochs."""
    ax = _axes(ax)
    ax.plot(np.arange(len(costs)) * every, np.squeeze(costs))
    ax.set_xlabel(unit)
    ax.set_ylabel("cost")
    if title:
        ax.set_title(title)
    return ax
