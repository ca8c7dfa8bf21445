"""Support code for the Gradient Checking notebook.

Students get this file next to the notebook. It holds the activations, the
conversions between a parameter dictionary and one long column vector (the
N-dimensional gradient check perturbs one entry of that vector at a time),
and the builders of the public test cases: each returns the keyword
arguments of one call of a graded function.
"""
import numpy as np

# The network of the N-dimensional test case: 4 inputs, layers of 5, 3 and 1 units.
# Order matters: it is the order in which parameters are flattened.
PARAMETER_SHAPES = (
    ("W1", (5, 4)), ("b1", (5, 1)),
    ("W2", (3, 5)), ("b2", (3, 1)),
    ("W3", (1, 3)), ("b3", (1, 1)),
)
NUM_PARAMETERS = sum(rows * cols for _, (rows, cols) in PARAMETER_SHAPES)  # 47


def relu(x):
    """Element-wise max(0, x)."""
    return np.maximum(0, x)


def sigmoid(x):
    """Element-wise logistic function 1 / (1 + e^-x)."""
    return 1 / (1 + np.exp(-x))


def _stack_columns(arrays):
    """Flatten each array in C order and stack them into one (n, 1) column."""
    return np.concatenate([np.reshape(a, (-1, 1)) for a in arrays], axis=0)


def dictionary_to_vector(parameters):
    """Flatten W1, b1, W2, b2, W3, b3 into one column vector.

    Returns (theta, keys): theta has shape (47, 1) for the test-case network;
    keys[i] names the parameter that theta[i] came from.
    """
    names = [name for name, _ in PARAMETER_SHAPES]
    theta = _stack_columns([parameters[name] for name in names])
    keys = [name for name in names for _ in range(np.size(parameters[name]))]
    return theta, keys


def gradients_to_vector(gradients):
    """Flatten dW1, db1, dW2, db2, dW3, db3 in the same order as the parameters.

    Other entries of ``gradients`` (dZ3, dA2, ...) are ignored.
    """
    return _stack_columns([gradients["d" + name] for name, _ in PARAMETER_SHAPES])


def vector_to_dictionary(theta):
    """Inverse of dictionary_to_vector for the 4-5-3-1 network.

    Each array is a copy, so a later change to ``theta`` cannot leak into it.
    """
    flat = np.asarray(theta).reshape(-1)
    if flat.size != NUM_PARAMETERS:
        raise ValueError(f"expected {NUM_PARAMETERS} values, got {flat.size}")
    parameters, start = {}, 0
    for name, shape in PARAMETER_SHAPES:
        stop = start + shape[0] * shape[1]
        parameters[name] = flat[start:stop].reshape(shape).copy()
        start = stop
    return parameters


# ---------------------------------------------------------------- test cases

def forward_case():
    """Arguments of forward_propagation for the 1-D example."""
    return {"x": 2, "theta": 4}


def backward_case():
    """Arguments of backward_propagation for the 1-D example."""
    return {"x": 2, "theta": 4}


def gradient_check_case():
    """Arguments of gradient_check for the 1-D example."""
    return {"x": 2, "theta": 4}


def draw_network_case(seed=1, m=3, Y=None):
    """Seeded X (4, m), labels Y and parameters of the 4-5-3-1 network.

    Draw order (legacy global RNG): X, then W1, b1, W2, b2, W3, b3.
    When Y is None the labels are [1, 1, 0], as in the public case.
    """
    np.random.seed(seed)
    X = np.random.randn(4, m)
    Y = np.array([1, 1, 0]) if Y is None else np.asarray(Y)
    parameters = {name: np.random.randn(*shape) for name, shape in PARAMETER_SHAPES}
    return X, Y, parameters


def gradient_check_n_case():
    """Arguments of gradient_check_n: the seeded network with the gradients
    that the notebook's (deliberately buggy) backward_propagation_n returns."""
    X, Y, parameters = draw_network_case()
    _, cache = _forward_n(X, Y, parameters)
    gradients = _buggy_backward_n(X, Y, cache)
    return {"parameters": parameters, "gradients": gradients, "X": X, "Y": Y}


# A private copy of the given code in the notebook, so that the builder works
# without the notebook. The two copies must stay identical (a test compares them).

def _forward_n(X, Y, parameters):
    """Cost and cache of LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID on (X, Y)."""
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]

    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    cost = np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y)) / m
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return cost, cache


def _buggy_backward_n(X, Y, cache):
    """The notebook's backward_propagation_n exactly as students receive it,
    mistakes included: the gradients it returns are the ones to be checked."""
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache

    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * (A2 > 0)
    dW2 = 2 * np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = 4 * np.sum(dZ1, axis=1, keepdims=True) / m

    return {"dZ3": dZ3, "dW3": dW3, "db3": db3,
            "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
