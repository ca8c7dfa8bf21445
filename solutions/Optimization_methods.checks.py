"""Checks for the Optimization methods notebook (40 points).

Runs only in the grader's process. Public checks use the builders students
also have in nn_test_cases; hidden checks build their inputs here:

* networks with three and four layers (the public cases have two), whose
  shapes are all different, so that a loop stopped early, a swapped key or a
  transposed array shows;
* velocities and Adam averages that are not zero, a step counter t well past 2,
  and other hyperparameters, because from zero averages at t = 2 some mistakes
  (missing bias correction of s, epsilon inside the root) move the result by
  less than a tolerance could safely tell apart;
* mini-batches where m is not a multiple of the batch size, where it is an
  exact multiple, and where it is smaller than one batch.

The update rules are elementwise, so every correct way of writing them (a loop
or a dictionary comprehension, np.square or g ** 2, the terms in another order)
agrees to a few ulps; rtol 1e-7 leaves a wide margin for that while the
mistakes below move some entry by far more.
"""
import math

import nn_test_cases as _cases  # from this folder: the module the "nn_test_cases:..." builders resolve to
import numpy as np

from grader.checks import Assignment, Check, Hint

# ------------------------------------------------------------ hidden inputs

def _random_layers(rng, dims, prefix="", scale=1.0):
    """A dict W1, b1, ... (keys prefixed, e.g. "dW1") for a network with these layer sizes."""
    out = {}
    for l in range(1, len(dims)):
        out[prefix + "W" + str(l)] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        out[prefix + "b" + str(l)] = rng.standard_normal((dims[l], 1)) * scale
    return out


def _network(seed, dims):
    rng = np.random.default_rng(seed)
    parameters = _random_layers(rng, dims)
    grads = _random_layers(rng, dims, prefix="d")
    return rng, parameters, grads


def _gd_three_layers():
    _, parameters, grads = _network(101, [4, 3, 2, 1])
    return {"parameters": parameters, "grads": grads, "learning_rate": 0.05}


def _velocity_three_layers():
    _, parameters, _ = _network(102, [5, 3, 4, 1])
    return {"parameters": parameters}


def _momentum_three_layers():
    """Non-zero velocity, beta 0.8: (1 - beta) and the order of the two updates both matter."""
    rng, parameters, grads = _network(103, [4, 3, 2, 1])
    v = _random_layers(rng, [4, 3, 2, 1], prefix="d", scale=0.5)
    return {"parameters": parameters, "grads": grads, "v": v, "beta": 0.8, "learning_rate": 0.1}


def _adam_init_four_layers():
    _, parameters, _ = _network(104, [3, 5, 2, 4, 1])
    return {"parameters": parameters}


def _adam_moments(rng, dims, grads):
    """Plausible running averages: v near the gradients, s positive and small."""
    v = _random_layers(rng, dims, prefix="d", scale=0.3)
    s = {key: np.square(g) * rng.uniform(0.001, 0.01, size=g.shape) for key, g in grads.items()}
    return v, s


def _adam_three_layers_t7():
    """t = 7, epsilon 1e-4 next to s of order 1e-4 .. 1e-2: epsilon's place in the formula shows."""
    rng, parameters, grads = _network(105, [4, 3, 2, 1])
    v, s = _adam_moments(rng, [4, 3, 2, 1], grads)
    return {"parameters": parameters, "grads": grads, "v": v, "s": s, "t": 7,
            "learning_rate": 0.02, "epsilon": 1e-4}


def _adam_four_layers_t50():
    """t = 50 with beta1 0.8, beta2 0.99, all four hyperparameters passed explicitly."""
    rng, parameters, grads = _network(106, [3, 5, 2, 4, 1])
    v, s = _adam_moments(rng, [3, 5, 2, 4, 1], grads)
    return {"parameters": parameters, "grads": grads, "v": v, "s": s, "t": 50,
            "learning_rate": 0.005, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}


def _batches_case(seed, n, m, size, labels):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    u = rng.uniform(size=(1, m))
    Y = (u < 0.5) if labels == "bool" else (u < 0.5).astype(float)
    return {"X": X, "Y": Y, "mini_batch_size": size, "seed": seed}


