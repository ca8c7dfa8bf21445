"""Checks for the Initialization notebook (30 points).

Runs only in the grader's process. Public checks use the builders students
also have in nn_test_cases; hidden checks use deeper networks whose fan-in
and fan-out differ from layer to layer, so that a transposed shape, a scale
taken from the wrong layer or a bias drawn at random cannot match by luck.

Both random initialisers call np.random.seed(3) themselves (given code), so
their expected weights are fixed numbers. Any correct way of writing the
region draws the same values in the same order; the tolerances only absorb
the last-digit differences between, say, ``* np.sqrt(2 / n)`` and
``/ np.sqrt(n / 2)``.
"""
import numpy as np

from grader.checks import Assignment, Check, Hint

# ------------------------------------------------------------ hidden inputs

def _three_layers():
    """L = 3; the fan-in changes at every layer."""
    return {"layers_dims": [5, 4, 3, 2]}


def _four_layers_narrow_and_wide():
    """L = 4 with a 1-unit layer in the middle: a transposed W or a flat b shows in every layer."""
    return {"layers_dims": [1, 6, 1, 4, 2]}


def _five_layers():
    """L = 5: the seed's draws must be spread over all layers, in order."""
    return {"layers_dims": [2, 3, 3, 3, 1, 2]}


def _uneven_fans():
    """Fan-in and fan-out far apart (8 -> 2 -> 6 -> 1): scaling by the wrong layer's size shows."""
    return {"layers_dims": [8, 2, 6, 1]}


# ------------------------------------------------------------------ twins
# Each public case has a twin known only here: another two-layer network. A public
# check earns its points only if its twin passes too, so outputs copied from the
# released expected values earn nothing.

def _zeros_twin():
    return {"layers_dims": [2, 5, 3]}


def _random_twin():
    return {"layers_dims": [4, 2, 3]}


def _he_twin():
    return {"layers_dims": [3, 5, 2]}


# ------------------------------------------------------- mistake variants
# Each takes a check's inputs and returns what the mistaken function would.

def _initialise(layers_dims, weight, bias, seed=3):
    """Build parameters layer by layer with the given draw functions.

    ``weight(rows, cols)`` and ``bias(rows, cols)`` get the layer's shape
    (``cols`` is the fan-in) and return the arrays to store.
    """
    if seed is not None:
        np.random.seed(seed)
    parameters = {}
    for l in range(1, len(layers_dims)):
        rows, cols = layers_dims[l], layers_dims[l - 1]
        parameters["W" + str(l)] = weight(rows, cols)
        parameters["b" + str(l)] = bias(rows, cols)
    return parameters


def _zero_bias(rows, cols):
    return np.zeros((rows, 1))


def zeros_transposed(layers_dims):
    """W of shape (n[l-1], n[l]) instead of (n[l], n[l-1])."""
    return _initialise(layers_dims, lambda r, c: np.zeros((c, r)), _zero_bias, seed=None)


def zeros_flat_bias(layers_dims):
    """b as a 1-D array of shape (n[l],) instead of a column (n[l], 1)."""
    return _initialise(layers_dims, lambda r, c: np.zeros((r, c)), lambda r, c: np.zeros(r), seed=None)


def random_bias_times_10(layers_dims):
    """Biases drawn like the weights, randn * 10, instead of zeros."""
    return _initialise(layers_dims, lambda r, c: np.random.randn(r, c) * 10,
                       lambda r, c: np.random.randn(r, 1) * 10)


def random_transposed(layers_dims):
    return _initialise(layers_dims, lambda r, c: np.random.randn(c, r) * 10, _zero_bias)


def random_unscaled(layers_dims):
    """Standard normal weights, the factor 10 forgotten."""
    return _initialise(layers_dims, lambda r, c: np.random.randn(r, c), _zero_bias)


def he_xavier(layers_dims):
    """Xavier scale sqrt(1 / fan-in) instead of He's sqrt(2 / fan-in)."""
    return _initialise(layers_dims, lambda r, c: np.random.randn(r, c) * np.sqrt(1 / c), _zero_bias)


def he_fan_out(layers_dims):
    """sqrt(2 / layers_dims[l]): the layer's own size instead of the previous layer's."""
    return _initialise(layers_dims, lambda r, c: np.random.randn(r, c) * np.sqrt(2 / r), _zero_bias)


def he_random_bias(layers_dims):
    """Biases drawn with He scaling instead of zeros."""
    return _initialise(layers_dims, lambda r, c: np.random.randn(r, c) * np.sqrt(2 / c),
                       lambda r, c: np.random.randn(r, 1) * np.sqrt(2 / c))


def he_transposed(layers_dims):
    return _initialise(layers_dims, lambda r, c: np.random.randn(c, r) * np.sqrt(2 / c), _zero_bias)


# ------------------------------------------------------------------ hints

