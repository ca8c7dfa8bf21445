"""Write notebooks shaped like submissions saved from the original course, under tests/original_course/.

Instructors migrating from the original course bring old submissions. Their graded
functions are ours, but the notebook around them is the course's: its helper
imports (testCases, init_utils, gc_utils, opt_utils, public_tests), test calls into
modules we do not ship, saved outputs and tracebacks, old nbformat versions and the
metadata Coursera or Colab wrote. Two editions of that course exist:

* classic: ``### START CODE HERE ### (≈ N lines of code)`` markers; the optimisation
  loops run ``for l in range(L)`` with keys ``str(l + 1)``, like ours;
* revised: ``# YOUR CODE STARTS HERE`` markers under commented stubs; the optimisation
  loops run ``for l in range(1, L + 1)`` with keys ``str(l)``; ``random_mini_batches``
  names ``inc = mini_batch_size``; the gradient checks take ``print_msg=False`` and
  ``gradient_check_n`` fills ``grad_approx`` (ours: ``gradapprox``);
  ``update_parameters_with_adam`` also returns the corrected moments.

The structure follows the course; every text here is our own. Region code is the
reference code from solutions/ (rewritten for the revised edition's loop index) or a
mistake from tests/make_submissions.py. Each scenario states the grade it must get;
tests/test_original_course.py checks it. Re-run after changing a solution:

    .venv/bin/python tests/make_original_course.py
"""
from __future__ import annotations

import base64
import json
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import SCENARIOS as MISTAKES  # noqa: E402

from grader.notebook.regions import extract, normalise_source  # noqa: E402

OUT = Path(__file__).resolve().parent / "original_course"

GC = "Gradient_Checking.ipynb"
INIT = "Initialization.ipynb"
OPT = "Optimization_methods.ipynb"

CLASSIC, REVISED = "classic", "revised"

# ---- the graded functions, as the course lays them out ------------------------------
#
# "@Rn@" stands for region n, at the indentation of its body; "@Rn<@" puts the region's
# markers one level further out than its body (the revised initialize_adam does this).
# "@FOR@" is the optimisation loop header and "@K@" the layer key, which differ by edition.