def _batches_with_remainder():
    """m = 130, batches of 32: four full batches and one of 2; float labels in a row vector."""
    return _batches_case(7, 3, 130, 32, "float")


def _batches_exact_multiple():
    """m = 96, batches of 32: exactly three batches, no fourth (empty) one."""
    return _batches_case(8, 2, 96, 32, "bool")


def _batches_smaller_than_one():
    """m = 10 < 16: no full batch, a single partial one."""
    return _batches_case(9, 4, 10, 16, "float")


# ------------------------------------------------------------------ twins
# Each public case has a twin known only here: the same call on fresh numbers. A public
# check earns its points only if its twin passes too, so outputs copied from the
# released expected values earn nothing.

def _redrawn(value, rng):
    """``value`` with fresh numbers in the same shapes: float arrays redrawn from a normal,
    bool arrays from coin flips. All-zero arrays (initial velocities and averages) and
    scalars (learning rate, t, batch size) stay as they are."""
    if isinstance(value, dict):
        return {key: _redrawn(item, rng) for key, item in value.items()}
    if isinstance(value, np.ndarray) and value.dtype == bool:
        return rng.uniform(size=value.shape) < 0.5
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.any():
        return rng.standard_normal(value.shape)
    return value


def _twin_of(case, seed):
    def twin():
        return _redrawn(case(), np.random.default_rng(seed))
    twin.__name__ = f"{case.__name__}_twin"
    return twin


def _mini_batches_twin():
    """The public case's 148 examples in batches of 64, with fresh values and fewer features:
    the batching is what is checked, and 40 rows move 300 times less data than 12288."""
    rng = np.random.default_rng(203)
    return {"X": rng.standard_normal((40, 148)), "Y": rng.standard_normal((1, 148)) < 0.5, "mini_batch_size": 64}


def _two_layers_other_shapes():
    """For the initialisers, whose output depends on shapes only: W1 (2, 4), W2 (3, 2)."""
    return {"parameters": _random_layers(np.random.default_rng(201), [4, 2, 3])}


# ------------------------------------------------------- mistake variants
# Each takes a check's inputs and returns what the mistaken function would.
# They never modify their inputs.

