"""Checks for the Gradient Checking notebook (30 points).

Runs only in the grader's process. Public checks use the builders students
also have in gradcheck_helpers; hidden checks build their inputs here.

The differences returned by gradient_check and gradient_check_n are rounding
noise on top of whatever bug they measure, so every comparison has a
tolerance. Correct ways of writing the regions perform the same
floating-point operations on the same numbers (the forward passes are fixed)
and differ at most in the last bits of the norms, so the tolerances can stay
tight enough to tell the common mistakes apart.
"""
import gradcheck_helpers as _helpers  # from this folder: the module the "gradcheck_helpers:..." builders resolve to
import numpy as np

from grader.checks import Assignment, Check, Hint

# ------------------------------------------------------------ hidden inputs

def _correct_backward_n(X, Y, cache):
    """Backpropagation of the 4-5-3-1 network without the planted bugs."""
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dZ3 = A3 - Y
    dZ2 = np.dot(W3.T, dZ3) * (A2 > 0)
    dZ1 = np.dot(W2.T, dZ2) * (A1 > 0)
    gradients = {}
    for layer, (dZ, A_prev) in enumerate([(dZ1, X), (dZ2, A1), (dZ3, A2)], start=1):
        gradients[f"dW{layer}"] = np.dot(dZ, A_prev.T) / m
        gradients[f"db{layer}"] = np.sum(dZ, axis=1, keepdims=True) / m
    return gradients


def _network_case(backward, **draw):
    X, Y, parameters = _helpers.draw_network_case(**draw)
    _, cache = _helpers._forward_n(X, Y, parameters)
    return {"parameters": parameters, "gradients": backward(X, Y, cache), "X": X, "Y": Y}


def _correct_gradients_case():
    """The public network, but with the gradients of a bug-free backward pass."""
    return _network_case(_correct_backward_n)


def _correct_gradients_wide_step_case():
    """As above with epsilon = 1e-5: catches a step hard-coded as 1e-7."""
    return {**_network_case(_correct_backward_n), "epsilon": 1e-5}


def _other_network_case():
    """Another seed, five examples, and the given (buggy) backward pass."""
    return _network_case(_helpers._buggy_backward_n, seed=7, m=5, Y=np.array([[0, 1, 1, 0, 1]]))


# ------------------------------------------------------------------ twins
# Fresh inputs of the same shape and type as each public case, known only here:
# a public check earns its points only if its twin passes too.

def _forward_twin():
    return {"x": -3, "theta": 7}


def _backward_twin():
    return {"x": -3, "theta": 7}


def _gradient_check_twin():
    return {"x": 3, "theta": -5}


def _gradient_check_n_twin():
    """Another draw of the 4-5-3-1 network, three examples, other labels, the given backward pass."""
    return _network_case(_helpers._buggy_backward_n, seed=11, Y=np.array([0, 1, 1]))


# ------------------------------------------------------- mistake variants
# Each takes a check's inputs and returns what the mistaken function would.