TEMPLATES = {
    "initialize_parameters_zeros": '''\
# GRADED FUNCTION: initialize_parameters_zeros

def initialize_parameters_zeros(layers_dims):
    """
    Give every weight and every bias the value zero.

    layers_dims -- sizes of all layers, the input layer first

    Returns parameters: W1, b1, ..., WL, bL, with Wl of shape
    (layers_dims[l], layers_dims[l-1]) and bl of shape (layers_dims[l], 1).
    """
    parameters = {}
    L = len(layers_dims)            # counts the input layer as well

    for l in range(1, L):
        @R1@
    return parameters''',
    "initialize_parameters_random": '''\
# GRADED FUNCTION: initialize_parameters_random

def initialize_parameters_random(layers_dims):
    """
    Large random weights (ten times a standard normal draw), zero biases.

    layers_dims -- sizes of all layers, the input layer first

    Returns parameters: W1, b1, ..., WL, bL.
    """
    np.random.seed(3)               # the same draws for every student
    parameters = {}
    L = len(layers_dims)            # counts the input layer as well

    for l in range(1, L):
        @R1@
    return parameters''',
    "initialize_parameters_he": '''\
# GRADED FUNCTION: initialize_parameters_he

def initialize_parameters_he(layers_dims):
    """
    Weights scaled by sqrt(2 / units of the previous layer), zero biases.

    layers_dims -- sizes of all layers, the input layer first

    Returns parameters: W1, b1, ..., WL, bL.
    """
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims) - 1        # layers that own weights

    for l in range(1, L + 1):
        @R1@
    return parameters''',
    "forward_propagation": '''\
# GRADED FUNCTION: forward_propagation

def forward_propagation(x, theta):
    """
    The cost of the toy model, J(theta) = theta * x.

    x -- a number
    theta -- the single parameter, a number

    Returns J.
    """
    @R1@
    return J''',
    "backward_propagation": '''\
# GRADED FUNCTION: backward_propagation

def backward_propagation(x, theta):
    """
    dJ/dtheta for the toy model J(theta) = theta * x.

    Returns dtheta.
    """
    @R1@
    return dtheta''',
    "gradient_check": '''\
# GRADED FUNCTION: gradient_check

def gradient_check(x, theta, epsilon=1e-7@PRINT_MSG@):
    """
    Compare backward_propagation with a centred finite difference.

    Returns difference, the relative gap between the two derivatives.
    """
    # estimate the derivative from two costs
    @R1@
    # the derivative backpropagation gives
    @R2@
    # relative gap
    @R3@
@VERDICT_1D@
    return difference''',
    "gradient_check_n": '''\
# GRADED FUNCTION: gradient_check_n

def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7@PRINT_MSG@):
    """
    Finite differences, one parameter at a time, against backward_propagation_n.

    parameters -- W1, b1, W2, b2, W3, b3
    gradients -- what backward_propagation_n returned
    X, Y -- examples and labels
    epsilon -- the nudge given to each parameter

    Returns difference, the relative gap between the two gradient vectors.
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    @GRADAPPROX@ = np.zeros((num_parameters, 1))

    for i in range(num_parameters):
        # cost with parameter i nudged up
        @R1@
        # cost with parameter i nudged down
        @R2@
        # the estimate for parameter i
        @R3@

    # relative gap between the two vectors
    @R4@
@VERDICT_ND@
    return difference''',
    "update_parameters_with_gd": '''\
# GRADED FUNCTION: update_parameters_with_gd

def update_parameters_with_gd(parameters, grads, learning_rate):
    """
    One plain gradient-descent step on every layer.

    Returns parameters, updated.
    """
    L = len(parameters) // 2        # a W and a b per layer

    @FOR@
        @R1@
    return parameters''',
    "random_mini_batches": '''\
# GRADED FUNCTION: random_mini_batches

def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """
    Shuffle the columns of X and Y the same way, then cut them into batches.

    Returns a list of (mini_batch_X, mini_batch_Y).
    """
    np.random.seed(seed)
    m = X.shape[1]
    mini_batches = []

    # one permutation for both, so every example keeps its label
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
@INC@
    # the full batches
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        @R1@
        mini_batch = (mini_batch_X, mini_batch_Y)
        mini_batches.append(mini_batch)

    # the rest, when m is not a multiple of the batch size
    if m % mini_batch_size != 0:
        @R2@
        mini_batch = (mini_batch_X, mini_batch_Y)
        mini_batches.append(mini_batch)

    return mini_batches''',
    "initialize_velocity": '''\
# GRADED FUNCTION: initialize_velocity

def initialize_velocity(parameters):
    """
    A zero velocity for every gradient, shaped like its parameter.

    Returns v with dW1, db1, ..., dWL, dbL.
    """
    L = len(parameters) // 2
    v = {}

    @FOR@
        @R1@
    return v''',
    "update_parameters_with_momentum": '''\
# GRADED FUNCTION: update_parameters_with_momentum

def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """
    Average the gradients into the velocity, then step along the velocity.

    Returns parameters, v.
    """
    L = len(parameters) // 2

    @FOR@
        @R1@
    return parameters, v''',
    "initialize_adam": '''\
# GRADED FUNCTION: initialize_adam

def initialize_adam(parameters):
    """
    Zero first and second moments for every gradient.

    Returns v, s, both with dW1, db1, ..., dWL, dbL.
    """
    L = len(parameters) // 2
    v = {}
    s = {}

    @FOR@
        @R1<@
    return v, s''',
    "update_parameters_with_adam": '''\
# GRADED FUNCTION: update_parameters_with_adam

def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """
    One Adam step: moving averages of the gradient and its square, both
    corrected for their start at zero, then the scaled step.

    t -- steps taken so far, this one included

    Returns parameters, v, s@ADAM_EXTRA_DOC@.
    """
    L = len(parameters) // 2
    v_corrected = {}
    s_corrected = {}

    @FOR@
        # first moment
        @R1@
        # its correction
        @R2@
        # second moment
        @R3@
        # its correction
        @R4@
        # the step
        @R5@
    return parameters, v, s@ADAM_EXTRA_RETURN@''',
}

# Lines each region is said to need, as the course annotates its markers.
REGION_LINES = {
    "initialize_parameters_zeros": (2,), "initialize_parameters_random": (2,),
    "initialize_parameters_he": (2,), "forward_propagation": (1,), "backward_propagation": (1,),
    "gradient_check": (5, 1, 3), "gradient_check_n": (3, 3, 1, 3), "update_parameters_with_gd": (2,),
    "random_mini_batches": (2, 2), "initialize_velocity": (2,), "update_parameters_with_momentum": (4,),
    "initialize_adam": (4,), "update_parameters_with_adam": (2, 2, 2, 2, 2),
}