def _layers(parameters):
    return [str(l) for l in range(1, len(parameters) // 2 + 1)]


def gd_ascent(parameters, grads, learning_rate):
    """The gradient added instead of subtracted."""
    out = dict(parameters)
    for l in _layers(parameters):
        for p in ("W", "b"):
            out[p + l] = parameters[p + l] + learning_rate * grads["d" + p + l]
    return out


def _mini_batches(X, Y, mini_batch_size=64, seed=0, *, drop_last=False, always_last=False,
                  y_order="same"):
    """random_mini_batches with one mistake switched on.

    drop_last: the last partial batch is left out. always_last: the "last"
    batch is added even when m is a multiple of the size (it is then empty).
    y_order: "same" (correct), "unshuffled" (labels sliced from Y),
    "unshuffled_full" (only the full batches' labels sliced from Y), or
    "own" (labels shuffled with a second permutation).
    """
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    if y_order in ("same", "unshuffled_full"):
        shuffled_Y = Y[:, permutation].reshape((1, m))
    elif y_order == "own":
        shuffled_Y = Y[:, list(np.random.permutation(m))].reshape((1, m))
    else:
        shuffled_Y = Y.reshape((1, m))
    full_Y = Y.reshape((1, m)) if y_order == "unshuffled_full" else shuffled_Y
    full = math.floor(m / mini_batch_size)
    batches = [(shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                full_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]) for k in range(full)]
    if (m % mini_batch_size != 0 and not drop_last) or always_last:
        batches.append((shuffled_X[:, full * mini_batch_size:m], shuffled_Y[:, full * mini_batch_size:m]))
    return batches


def batches_drop_last(**inputs):
    return _mini_batches(**inputs, drop_last=True)


def batches_empty_last(**inputs):
    return _mini_batches(**inputs, always_last=True)


def batches_unshuffled_Y(**inputs):
    return _mini_batches(**inputs, y_order="unshuffled")


def batches_unshuffled_Y_in_full_batches(**inputs):
    return _mini_batches(**inputs, y_order="unshuffled_full")


def batches_Y_own_permutation(**inputs):
    return _mini_batches(**inputs, y_order="own")


def velocity_keyed_like_parameters(parameters):
    """Keys W1, b1, ... instead of the gradients' dW1, db1, ..."""
    return {key: np.zeros(value.shape) for key, value in parameters.items()}


def velocity_transposed(parameters):
    """Velocities of the weights shaped like W.T."""
    return {"d" + key: np.zeros(value.shape[::-1] if key.startswith("W") else value.shape)
            for key, value in parameters.items()}


def _momentum(parameters, grads, v, beta, learning_rate, *, damp=True, step_with="v"):
    new_p, new_v = dict(parameters), dict(v)
    for l in _layers(parameters):
        for p in ("W", "b"):
            g = grads["d" + p + l]
            new_v["d" + p + l] = beta * v["d" + p + l] + ((1 - beta) * g if damp else g)
            step = new_v["d" + p + l] if step_with == "v" else g
            new_p[p + l] = parameters[p + l] - learning_rate * step
    return new_p, new_v


def momentum_without_damping(**inputs):
    """v = beta * v + grad: the (1 - beta) factor left out."""
    return _momentum(**inputs, damp=False)


def momentum_steps_with_gradient(**inputs):
    """The velocity is updated, but the parameters still move along the raw gradient."""
    return _momentum(**inputs, step_with="grad")


def adam_init_keyed_like_parameters(parameters):
    return velocity_keyed_like_parameters(parameters), velocity_keyed_like_parameters(parameters)


def _adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, *,
          s_correction_beta="beta2", correct_v=True, correct_s=True, epsilon_inside=False):
    new_p, new_v, new_s = dict(parameters), dict(v), dict(s)
    s_beta = beta2 if s_correction_beta == "beta2" else beta1
    for l in _layers(parameters):
        for p in ("W", "b"):
            key, g = "d" + p + l, grads["d" + p + l]
            new_v[key] = beta1 * v[key] + (1 - beta1) * g
            new_s[key] = beta2 * s[key] + (1 - beta2) * np.square(g)
            v_hat = new_v[key] / (1 - beta1 ** t) if correct_v else new_v[key]
            s_hat = new_s[key] / (1 - s_beta ** t) if correct_s else new_s[key]
            denominator = np.sqrt(s_hat + epsilon) if epsilon_inside else np.sqrt(s_hat) + epsilon
            new_p[p + l] = parameters[p + l] - learning_rate * v_hat / denominator
    return new_p, new_v, new_s


def adam_beta1_in_s_correction(**inputs):
    """s corrected by 1 - beta1 ** t instead of 1 - beta2 ** t."""
    return _adam(**inputs, s_correction_beta="beta1")


def adam_without_bias_correction(**inputs):
    return _adam(**inputs, correct_v=False, correct_s=False)


def adam_only_v_corrected(**inputs):
    return _adam(**inputs, correct_s=False)


def adam_epsilon_inside_root(**inputs):
    """sqrt(s_corrected + epsilon) instead of sqrt(s_corrected) + epsilon."""
    return _adam(**inputs, epsilon_inside=True)


# ------------------------------------------------------------------ hints

GD_HINTS = (Hint("The parameters moved uphill: subtract learning_rate * gradient, do not add it.", gd_ascent),)
DROP_LAST = Hint("The last, smaller mini-batch is missing. When m is not a multiple of mini_batch_size, "
                 "the columns from num_complete_minibatches * mini_batch_size to m form one more batch.",
                 batches_drop_last)
EMPTY_LAST = Hint("There is an empty mini-batch at the end. When m is an exact multiple of mini_batch_size "
                  "there is no partial batch to add.", batches_empty_last)
UNSHUFFLED_Y = ("The labels no longer match their examples: slice mini_batch_Y from shuffled_Y, "
                "with the same columns as mini_batch_X.")