def _dtheta_from_cost(x, theta):
    """dtheta = forward_propagation(x, theta) / theta: 0 / 0 when theta = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float64(theta * x) / theta


def _dtheta_is_theta(x, theta):
    return theta


def _relative(grad, approx):
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def _absolute(grad, approx):
    return np.linalg.norm(grad - approx)


def _gradient_check_variant(x, theta, epsilon=1e-7, *, divisor=2, measure=_relative):
    approx = (theta + epsilon) * x - (theta - epsilon) * x
    return measure(x, approx / (divisor * epsilon))


def _gradient_check_over_epsilon(x, theta, epsilon=1e-7):
    return _gradient_check_variant(x, theta, epsilon, divisor=1)


def _gradient_check_absolute(x, theta, epsilon=1e-7):
    return _gradient_check_variant(x, theta, epsilon, measure=_absolute)


def _gradient_check_n_variant(parameters, gradients, X, Y, epsilon=1e-7, *, divisor=2,
                              measure=_relative, alias_plus=False, alias_minus=False):
    """gradient_check_n with one of the usual mistakes switched on.

    alias_plus / alias_minus: thetaplus / thetaminus is parameters_values itself
    instead of a copy, so the shifts land in parameters_values and carry over.
    """
    values, _ = _helpers.dictionary_to_vector(parameters)
    grad = _helpers.gradients_to_vector(gradients)

    def cost(theta):
        return _helpers._forward_n(X, Y, _helpers.vector_to_dictionary(theta))[0]

    approx = np.zeros_like(values)
    for i in range(values.shape[0]):
        plus = values if alias_plus else np.copy(values)
        plus[i][0] = plus[i][0] + epsilon
        J_plus = cost(plus)
        minus = values if alias_minus else np.copy(values)
        minus[i][0] = minus[i][0] - epsilon
        J_minus = cost(minus)
        approx[i] = (J_plus - J_minus) / (divisor * epsilon)
    return measure(grad, approx)


def _n_over_epsilon(**inputs):
    return _gradient_check_n_variant(**inputs, divisor=1)


def _n_absolute(**inputs):
    return _gradient_check_n_variant(**inputs, measure=_absolute)


def _n_no_copy(**inputs):
    return _gradient_check_n_variant(**inputs, alias_plus=True, alias_minus=True)


def _n_no_copy_plus(**inputs):
    return _gradient_check_n_variant(**inputs, alias_plus=True)


def _n_no_copy_minus(**inputs):
    return _gradient_check_n_variant(**inputs, alias_minus=True)


# ------------------------------------------------------------------ hints

DTHETA_FROM_COST = Hint(
    "dtheta looks like J / theta, which is 0 / 0 at theta = 0. The derivative of "
    "theta * x with respect to theta is x itself: return it directly.",
    _dtheta_from_cost)
DTHETA_IS_THETA = Hint(
    "dtheta equals theta. Differentiate the cost with respect to theta: "
    "theta disappears and x remains.",
    _dtheta_is_theta)
OVER_EPSILON = Hint(
    "gradapprox looks twice too large: the two evaluations are 2 * epsilon apart, "
    "so divide J_plus - J_minus by 2 * epsilon.",
    _gradient_check_over_epsilon)
ABSOLUTE = Hint(
    "difference looks like the plain distance ||grad - gradapprox||. Divide it by "
    "||grad|| + ||gradapprox|| to make it relative.",
    _gradient_check_absolute)
N_OVER_EPSILON = Hint(OVER_EPSILON.message, _n_over_epsilon)
N_ABSOLUTE = Hint(ABSOLUTE.message, _n_absolute)
NO_COPY = (
    "thetaplus or thetaminus seems to be parameters_values itself rather than "
    "np.copy(parameters_values): the shift then changes parameters_values and "
    "spoils the other evaluations.")
N_NO_COPY = (Hint(NO_COPY, _n_no_copy), Hint(NO_COPY, _n_no_copy_plus), Hint(NO_COPY, _n_no_copy_minus))

# Tolerances: exact arithmetic for the 1-D model up to a few ulps; the
# differences of the gradient checks to about six significant digits (they are
# deterministic for a correct region, but are made of rounding errors).
EXACT = {"rtol": 1e-12, "atol": 1e-15}
ONE_D_DIFFERENCE = {"rtol": 1e-6, "atol": 1e-15}
N_D_DIFFERENCE = {"rtol": 1e-7, "atol": 1e-12}
N_D_NOISE = {"rtol": 0, "atol": 1e-8}  # a correct backprop: the result is noise of size ~1e-7

ASSIGNMENT = Assignment(
    slug="gradient_checking",
    title="Gradient Checking",
    notebook="Gradient_Checking.ipynb",
    points=30,
    files=("gradcheck_helpers.py",),
    checks=(
        # forward_propagation: 4 points
        Check("forward_x2_theta4", "forward_propagation", points=2,
              inputs="gradcheck_helpers:forward_case", twin=_forward_twin, **EXACT,
              description="the cost of the linear model on the public example (J = 8)."),
        Check("forward_negative_theta", "forward_propagation", points=1, hidden=True,
              inputs=lambda: {"x": 3, "theta": -1.5}, **EXACT,
              description="Sign handling and non-integer theta; a hard-coded 8."),
        Check("forward_theta_zero", "forward_propagation", points=1, hidden=True,
              inputs=lambda: {"x": 5, "theta": 0}, **EXACT,
              description="theta = 0 gives J = 0; any cost that is not proportional to theta."),

        # backward_propagation: 5 points
        Check("backward_x2_theta4", "backward_propagation", points=2,
              inputs="gradcheck_helpers:backward_case", twin=_backward_twin, **EXACT,
              description="the derivative on the public example (dtheta = 2); returning theta instead.",
              hints=(DTHETA_IS_THETA,)),
        Check("backward_negative_theta", "backward_propagation", points=1, hidden=True,
              inputs=lambda: {"x": 3, "theta": -1.5}, **EXACT,
              description="A hard-coded 2; returning theta or J instead of x.",
              hints=(DTHETA_IS_THETA,)),
        Check("backward_other_x", "backward_propagation", points=1, hidden=True,
              inputs=lambda: {"x": -0.7, "theta": 2.5}, **EXACT,
              description="Negative, non-integer x: dtheta must follow x, not the example's 2.",
              hints=(DTHETA_IS_THETA,)),
        Check("backward_theta_zero", "backward_propagation", points=1, hidden=True,
              inputs=lambda: {"x": 5, "theta": 0}, **EXACT,
              description="The shortcut dtheta = J / theta, which divides 0 by 0 here.",
              hints=(DTHETA_FROM_COST, DTHETA_IS_THETA)),

        # gradient_check: 9 points
        Check("gradient_check_x2_theta4", "gradient_check", points=4,
              inputs="gradcheck_helpers:gradient_check_case", twin=_gradient_check_twin, **ONE_D_DIFFERENCE,
              description="Two-sided difference and relative distance on the public example "
                          "(2.919335883291695e-10); dividing by epsilon only; an absolute distance.",
              hints=(OVER_EPSILON, ABSOLUTE)),
        Check("gradient_check_negative", "gradient_check", points=2, hidden=True,
              inputs=lambda: {"x": -3, "theta": -1.5}, **ONE_D_DIFFERENCE,
              description="A hard-coded difference; an absolute distance (the norms add up to 6 here).",
              hints=(OVER_EPSILON, ABSOLUTE)),
        Check("gradient_check_step", "gradient_check", points=3, hidden=True,
              inputs=lambda: {"x": 1.75, "theta": 6.5, "epsilon": 1e-4}, **ONE_D_DIFFERENCE,
              description="A step hard-coded as 1e-7 instead of the epsilon argument; the usual mistakes.",
              hints=(OVER_EPSILON, ABSOLUTE)),

        # gradient_check_n: 12 points
        Check("gradient_check_n_given_backprop", "gradient_check_n", points=5,
              inputs="gradcheck_helpers:gradient_check_n_case", twin=_gradient_check_n_twin,
              **N_D_DIFFERENCE,
              observe=("parameters",),
              description="The public network with the given buggy gradients (about 0.2850931568); "
                          "dividing by epsilon only, an absolute distance, thetaplus/thetaminus "
                          "without np.copy.",
              hints=(N_OVER_EPSILON, N_ABSOLUTE) + N_NO_COPY),
        Check("gradient_check_n_correct_backprop", "gradient_check_n", points=3, hidden=True,
              inputs=_correct_gradients_case, **N_D_NOISE,
              observe=("parameters",),
              description="Bug-free gradients must give about 1.19e-07; a hard-coded 0.285; "
                          "shifts that accumulate because thetaplus/thetaminus alias parameters_values.",
              hints=(N_OVER_EPSILON, N_ABSOLUTE) + N_NO_COPY),
        Check("gradient_check_n_step", "gradient_check_n", points=2, hidden=True,
              inputs=_correct_gradients_wide_step_case, **N_D_DIFFERENCE,
              observe=("parameters",),
              description="epsilon = 1e-5 must be used as given, not replaced by 1e-7.",
              hints=(N_OVER_EPSILON, N_ABSOLUTE) + N_NO_COPY),
        Check("gradient_check_n_other_network", "gradient_check_n", points=2, hidden=True,
              inputs=_other_network_case, **N_D_DIFFERENCE,
              observe=("parameters",),
              description="Another seed and five examples: a result tied to the public case; "
                          "the usual mistakes on different numbers.",
              hints=(N_OVER_EPSILON, N_ABSOLUTE) + N_NO_COPY),
    ),
)