TRANSPOSED = ("The weight matrices have their dimensions swapped: W of layer l has shape "
              "(layers_dims[l], layers_dims[l-1]), one row per unit of the layer.")
FLAT_BIAS = ("The biases should be columns of shape (layers_dims[l], 1), not 1-D arrays: "
             "give np.zeros both numbers.")

ZEROS_HINTS = (Hint(TRANSPOSED, zeros_transposed), Hint(FLAT_BIAS, zeros_flat_bias))
RANDOM_HINTS = (
    Hint("The biases are random. Only the weights are drawn (randn * 10); biases start at zero.",
         random_bias_times_10),
    Hint(TRANSPOSED, random_transposed),
    Hint("The weights look like plain randn values: multiply them by 10 for this experiment.",
         random_unscaled),
)
HE_HINTS = (
    Hint("These are Xavier weights, scaled by sqrt(1 / fan-in). He initialisation uses sqrt(2 / fan-in).",
         he_xavier),
    Hint("The scale uses the layer's own size. He scaling divides by the previous layer's size, "
         "layers_dims[l-1], the number of inputs each unit sums.", he_fan_out),
    Hint("The biases are random. Only the weights are drawn; biases start at zero.", he_random_bias),
    Hint(TRANSPOSED, he_transposed),
)

EXACT = {"rtol": 0, "atol": 0}
DRAWN = {"rtol": 1e-7, "atol": 1e-12}   # a few ulps between equivalent ways to scale

ASSIGNMENT = Assignment(
    slug="initialization",
    title="Initialization",
    notebook="Initialization.ipynb",
    points=30,
    files=("nn_helpers.py", "nn_test_cases.py"),
    checks=(
        # initialize_parameters_zeros: 10 points
        Check("zeros_3_2_1", "initialize_parameters_zeros", points=4,
              inputs="nn_test_cases:zeros_case", twin=_zeros_twin, **EXACT,
              description="Keys W1, b1, W2, b2 with the shapes (2, 3), (2, 1), (1, 2), (1, 1), all zero; "
                          "a transposed W or a flat b.",
              hints=ZEROS_HINTS),
        Check("zeros_three_layers", "initialize_parameters_zeros", points=3, hidden=True,
              inputs=_three_layers, **EXACT,
              description="L = 3 ([5, 4, 3, 2]): a loop or key set fixed to two layers; wrong shapes.",
              hints=ZEROS_HINTS),
        Check("zeros_four_layers", "initialize_parameters_zeros", points=3, hidden=True,
              inputs=_four_layers_narrow_and_wide, **EXACT,
              description="L = 4 with a one-unit layer ([1, 6, 1, 4, 2]): transposed or flat shapes "
                          "in every layer, answers hard-coded for the public case.",
              hints=ZEROS_HINTS),

        # initialize_parameters_random: 10 points
        Check("random_3_2_1", "initialize_parameters_random", points=4,
              inputs="nn_test_cases:random_case", twin=_random_twin, **DRAWN,
              description="randn * 10 weights in layer order after the given seed, zero biases "
                          "(W1[0, 0] = 17.88628473); random biases, a forgotten * 10, swapped shapes.",
              hints=RANDOM_HINTS),
        Check("random_three_layers", "initialize_parameters_random", points=3, hidden=True,
              inputs=_three_layers, **DRAWN,
              description="L = 3: biases drawn with * 10 (they also shift every later weight), "
                          "swapped shapes, values copied from the public example.",
              hints=RANDOM_HINTS),
        Check("random_five_layers", "initialize_parameters_random", points=3, hidden=True,
              inputs=_five_layers, **DRAWN,
              description="L = 5: every layer initialised, one draw per layer in order; the same mistakes.",
              hints=RANDOM_HINTS),

        # initialize_parameters_he: 10 points
        Check("he_2_4_1", "initialize_parameters_he", points=4,
              inputs="nn_test_cases:he_case", twin=_he_twin, **DRAWN,
              description="He scale sqrt(2 / fan-in) on the public example (W1[0, 0] = 1.78862847); "
                          "Xavier sqrt(1 / n), the fan-out instead of the fan-in, random biases, "
                          "swapped shapes.",
              hints=HE_HINTS),
        Check("he_three_layers", "initialize_parameters_he", points=3, hidden=True,
              inputs=_three_layers, **DRAWN,
              description="L = 3 ([5, 4, 3, 2]): the last layer initialised too; Xavier scale; random "
                          "biases; swapped shapes.",
              hints=HE_HINTS),
        Check("he_uneven_fans", "initialize_parameters_he", points=3, hidden=True,
              inputs=_uneven_fans, **DRAWN,
              description="Fan-in and fan-out far apart ([8, 2, 6, 1]): scaling by layers_dims[l] "
                          "instead of layers_dims[l-1]; Xavier scale.",
              hints=HE_HINTS),
    ),
)