LABELS_APART = (
    Hint(UNSHUFFLED_Y, batches_unshuffled_Y),
    Hint("X and Y were shuffled in different orders: one permutation must be applied to both.",
         batches_Y_own_permutation),
)
FULL_BATCH_LABELS_APART = Hint(UNSHUFFLED_Y, batches_unshuffled_Y_in_full_batches)
# Each check lists only the hints whose mistake changes its output.
BATCH_HINTS_REMAINDER = (DROP_LAST, FULL_BATCH_LABELS_APART) + LABELS_APART
BATCH_HINTS_EXACT = (EMPTY_LAST, FULL_BATCH_LABELS_APART) + LABELS_APART
BATCH_HINTS_NO_FULL_BATCH = (DROP_LAST,) + LABELS_APART
VELOCITY_HINTS = (
    Hint("The velocity's keys follow the gradients: 'dW1', 'db1', ... rather than 'W1', 'b1', ...",
         velocity_keyed_like_parameters),
    Hint("Each velocity must have exactly the shape of its parameter; some are transposed.",
         velocity_transposed),
)
MOMENTUM_HINTS = (
    Hint("The velocity grew too fast: the new gradient is weighted by (1 - beta), "
         "v = beta * v + (1 - beta) * grad.", momentum_without_damping),
    Hint("The parameters moved along the raw gradient. With momentum they move along the updated "
         "velocity: W = W - learning_rate * v['dW'].", momentum_steps_with_gradient),
)
ADAM_INIT_HINTS = (
    Hint("v and s are keyed like the gradients: 'dW1', 'db1', ... rather than 'W1', 'b1', ...",
         adam_init_keyed_like_parameters),
)
ADAM_HINTS = (
    Hint("s_corrected was divided by 1 - beta1 ** t. The second average decays with beta2, "
         "so its correction is 1 - beta2 ** t.", adam_beta1_in_s_correction),
    Hint("The bias correction is missing: divide v by 1 - beta1 ** t and s by 1 - beta2 ** t "
         "before taking the step.", adam_without_bias_correction),
    Hint("Only v was bias-corrected; s needs its own correction, s / (1 - beta2 ** t).",
         adam_only_v_corrected),
    Hint("epsilon ended up inside the square root. Add it after: "
         "v_corrected / (np.sqrt(s_corrected) + epsilon).", adam_epsilon_inside_root),
)

EXACT = {"rtol": 0, "atol": 0}
UPDATE = {"rtol": 1e-7, "atol": 1e-10}