# What each edition fills into the templates' edition-specific slots.
EDITION_SLOTS = {
    CLASSIC: {
        "@FOR@": "for l in range(L):", "@K@": "l + 1", "@PRINT_MSG@": "", "@INC@": "", "@GRADAPPROX@": "gradapprox",
        "@ADAM_EXTRA_DOC@": "", "@ADAM_EXTRA_RETURN@": "",
        "@VERDICT_1D@": "    if difference < 1e-7:\n        print(\"The two derivatives agree.\")\n"
                        "    else:\n        print(\"The two derivatives disagree.\")",
        "@VERDICT_ND@": "    if difference > 2e-7:\n        print(\"Backpropagation looks wrong: \" + str(difference))\n"
                        "    else:\n        print(\"Backpropagation agrees: \" + str(difference))",
    },
    REVISED: {
        "@FOR@": "for l in range(1, L + 1):", "@K@": "l", "@PRINT_MSG@": ", print_msg=False",
        "@GRADAPPROX@": "grad_approx",
        "@INC@": "\n    inc = mini_batch_size\n",
        "@ADAM_EXTRA_DOC@": ", v_corrected, s_corrected",
        "@ADAM_EXTRA_RETURN@": ", v_corrected, s_corrected",
        "@VERDICT_1D@": "    if print_msg:\n        if difference > 2e-7:\n            print(\"Mismatch: \" + str(difference))\n"
                        "        else:\n            print(\"Match: \" + str(difference))",
        "@VERDICT_ND@": "    if print_msg:\n        if difference > 2e-7:\n            print(\"Mismatch: \" + str(difference))\n"
                        "        else:\n            print(\"Match: \" + str(difference))",
    },
}

# Functions whose loop runs over layers and whose keys the revised edition writes str(l).
LAYER_LOOPS = ("update_parameters_with_gd", "initialize_velocity", "update_parameters_with_momentum",
               "initialize_adam", "update_parameters_with_adam")


def reference_bodies(notebook: str) -> dict[tuple[str, int], str]:
    """The reference code of every region of a solution notebook: (function, index) -> body."""
    nb = nbformat.read(str(ROOT / "solutions" / notebook), as_version=4)
    bodies = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = normalise_source(cell.source)
        for name in TEMPLATES:
            for region in extract(text, name).regions:
                bodies[(name, region.index)] = region.body
    return bodies


def for_edition(edition: str, function: str, index: int, body: str) -> str:
    """Region code as a student of the given edition writes it (classic code is ours as is)."""
    if edition == CLASSIC:
        return body
    if function in LAYER_LOOPS:
        return body.replace("str(l + 1)", "str(l)")
    if function == "gradient_check_n":  # its scaffold binds grad_approx, not gradapprox
        body = body.replace("gradapprox", "grad_approx")
    if function in ("gradient_check", "gradient_check_n"):
        return body.replace("thetaplus", "theta_plus").replace("thetaminus", "theta_minus")
    if function == "random_mini_batches" and body == REFERENCE[OPT][(function, index)]:
        return REVISED_MINI_BATCHES[index]
    return body


# The revised edition's students slice with its `inc` alias.
REVISED_MINI_BATCHES = {
    1: "mini_batch_X = shuffled_X[:, k * inc:(k + 1) * inc]\nmini_batch_Y = shuffled_Y[:, k * inc:(k + 1) * inc]",
    2: "mini_batch_X = shuffled_X[:, num_complete_minibatches * inc:]\n"
       "mini_batch_Y = shuffled_Y[:, num_complete_minibatches * inc:]",
}

REFERENCE = {nb: reference_bodies(nb) for nb in (GC, INIT, OPT)}


def mistake(name: str) -> dict[tuple[str, int], str]:
    """The region edits of a scenario in tests/make_submissions.py."""
    return dict(next(s for s in MISTAKES if s.name == name).edits)


# ---- writing one graded cell ----------------------------------------------------------

def stub_lines(body: str) -> list[str]:
    """The revised edition's commented stubs above a region: each assigned name, unfilled."""
    stubs = []
    for line in body.split("\n"):
        match = re.match(r"\s*([^=#]+?)\s*=[^=]", line)
        if match and not line.lstrip().startswith("#"):
            stubs.append(f"# {match.group(1)} = ...")
    return stubs


def render_region(edition: str, function: str, index: int, body: str, indent: int, marker_indent: int,
                  approx_style: int) -> list[str]:
    pad, mpad = " " * indent, " " * marker_indent
    lines = REGION_LINES[function][index - 1]
    unit = "line" if lines == 1 else "lines"
    code = [pad + l if l.strip() else "" for l in body.split("\n")] if body.strip() else []
    if edition == CLASSIC:
        note = f"(≈ {lines} {unit} of code)" if approx_style == 0 else f"(approx. {lines} {unit})"
        return [f"{mpad}### START CODE HERE ### {note}", *code, f"{mpad}### END CODE HERE ###"]
    reference = for_edition(edition, function, index, REFERENCE_FOR_STUBS[(function, index)])
    stubs = [pad + s for s in stub_lines(reference)]
    return [f"{pad}# (approx. {lines} {unit})", *stubs, f"{mpad}# YOUR CODE STARTS HERE", *code, "",
            f"{mpad}# YOUR CODE ENDS HERE"]


