"""Public test cases for the Initialization and Optimization methods notebooks.

Each ``*_case()`` function returns the keyword arguments of one call to a
graded function, e.g. ``update_parameters_with_gd(**gd_case())``. Every random
draw uses NumPy's global generator (``np.random.seed`` then ``np.random.randn``)
in a fixed order, so the numbers are the same on every machine and match the
"Expected output" shown in the notebooks.

``mini_batches_summary`` shrinks the output of ``random_mini_batches`` on the
public case (three batches of 12288 rows) to a few telling numbers; ``adam_step``
keeps the three results of ``update_parameters_with_adam`` that are compared.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "zeros_case", "random_case", "he_case",
    "gd_case", "mini_batches_case", "velocity_case", "momentum_case",
    "adam_init_case", "adam_case", "mini_batches_summary",
]


# --------------------------------------------------------------------------
# Initialization
# --------------------------------------------------------------------------
def zeros_case():
    """A tiny network: 3 inputs, 2 hidden units, 1 output."""
    return {"layers_dims": [3, 2, 1]}


def random_case():
    """Same tiny network as ``zeros_case``; the initialiser seeds the RNG itself."""
    return {"layers_dims": [3, 2, 1]}


def he_case():
    """2 inputs, 4 hidden units, 1 output."""
    return {"layers_dims": [2, 4, 1]}


# --------------------------------------------------------------------------
# Optimization methods
# --------------------------------------------------------------------------
_TWO_LAYER_SHAPES = {"W1": (2, 3), "b1": (2, 1), "W2": (3, 3), "b2": (3, 1)}


def _draw(shapes):
    """One ``randn`` draw per entry, in the dict's order."""
    return {name: np.random.randn(*shape) for name, shape in shapes.items()}


def _two_layer_parameters():
    np.random.seed(1)
    return _draw(_TWO_LAYER_SHAPES)


def _two_layer_parameters_and_grads():
    """Parameters, then gradients of the same shapes, drawn right after them."""
    parameters = _two_layer_parameters()
    grads = _draw({"d" + name: shape for name, shape in _TWO_LAYER_SHAPES.items()})
    return parameters, grads


def _zeros_like_grads(parameters):
    return {"d" + name: np.zeros(value.shape) for name, value in parameters.items()}


def gd_case():
    parameters, grads = _two_layer_parameters_and_grads()
    return {"parameters": parameters, "grads": grads, "learning_rate": 0.01}


def mini_batches_case():
    """148 examples of 12288 features: two full batches of 64 and one of 20."""
    np.random.seed(1)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    return {"X": X, "Y": Y, "mini_batch_size": 64}


def velocity_case():
    return {"parameters": _two_layer_parameters()}


def momentum_case():
    parameters, grads = _two_layer_parameters_and_grads()
    return {"parameters": parameters, "grads": grads, "v": _zeros_like_grads(parameters),
            "beta": 0.9, "learning_rate": 0.01}


def adam_init_case():
    return {"parameters": _two_layer_parameters()}


def adam_case():
    """Second Adam step from zero moments; learning rate, betas and epsilon keep their defaults."""
    parameters, grads = _two_layer_parameters_and_grads()
    return {"parameters": parameters, "grads": grads,
            "v": _zeros_like_grads(parameters), "s": _zeros_like_grads(parameters), "t": 2}


# --------------------------------------------------------------------------
# Projection for random_mini_batches
# --------------------------------------------------------------------------
_HEAD_ROWS = 5  # how much of each batch's first column to keep


def _float_array(value):
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return np.array(np.nan)


def _first_column_head(batch_X):
    """The top of a batch's first column, or NaNs when the batch is empty or not numbers."""
    batch_X = _float_array(batch_X)
    head = np.full(_HEAD_ROWS, np.nan)
    if batch_X.ndim == 2 and batch_X.shape[1] > 0:
        column = batch_X[:_HEAD_ROWS, 0]
        head[: column.size] = column
    return head


def _shapes(parts):
    """One (rows, columns) pair per batch; -1 stands for a missing dimension."""
    pairs = [(tuple(np.shape(part)) + (-1, -1))[:2] for part in parts]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _labels_row(batch_Y):
    """A batch's labels as floats, or a single NaN when they are not numbers (e.g. None)."""
    try:
        return np.asarray(batch_Y, dtype=float).ravel()
    except (TypeError, ValueError):
        return np.full(1, np.nan)


def mini_batches_summary(batches):
    """A small but telling picture of a list of ``(mini_batch_X, mini_batch_Y)`` pairs.

    * ``X_shapes``, ``Y_shapes``: one row ``(rows, columns)`` per batch, so a
      missing last batch or an extra empty one shows up;
    * ``sanity_check``: the first three values of row 0 of the first batch's X;
    * ``first_columns``: the first five values of each batch's first column of X;
    * ``labels``: every batch's Y row, joined end to end, which reveals X and Y
      shuffled in different orders.
    """
    batches = list(batches)
    X_parts = [np.asarray(pair[0]) for pair in batches]
    Y_parts = [np.asarray(pair[1]) for pair in batches]
    first_X = _float_array(X_parts[0]) if X_parts else np.zeros((0, 0))
    return {
        "X_shapes": _shapes(X_parts),
        "Y_shapes": _shapes(Y_parts),
        "sanity_check": first_X[0, :3] if first_X.ndim == 2 and first_X.shape[0] else np.zeros(0),
        "first_columns": np.array([_first_column_head(x) for x in X_parts]).reshape(len(X_parts), _HEAD_ROWS),
        "labels": np.concatenate([_labels_row(y) for y in Y_parts]) if Y_parts else np.zeros(0),
    }


# --------------------------------------------------------------------------
# Projection for update_parameters_with_adam
# --------------------------------------------------------------------------
def adam_step(result):
    """What an Adam check compares: ``(parameters, v, s)``.

    The original course's revised edition returns ``v_corrected`` and ``s_corrected``
    after them; of a five-item result only the first three are compared. Any other
    result is compared as it is, so a wrong number of items still says so.
    """
    if isinstance(result, (tuple, list)) and len(result) == 5:
        return tuple(result[:3])
    return result