ASSIGNMENT = Assignment(
    slug="optimization",
    title="Optimization methods",
    notebook="Optimization_methods.ipynb",
    points=40,
    files=("nn_helpers.py", "nn_test_cases.py"),
    checks=(
        # update_parameters_with_gd: 6 points
        Check("gd_two_layers", "update_parameters_with_gd", points=3,
              inputs="nn_test_cases:gd_case", twin=_twin_of(_cases.gd_case, 202), **UPDATE,
              description="One step W - alpha * dW, b - alpha * db on the public example; "
                          "a step uphill.",
              hints=GD_HINTS),
        Check("gd_three_layers", "update_parameters_with_gd", points=3, hidden=True,
              inputs=_gd_three_layers, **UPDATE,
              description="L = 3 and another learning rate: a loop fixed to two layers, keys "
                          "shifted by one, a hard-coded 0.01.",
              hints=GD_HINTS),

        # random_mini_batches: 9 points
        Check("mini_batches_148_by_64", "random_mini_batches", points=3,
              inputs="nn_test_cases:mini_batches_case", twin=_mini_batches_twin,
              **EXACT,
              project="nn_test_cases:mini_batches_summary",
              description="The public example (12288 x 148, batches of 64) seen through a summary: "
                          "batch shapes 64, 64, 20, the sanity values, each batch's first column and "
                          "all labels; a dropped last batch, labels not shuffled with X.",
              hints=BATCH_HINTS_REMAINDER),
        Check("mini_batches_remainder", "random_mini_batches", points=2, hidden=True,
              inputs=_batches_with_remainder, **EXACT,
              description="m = 130 with batches of 32 and float labels in a row vector: four full "
                          "batches and a last one of 2, compared column by column; a dropped last "
                          "batch, wrong slice bounds, X and Y in different orders.",
              hints=BATCH_HINTS_REMAINDER),
        Check("mini_batches_exact_multiple", "random_mini_batches", points=2, hidden=True,
              inputs=_batches_exact_multiple, **EXACT,
              description="m = 96 with batches of 32: exactly three batches; an extra empty batch, "
                          "X and Y in different orders.",
              hints=BATCH_HINTS_EXACT),
        Check("mini_batches_single_partial", "random_mini_batches", points=2, hidden=True,
              inputs=_batches_smaller_than_one, **EXACT,
              description="m = 10 with batches of 16: no full batch, one batch of all 10 shuffled "
                          "examples; a last batch that is dropped or that is not taken from the "
                          "shuffled data.",
              hints=BATCH_HINTS_NO_FULL_BATCH),

        # initialize_velocity: 4 points
        Check("velocity_two_layers", "initialize_velocity", points=2,
              inputs="nn_test_cases:velocity_case", twin=_two_layers_other_shapes, **EXACT,
              description="Zeros keyed dW1, db1, dW2, db2 with the parameters' shapes; keys named "
                          "like the parameters.",
              hints=VELOCITY_HINTS),
        Check("velocity_three_layers", "initialize_velocity", points=2, hidden=True,
              inputs=_velocity_three_layers, **EXACT,
              description="L = 3 with no square matrix: a loop fixed to two layers, transposed shapes.",
              hints=VELOCITY_HINTS),

        # update_parameters_with_momentum: 7 points
        Check("momentum_two_layers", "update_parameters_with_momentum", points=3,
              inputs="nn_test_cases:momentum_case", twin=_twin_of(_cases.momentum_case, 204),
              returns=("parameters", "v"), **UPDATE,
              description="The public example from a zero velocity (beta 0.9); the (1 - beta) "
                          "factor left out, parameters moved along the gradient instead of v.",
              hints=MOMENTUM_HINTS),
        Check("momentum_three_layers", "update_parameters_with_momentum", points=4, hidden=True,
              inputs=_momentum_three_layers, returns=("parameters", "v"), **UPDATE,
              description="L = 3, a non-zero velocity, beta 0.8, learning rate 0.1: the old velocity "
                          "must be carried over (beta * v), the step taken with the new one; "
                          "the same mistakes.",
              hints=MOMENTUM_HINTS),

        # initialize_adam: 4 points
        Check("adam_init_two_layers", "initialize_adam", points=2,
              inputs="nn_test_cases:adam_init_case", twin=_two_layers_other_shapes,
              returns=("v", "s"), **EXACT,
              description="Two dicts of zeros keyed dW1 ... db2 with the parameters' shapes.",
              hints=ADAM_INIT_HINTS),
        Check("adam_init_four_layers", "initialize_adam", points=2, hidden=True,
              inputs=_adam_init_four_layers, returns=("v", "s"), **EXACT,
              description="L = 4: a loop fixed to two layers, wrong shapes or keys.",
              hints=ADAM_INIT_HINTS),

        # update_parameters_with_adam: 10 points
        Check("adam_two_layers_t2", "update_parameters_with_adam", points=4,
              inputs="nn_test_cases:adam_case", twin=_twin_of(_cases.adam_case, 205),
              returns=("parameters", "v", "s"), project="nn_test_cases:adam_step", **UPDATE,
              description="The public example (t = 2, zero averages, default hyperparameters); "
                          "beta1 in the correction of s, no bias correction, epsilon inside the "
                          "root (W2[2, 1] = -1.09245036 instead of -1.09244991).",
              hints=ADAM_HINTS),
        Check("adam_three_layers_t7", "update_parameters_with_adam", points=3, hidden=True,
              inputs=_adam_three_layers_t7, returns=("parameters", "v", "s"),
              project="nn_test_cases:adam_step", **UPDATE,
              description="L = 3, non-zero v and s, t = 7, epsilon 1e-4: the averages must carry "
                          "their old values over; epsilon inside the root; s corrected with beta1; "
                          "a missing correction.",
              hints=ADAM_HINTS),
        Check("adam_four_layers_t50", "update_parameters_with_adam", points=3, hidden=True,
              inputs=_adam_four_layers_t50, returns=("parameters", "v", "s"),
              project="nn_test_cases:adam_step", **UPDATE,
              description="L = 4, t = 50, beta1 0.8, beta2 0.99, epsilon 1e-6: hyperparameters "
                          "hard-coded to their defaults; the correction of s, which still matters "
                          "at t = 50 (1 - 0.99 ** 50 = 0.39).",
              hints=ADAM_HINTS),
    ),
)