REFERENCE_FOR_STUBS = {k: v for nb in REFERENCE.values() for k, v in nb.items()}


def graded_source(edition: str, function: str, bodies: dict[int, str], approx_style: int = 0) -> str:
    text = TEMPLATES[function]
    slots = dict(EDITION_SLOTS[edition])
    for token, value in slots.items():
        text = text.replace(token, value)
    out = []
    for line in text.split("\n"):
        match = re.fullmatch(r"( *)@R(\d)(<?)@", line)
        if not match:
            out.append(line)
            continue
        indent, index = len(match.group(1)), int(match.group(2))
        marker_indent = indent - 4 if match.group(3) and edition == REVISED else indent
        out.extend(render_region(edition, function, index, bodies[index], indent, marker_indent, approx_style))
    return "\n".join(out)


# ---- saved outputs --------------------------------------------------------------------

def tiny_png() -> str:
    """A valid 2 x 2 grey PNG, base64-encoded as Jupyter stores images."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode() + "\n"


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": lines_of(text)}


def image() -> dict:
    return {"output_type": "display_data", "metadata": {"needs_background": "light"},
            "data": {"image/png": tiny_png(), "text/plain": ["<Figure size 432x288 with 1 Axes>"]}}


def error(ename: str, evalue: str, frames: list[str]) -> dict:
    red, reset = "\u001b[0;31m", "\u001b[0m"
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{red}---------------------------------------------------------------------------{reset}",
                          f"{red}{ename}{reset}                                 Traceback (most recent call last)",
                          *frames, f"{red}{ename}{reset}: {evalue}"]}


def result(text: str, count: int) -> dict:
    return {"output_type": "execute_result", "execution_count": count, "metadata": {},
            "data": {"text/plain": lines_of(text)}}


def lines_of(text: str) -> list[str]:
    """Jupyter saves multi-line text as a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


# ---- whole notebooks --------------------------------------------------------------------

@dataclass
class Cell:
    kind: str  # "markdown" | "code"
    source: str
    outputs: list = field(default_factory=list)
    count: int | None = None
    metadata: dict = field(default_factory=dict)


IMPORTS = {
    (INIT, CLASSIC): "import numpy as np\nimport matplotlib.pyplot as plt\nimport sklearn\nimport sklearn.datasets\n"
                     "from init_utils import sigmoid, relu, compute_loss, forward_propagation, backward_propagation\n"
                     "from init_utils import update_parameters, predict, load_dataset, plot_decision_boundary, predict_dec\n\n"
                     "%matplotlib inline\nplt.rcParams['figure.figsize'] = (7.0, 4.0)",
    (INIT, REVISED): "import numpy as np\nimport matplotlib.pyplot as plt\nimport sklearn\nimport sklearn.datasets\n"
                     "from public_tests import *\n"
                     "from init_utils import sigmoid, relu, compute_loss, forward_propagation, backward_propagation\n"
                     "from init_utils import update_parameters, predict, load_dataset, plot_decision_boundary, predict_dec\n\n"
                     "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
    (GC, CLASSIC): "import numpy as np\nfrom testCases import *\n"
                   "from gc_utils import sigmoid, relu, dictionary_to_vector, vector_to_dictionary, gradients_to_vector",
    (GC, REVISED): "import numpy as np\nfrom testCases import *\nfrom public_tests import *\n"
                   "from gc_utils import sigmoid, relu, dictionary_to_vector, vector_to_dictionary, gradients_to_vector\n\n"
                   "%load_ext autoreload\n%autoreload 2",
    (OPT, CLASSIC): "import numpy as np\nimport matplotlib.pyplot as plt\nimport scipy.io\nimport math\nimport sklearn\n"
                    "import sklearn.datasets\n\n"
                    "from opt_utils import load_params_and_grads, initialize_parameters, forward_propagation, backward_propagation\n"
                    "from opt_utils import compute_cost, predict, predict_dec, plot_decision_boundary, load_dataset\n"
                    "from testCases import *\n\n%matplotlib inline",
    (OPT, REVISED): "import numpy as np\nimport matplotlib.pyplot as plt\nimport scipy.io\nimport math\nimport sklearn\n"
                    "import sklearn.datasets\n\n"
                    "from opt_utils_v1a import load_params_and_grads, initialize_parameters, forward_propagation, backward_propagation\n"
                    "from opt_utils_v1a import compute_cost, predict, predict_dec, plot_decision_boundary, load_dataset\n"
                    "from copy import deepcopy\nfrom testCases import *\nfrom public_tests import *\n\n%matplotlib inline",
}

FUNCTIONS = {
    INIT: ("initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he"),
    GC: ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n"),
    OPT: ("update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
          "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam"),
}

# A test cell after each graded function: what the course had students run.
TEST_CALLS = {
    "initialize_parameters_zeros": ("parameters = initialize_parameters_zeros([3, 2, 1])\n"
                                    "print(\"W1 = \" + str(parameters[\"W1\"]))\nprint(\"b1 = \" + str(parameters[\"b1\"]))",
                                    "W1 = [[0. 0. 0.]\n [0. 0. 0.]]\nb1 = [[0.]\n [0.]]\n"),
    "initialize_parameters_random": ("parameters = initialize_parameters_random([3, 2, 1])\n"
                                     "print(\"W1 = \" + str(parameters[\"W1\"]))",
                                     "W1 = [[ 17.88628473   4.36509851   0.96497468]\n [-18.63492703  -2.77388203  -3.54758979]]\n"),
    "initialize_parameters_he": ("parameters = initialize_parameters_he([2, 4, 1])\n"
                                 "print(\"W2 = \" + str(parameters[\"W2\"]))",
                                 "W2 = [[-0.03098412 -0.33744411 -0.92904268  0.62552248]]\n"),
    "forward_propagation": ("x, theta = 2, 4\nJ = forward_propagation(x, theta)\nprint (\"J = \" + str(J))", "J = 8\n"),
    "backward_propagation": ("x, theta = 2, 4\ndtheta = backward_propagation(x, theta)\nprint (\"dtheta = \" + str(dtheta))",
                             "dtheta = 2\n"),
    "gradient_check": ("x, theta = 2, 4\ndifference = gradient_check(x, theta)\nprint(\"difference = \" + str(difference))",
                       "The two derivatives agree.\ndifference = 2.919335883291695e-10\n"),
    "gradient_check_n": ("X, Y, parameters = gradient_check_n_test_case()\n\n"
                         "cost, cache = forward_propagation_n(X, Y, parameters)\n"
                         "gradients = backward_propagation_n(X, Y, cache)\n"
                         "difference = gradient_check_n(parameters, gradients, X, Y)",
                         "Backpropagation looks wrong: 0.2850931566540251\n"),
    "update_parameters_with_gd": ("parameters, grads, learning_rate = update_parameters_with_gd_test_case()\n\n"
                                  "parameters = update_parameters_with_gd(parameters, grads, learning_rate)\n"
                                  "print(\"W1 =\\n\" + str(parameters[\"W1\"]))",
                                  "W1 =\n[[ 1.63535156 -0.62320365 -0.53718766]\n [-1.07799357  0.85639907 -2.29470142]]\n"),
    "random_mini_batches": ("X_assess, Y_assess, mini_batch_size = random_mini_batches_test_case()\n"
                            "mini_batches = random_mini_batches(X_assess, Y_assess, mini_batch_size)\n\n"
                            "print (\"shape of the 1st mini_batch_X: \" + str(mini_batches[0][0].shape))",
                            "shape of the 1st mini_batch_X: (12288, 64)\n"),
    "initialize_velocity": ("parameters = initialize_velocity_test_case()\n\nv = initialize_velocity(parameters)\n"
                            "print(\"v[\\\"dW1\\\"] =\\n\" + str(v[\"dW1\"]))",
                            "v[\"dW1\"] =\n[[0. 0. 0.]\n [0. 0. 0.]]\n"),
    "update_parameters_with_momentum": ("parameters, grads, v = update_parameters_with_momentum_test_case()\n\n"
                                        "parameters, v = update_parameters_with_momentum(parameters, grads, v, beta = 0.9, learning_rate = 0.01)\n"
                                        "print(\"b1 = \\n\" + str(parameters[\"b1\"]))",
                                        "b1 = \n[[ 1.74493465]\n [-0.76027113]]\n"),
    "initialize_adam": ("parameters = initialize_adam_test_case()\n\nv, s = initialize_adam(parameters)\n"
                        "print(\"s[\\\"db1\\\"] = \\n\" + str(s[\"db1\"]))",
                        "s[\"db1\"] = \n[[0.]\n [0.]]\n"),
    "update_parameters_with_adam": ("parameters, grads, v, s = update_parameters_with_adam_test_case()\n"
                                    "parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t = 2)\n\n"
                                    "print(\"b1 = \\n\" + str(parameters[\"b1\"]))",
                                    "b1 = \n[[ 1.75225313]\n [-0.75376553]]\n"),
}


def revised_test_call(function: str) -> str:
    """The revised edition ends every test cell with a call into its public_tests module."""
    return f"\n\n{function}_test({function})"


def given_cells(notebook: str, names: tuple[str, ...]) -> list[str]:
    """Given (ungraded) code cells of our solution notebook: the models, the n-D network."""
    nb = nbformat.read(str(ROOT / "solutions" / notebook), as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code" and any(f"def {n}(" in c.source for n in names)]


INTRO = {
    INIT: "# Starting points for the weights\n\nThree ways to set a network's weights before training, "
          "and what each does to the decision boundary.",
    GC: "# Checking gradients numerically\n\nBackpropagation is easy to get subtly wrong. Comparing it with "
        "finite differences tells whether it is right.",
    OPT: "# Faster descent\n\nMini-batches, momentum and Adam, each compared with plain gradient descent "
         "on the same data.",
}

EXPLAIN = {
    "initialize_parameters_zeros": "**Task 1.** Fill in `initialize_parameters_zeros`: all weights and biases zero.",
    "initialize_parameters_random": "**Task 2.** Fill in `initialize_parameters_random`: standard normal draws times 10, biases zero.",
    "initialize_parameters_he": "**Task 3.** Fill in `initialize_parameters_he`: scale the draws by the square root of 2 over the fan-in.",
    "forward_propagation": "**Task 1.** The toy model's cost is the product of input and parameter.",
    "backward_propagation": "**Task 2.** Its derivative with respect to the parameter.",
    "gradient_check": "**Task 3.** Centred difference, then the relative gap to the derivative above.",
    "gradient_check_n": "**Task 4.** The same, one parameter at a time, for a three-layer network.",
    "update_parameters_with_gd": "**Task 1.** A plain gradient-descent step.",
    "random_mini_batches": "**Task 2.** Shuffle, then partition into mini-batches.",
    "initialize_velocity": "**Task 3.** Zero velocities.",
    "update_parameters_with_momentum": "**Task 4.** A momentum step.",
    "initialize_adam": "**Task 5.** Zero moments for Adam.",
    "update_parameters_with_adam": "**Task 6.** An Adam step.",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    notebook: str
    edition: str
    why: str
    score: float  # the grade it must get
    loses: tuple[str, ...] = ()  # checks that must fail
    edits: dict = field(default_factory=dict)  # (function, region index) -> body, in classic form
    deleted_markers: tuple[str, ...] = ()  # functions whose markers the student removed
    signatures: dict = field(default_factory=dict)  # function -> the student's def line
    crashed: bool = False  # the saved outputs end in tracebacks
    unfilled: bool = False  # every region still holds the course's `... = None` stubs
    nbformat_minor: int = 4
    metadata: str = "coursera"  # coursera | colab | none


def none_stubs(body: str) -> str:
    """The course's unfilled region: each target assigned None, quoted its own way."""
    return "\n".join(line[2:].replace('"', "'").replace("...", "None") for line in stub_lines(body))


# The revised Optimization notebook has a learning-rate exercise we do not grade.
UNGRADED_EXERCISE = '''\
# GRADED FUNCTION: update_lr

def update_lr(learning_rate0, epoch_num, decay_rate):
    """
    Shrink the learning rate as the epochs go by.
    """
    # (approx. 1 line)
    # learning_rate = ...
    # YOUR CODE STARTS HERE
    learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)

    # YOUR CODE ENDS HERE
    return learning_rate'''


def notebook_cells(s: Scenario) -> list[Cell]:
    bodies = dict(REFERENCE[s.notebook])
    bodies.update(s.edits)
    if s.unfilled:
        bodies = {key: none_stubs(body) for key, body in bodies.items()}
    cells = [Cell("markdown", INTRO[s.notebook]), Cell("code", IMPORTS[(s.notebook, s.edition)])]
    given = {INIT: ("model",), GC: ("forward_propagation_n", "backward_propagation_n"), OPT: ()}[s.notebook]
    for source in given_cells(s.notebook, given):
        cells.append(Cell("code", source))
    for number, function in enumerate(FUNCTIONS[s.notebook]):
        regions = {i: for_edition(s.edition, function, i, b) for (f, i), b in bodies.items() if f == function}
        source = graded_source(s.edition, function, regions, approx_style=number % 2)
        if function in s.signatures:
            source = re.sub(rf"^def {function}\(.*?\):$", s.signatures[function], source, count=1, flags=re.M | re.S)
        if function in s.deleted_markers:
            source = "\n".join(l for l in source.split("\n") if not re.search(r"CODE (HERE|STARTS|ENDS)", l, re.I))
        cells.append(Cell("markdown", EXPLAIN[function]))
        cells.append(Cell("code", source, metadata=graded_metadata(s, function)))
        call, printed = TEST_CALLS[function]
        if s.edition == REVISED:
            call += revised_test_call(function)
            printed += "\u001b[92m All tests passed.\n"
        cells.append(Cell("code", call, [stream(printed)]))
    if s.notebook == OPT and s.edition == REVISED:
        cells.append(Cell("markdown", "**Task 7.** Learning-rate decay (not graded here)."))
        cells.append(Cell("code", UNGRADED_EXERCISE))
    if s.notebook != GC:
        cells.append(Cell("code", "plt.title(\"Decision boundary\")\nplot_decision_boundary(lambda x: "
                                  "predict_dec(parameters, x.T), train_X, train_Y)", [image()]))
    _number_runs(s, cells)
    return cells


def graded_metadata(s: Scenario, function: str) -> dict:
    """What Coursera's grader and Colab leave in a graded cell's metadata."""
    if s.metadata == "coursera":
        return {"deletable": False, "editable": True, "nbgrader": {
            "cell_type": "code", "checksum": f"{zlib.crc32(function.encode()):08x}", "grade": False,
            "grade_id": f"cell-{function}", "locked": False, "schema_version": 3, "solution": True, "task": False}}
    if s.metadata == "colab":
        return {"colab": {}, "id": re.sub(r"[^a-z]", "", function)[:12]}
    return {}


def _number_runs(s: Scenario, cells: list[Cell]) -> None:
    """Execution counts as the student left them; a crashed notebook stops with tracebacks."""
    count = 0
    code = [c for c in cells if c.kind == "code"]
    for cell in code:
        count += 1
        cell.count = count
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count
    if not s.crashed:
        return
    missing = {INIT: "public_tests", GC: "testCases", OPT: "opt_utils"}[s.notebook]
    first = code[0]
    first.outputs = [error("ModuleNotFoundError", f"No module named '{missing}'",
                           ["\u001b[0;32m<ipython-input-1-6d6b4a0c>\u001b[0m in \u001b[0;36m<module>\u001b[0;34m\u001b[0m",
                            f"\u001b[0;32m----> 3\u001b[0;31m \u001b[0;32mfrom\u001b[0m \u001b[0m{missing}\u001b[0m "
                            "\u001b[0;32mimport\u001b[0m \u001b[0;34m*\u001b[0m\u001b[0;34m\u001b[0m\u001b[0m"])]
    for cell in code[1:]:
        if cell.outputs:  # a test cell: its helpers were never imported
            helper = re.search(r"\b\w+_test_case\b", cell.source)
            name = helper.group(0) if helper else "plot_decision_boundary"
            cell.outputs = [error("NameError", f"name '{name}' is not defined", [])]
    code[-1].count = None  # never reached
    code[-1].outputs = []


def write(s: Scenario) -> Path:
    cells = []
    for i, c in enumerate(notebook_cells(s)):
        cell = {"cell_type": c.kind, "metadata": c.metadata, "source": lines_of(c.source)}
        if c.kind == "code":
            cell["execution_count"] = c.count
            cell["outputs"] = c.outputs
        if s.nbformat_minor >= 5:
            cell["id"] = f"{s.name[:20]}-{i}".replace("_", "-")
        cells.append(cell)
    metadata: dict = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                      "language_info": {"name": "python", "version": "3.7.6", "mimetype": "text/x-python",
                                        "file_extension": ".py", "codemirror_mode": {"name": "ipython", "version": 3}}}
    if s.metadata == "coursera":
        metadata["coursera"] = {"course_slug": "improving-deep-networks", "graded_item_id": "Xq3bT",
                                "launcher_item_id": "Mv9eR"}
    elif s.metadata == "colab":
        metadata = {"colab": {"name": s.notebook, "provenance": [], "collapsed_sections": []},
                    "kernelspec": {"display_name": "Python 3", "name": "python3"}, "accelerator": "GPU"}
    nb = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": s.nbformat_minor}
    path = OUT / f"{s.name}.ipynb"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ---- the scenarios ---------------------------------------------------------------------

INIT_MISTAKES = {**mistake("init_xavier_scale"), **mistake("init_random_biases_times_ten")}
GC_MISTAKES = {**mistake("gc_seed_student"), **mistake("gc_aliases_parameters_values")}
OPT_MISTAKES = {**mistake("opt_momentum_without_one_minus_beta"), **mistake("opt_adam_epsilon_inside_root")}

SCENARIOS = [
    Scenario("init_classic_correct", INIT, CLASSIC, "classic edition, correct, saved with plots", 30,
             nbformat_minor=0),
    Scenario("init_revised_correct", INIT, REVISED, "revised edition (newer markers), correct", 30,
             nbformat_minor=4),
    Scenario("init_classic_mistakes", INIT, CLASSIC, "Xavier scale in He; random biases times ten", 10,
             loses=("he_2_4_1", "he_three_layers", "he_uneven_fans",
                    "random_3_2_1", "random_three_layers", "random_five_layers"),
             edits=INIT_MISTAKES, nbformat_minor=2),
    Scenario("init_classic_markers_deleted", INIT, CLASSIC, "markers of initialize_parameters_random deleted", 30,
             deleted_markers=("initialize_parameters_random",), nbformat_minor=1, metadata="none"),
    Scenario("init_classic_extra_parameters", INIT, CLASSIC, "signatures with extra parameters and defaults", 30,
             signatures={"initialize_parameters_random": "def initialize_parameters_random(layers_dims, scale=10):",
                         "initialize_parameters_he": "def initialize_parameters_he(layers_dims, seed=3):"},
             nbformat_minor=3),
    Scenario("init_revised_crashed", INIT, REVISED, "last run crashed on a missing helper module", 30,
             crashed=True, nbformat_minor=5, metadata="colab"),

    Scenario("gc_classic_correct", GC, CLASSIC, "classic edition, correct", 30, nbformat_minor=0),
    Scenario("gc_revised_correct", GC, REVISED, "revised edition: newer markers, print_msg, theta_plus, grad_approx", 30,
             nbformat_minor=4),
    Scenario("gc_revised_mistakes", GC, REVISED, "dtheta = J / theta; thetaplus aliases parameters_values", 17,
             loses=("backward_theta_zero", "gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network"),
             edits=GC_MISTAKES, nbformat_minor=5),
    Scenario("gc_revised_markers_deleted", GC, REVISED, "markers of gradient_check (with print_msg) deleted", 30,
             deleted_markers=("gradient_check",), nbformat_minor=4, metadata="colab"),
    Scenario("gc_classic_extra_parameters", GC, CLASSIC, "print_msg parameters, another default epsilon", 30,
             signatures={"gradient_check": "def gradient_check(x, theta, epsilon = 1e-4, print_msg = False):",
                         "gradient_check_n": "def gradient_check_n(parameters, gradients, X, Y, epsilon = 1e-7, "
                                             "print_msg = False):"},
             nbformat_minor=2),
    Scenario("gc_classic_crashed", GC, CLASSIC, "last run crashed: testCases missing", 30, crashed=True,
             nbformat_minor=1),

    Scenario("opt_classic_correct", OPT, CLASSIC, "classic edition, correct, saved with plots", 40,
             nbformat_minor=2),
    Scenario("opt_revised_correct", OPT, REVISED, "revised edition: loops from 1, inc, markers outdented", 40,
             nbformat_minor=4),
    Scenario("opt_revised_mistakes", OPT, REVISED, "momentum without (1 - beta); epsilon inside the root", 23,
             loses=("momentum_two_layers", "momentum_three_layers",
                    "adam_two_layers_t2", "adam_three_layers_t7", "adam_four_layers_t50"),
             edits=OPT_MISTAKES, nbformat_minor=4, metadata="colab"),
    Scenario("opt_revised_markers_deleted", OPT, REVISED, "markers of initialize_velocity deleted", 40,
             deleted_markers=("initialize_velocity",), nbformat_minor=4),
    Scenario("opt_classic_extra_parameters", OPT, CLASSIC, "defaults added or changed in three signatures", 40,
             signatures={"random_mini_batches": "def random_mini_batches(X, Y, mini_batch_size = 32, seed = 1):",
                         "update_parameters_with_momentum": "def update_parameters_with_momentum(parameters, grads, v, "
                                                            "beta=0.9, learning_rate=0.01):",
                         "update_parameters_with_adam": "def update_parameters_with_adam(parameters, grads, v, s, t, "
                                                        "learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, "
                                                        "print_msg=False):"},
             nbformat_minor=3),
    Scenario("opt_classic_crashed", OPT, CLASSIC, "last run crashed: opt_utils missing", 40, crashed=True,
             nbformat_minor=0, metadata="none"),
    Scenario("opt_classic_unfilled", OPT, CLASSIC, "downloaded and never filled in: the course's None stubs", 0,
             unfilled=True, nbformat_minor=2),
    Scenario("opt_revised_adam_markers_deleted", OPT, REVISED,
             "markers of update_parameters_with_adam deleted: the whole definition, which returns five values, "
             "is graded on its first three", 40,
             deleted_markers=("update_parameters_with_adam",), nbformat_minor=4),
]


def manifest() -> list[dict]:
    return [{"file": f"{s.name}.ipynb", "notebook": s.notebook, "edition": s.edition, "why": s.why,
             "score": s.score, "loses": list(s.loses), "fallback": list(s.deleted_markers), "unfilled": s.unfilled,
             "nbformat_minor": s.nbformat_minor} for s in SCENARIOS]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for scenario in SCENARIOS:
        print(write(scenario).relative_to(ROOT))
    (OUT / "scenarios.json").write_text(json.dumps(manifest(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
