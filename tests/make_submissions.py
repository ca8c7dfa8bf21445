"""Write the scenario-named student submissions under tests/submissions/.

Each scenario starts from a solution notebook (or the released one), changes
what a real student would change, and says which checks it must lose. The
test (tests/test_scenarios.py) derives the expected score from the spec's
points, so no grade is written down twice. Re-run after changing a solution:

    .venv/bin/python tests/make_submissions.py
"""
from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.notebook.build import splice  # noqa: E402
from grader.notebook.regions import extract, normalise_source  # noqa: E402

OUT = Path(__file__).resolve().parent / "submissions"

GC = "Gradient_Checking.ipynb"
INIT = "Initialization.ipynb"
OPT = "Optimization_methods.ipynb"


@dataclass(frozen=True)
class Scenario:
    name: str
    notebook: str
    why: str
    edits: dict = field(default_factory=dict)  # (function, region index) -> new body
    transforms: tuple[Callable, ...] = ()
    loses: tuple[str, ...] = ()  # checks that must fail; every other check must pass
    untouched: bool = False  # every check "not attempted"
    released: bool = False  # start from assignments/ instead of solutions/
    says: tuple[str, ...] = ()  # phrases the result's notes and flags must hold
    # function -> words its review reason must hold: the student's whole definition is correct
    # but the regions are not, so the function is flagged with the whole definition's full marks
    reviews: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)  # check -> words its message must hold


# ---- transforms a student's editor or hands apply ----------------------------------

def newer_markers(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = re.sub(r"### START CODE HERE ###.*", "# YOUR CODE STARTS HERE", cell.source)
            cell.source = re.sub(r"### END CODE HERE ###", "# YOUR CODE ENDS HERE", cell.source)


def reshuffle_outside_regions(nb):
    """Delete demo cells, add scratch cells, duplicate a markdown cell, reverse the order."""
    kept = [c for c in nb.cells if "demo" not in c.get("metadata", {}).get("tags", [])]
    kept.insert(0, nbformat.v4.new_code_cell("import numpy as np\nprint('my own scratch work')\nx = 42", id="scratch-1"))
    kept.append(nbformat.v4.new_code_cell("def helper_i_wrote():\n    return 'not graded'", id="scratch-2"))
    markdown = [c for c in kept if c.cell_type == "markdown"]
    if markdown:
        kept.append(copy.deepcopy(markdown[0]))
    nb.cells = list(reversed(kept))


def strip_ids_and_metadata(nb):
    """As some editors save: nbformat 4.0, no cell ids, no metadata, CRLF line ends."""
    nb.nbformat_minor = 0
    nb.metadata = {}
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata = {}
        cell.source = cell.source.replace("\n", "\r\n")


def split_cell_of(function):
    def split(nb):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and f"def {function}(" in cell.source:
                lines = cell.source.split("\n")
                cut = len(lines) // 2
                first = nbformat.v4.new_code_cell("\n".join(lines[:cut]), id="split-1")
                second = nbformat.v4.new_code_cell("\n".join(lines[cut:]), id="split-2")
                nb.cells[i : i + 1] = [first, second]
                return
    split.__name__ = f"split_cell_of_{function}"
    return split


def delete_markers_of(function):
    def delete(nb):
        for cell in nb.cells:
            if cell.cell_type == "code" and f"def {function}(" in cell.source:
                cell.source = "\n".join(
                    l for l in cell.source.split("\n") if "CODE HERE" not in l.upper()
                )
    delete.__name__ = f"delete_markers_of_{function}"
    return delete


def delete_marker_of(function, marker, region=1):
    """Delete one marker line (START or END) of one region of ``function``."""
    def delete(nb):
        cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source)
        lines = cell.source.split("\n")
        hits = [i for i, l in enumerate(lines) if f"{marker} CODE HERE" in l.upper()]
        del lines[hits[region - 1]]
        cell.source = "\n".join(lines)
    delete.__name__ = f"delete_{marker.lower()}_marker_of_{function}"
    return delete


def swap_markers_of(function):
    """START and END of the function's first region change places."""
    def swap(nb):
        cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source)
        lines = cell.source.split("\n")
        start = next(i for i, l in enumerate(lines) if "START CODE HERE" in l)
        end = next(i for i, l in enumerate(lines) if "END CODE HERE" in l)
        lines[start], lines[end] = lines[end], lines[start]
        cell.source = "\n".join(lines)
    swap.__name__ = f"swap_markers_of_{function}"
    return swap


def paste_complete_definitions(notebook):
    """A last cell holding every graded function of the solution, whole and without markers."""
    def paste(nb):
        solution = nbformat.read(str(ROOT / "solutions" / notebook), as_version=4)
        graded = [c.source for c in solution.cells
                  if c.cell_type == "code" and c.source.startswith("# GRADED FUNCTION")]
        whole = ["\n".join(l for l in s.split("\n") if "CODE HERE" not in l.upper()) for s in graded]
        nb.cells.append(nbformat.v4.new_code_cell("# my working versions\n\n" + "\n\n".join(whole), id="pasted"))
    paste.__name__ = f"paste_complete_definitions_of_{notebook}"
    return paste


def redefine_below(function, source):
    """A later cell that defines ``function`` again, whole and without markers."""
    def redefine(nb):
        nb.cells.append(nbformat.v4.new_code_cell(source, id="redefined"))
    redefine.__name__ = f"redefine_{function}_below"
    return redefine


def _function_cell(nb, function):
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            return cell
    raise LookupError(f"no cell defines {function}")


def code_above_start(function, index):
    """The student's working code for region ``index`` sits just above its START marker;
    the region itself is left empty."""
    def move(nb):
        cell = _function_cell(nb, function)
        lines = normalise_source(cell.source).split("\n")
        region = extract("\n".join(lines), function).regions[index - 1]
        body = lines[region.start + 1 : region.end]
        lines[region.start : region.end] = body + [lines[region.start]]
        cell.source = "\n".join(lines)
    move.__name__ = f"code_above_start_of_{function}_{index}"
    return move


def line_above_start(function, index, line):
    """A line the student put inside the function just above region ``index``'s START marker."""
    def insert(nb):
        cell = _function_cell(nb, function)
        lines = normalise_source(cell.source).split("\n")
        region = extract("\n".join(lines), function).regions[index - 1]
        lines.insert(region.start, " " * region.indent + line)
        cell.source = "\n".join(lines)
    insert.__name__ = f"line_above_start_of_{function}_{index}"
    return insert


def rename_in(function, old, new):
    """A scaffold variable renamed everywhere in the function, regions included."""
    def rename(nb):
        cell = _function_cell(nb, function)
        cell.source = re.sub(rf"\b{old}\b", new, cell.source)
    rename.__name__ = f"rename_{old}_in_{function}"
    return rename


def cell_at_top(source):
    """A code cell of the student's own, first in the notebook."""
    def insert(nb):
        nb.cells.insert(0, nbformat.v4.new_code_cell(source, id="my-imports"))
    insert.__name__ = "cell_at_top"
    return insert


def replace_in(function, old, new):
    """One piece of text of the function's cell written another way."""
    def replace(nb):
        cell = _function_cell(nb, function)
        assert old in cell.source, old
        cell.source = cell.source.replace(old, new)
    replace.__name__ = f"replace_in_{function}"
    return replace


# ---- the scenarios -------------------------------------------------------------------

GRADIENT_CHECK = ("gradient_check_x2_theta4", "gradient_check_negative", "gradient_check_step")
FIX_BACKWARD_FIRST = "uses your `backward_propagation`, which fails its own checks; fix that first"

SCENARIOS = [
    Scenario("gc_reference_code", GC, "the reference code in every region"),
    Scenario("gc_released_untouched", GC, "the released notebook, nothing filled in", released=True, untouched=True),
    Scenario("gc_seed_student", GC, "the seed's own code: dtheta = forward_propagation(x, theta) / theta",
             edits={("forward_propagation", 1): "J = np.dot(theta, x)",
                    ("backward_propagation", 1): "dtheta = forward_propagation(x, theta) / theta"},
             loses=("backward_theta_zero",)),
    Scenario("gc_divides_by_epsilon", GC, "two-sided difference divided by epsilon instead of 2 * epsilon",
             edits={("gradient_check", 1): "thetaplus = theta + epsilon\nthetaminus = theta - epsilon\n"
                    "J_plus = forward_propagation(x, thetaplus)\nJ_minus = forward_propagation(x, thetaminus)\n"
                    "gradapprox = (J_plus - J_minus) / epsilon",
                    ("gradient_check_n", 3): "gradapprox[i] = (J_plus[i] - J_minus[i]) / epsilon"},
             loses=("gradient_check_x2_theta4", "gradient_check_negative", "gradient_check_step",
                    "gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network")),
    Scenario("gc_absolute_difference", GC, "an absolute instead of a relative difference",
             edits={("gradient_check", 3): "numerator = np.linalg.norm(grad - gradapprox)\n"
                    "denominator = 1\ndifference = numerator / denominator",
                    ("gradient_check_n", 4): "numerator = np.linalg.norm(grad - gradapprox)\n"
                    "denominator = 1\ndifference = numerator"},
             loses=("gradient_check_x2_theta4", "gradient_check_negative", "gradient_check_step",
                    "gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network")),
    Scenario("gc_aliases_parameters_values", GC, "thetaplus/thetaminus without np.copy: shifts accumulate",
             edits={("gradient_check_n", 1): "thetaplus = parameters_values\n"
                    "thetaplus[i][0] = thetaplus[i][0] + epsilon\n"
                    "J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaplus))",
                    ("gradient_check_n", 2): "thetaminus = parameters_values\n"
                    "thetaminus[i][0] = thetaminus[i][0] - epsilon\n"
                    "J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))"},
             loses=("gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network")),
    Scenario("gc_written_differently", GC, "correct, written another way: manual norms, reordered statements",
             edits={("gradient_check", 1): "thetaminus = theta - epsilon\nthetaplus = theta + epsilon\n"
                    "J_minus = forward_propagation(x, thetaminus)\nJ_plus = forward_propagation(x, thetaplus)\n"
                    "gradapprox = (J_plus - J_minus) / 2 / epsilon  # two-sided",
                    ("gradient_check", 3): "numerator = np.sqrt(np.sum((grad - gradapprox) ** 2))\n"
                    "denominator = np.sqrt(np.sum(np.square(grad))) + np.sqrt(np.sum(np.square(gradapprox)))\n"
                    "difference = numerator / denominator\nprint('my debugging output', difference)"}),
    Scenario("gc_newer_markers", GC, "the newer edition's marker style", transforms=(newer_markers,)),
    Scenario("gc_cells_reshuffled", GC, "demo cells deleted, scratch cells added, order reversed",
             transforms=(reshuffle_outside_regions,)),
    Scenario("gc_no_ids_crlf", GC, "nbformat 4.0 without ids or metadata, CRLF line ends",
             transforms=(strip_ids_and_metadata,)),
    Scenario("gc_cell_split", GC, "gradient_check_n's cell split in two in the middle",
             transforms=(split_cell_of("gradient_check_n"),)),
    Scenario("gc_markers_deleted", GC, "markers of gradient_check deleted: whole definition graded",
             transforms=(delete_markers_of("gradient_check"),)),
    Scenario("gc_syntax_error", GC, "a syntax error in gradient_check_n only",
             edits={("gradient_check_n", 3): "gradapprox[i] = (J_plus[i] - J_minus[i] / (2 * epsilon)"},
             loses=("gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network")),
    Scenario("gc_code_above_start", GC, "gradient_check's first region left empty, its code written just above "
             "the START marker: the regions score 0, the whole definition full marks (needs review)",
             transforms=(code_above_start("gradient_check", 1),), loses=GRADIENT_CHECK,
             reviews={"gradient_check": "your code sits above the START marker of region 1"}),
    Scenario("gc_import_math_outside_region", GC, "`import math` inside gradient_check_n above the last START "
             "marker, math.sqrt used in the region: NameError by regions, full marks whole (needs review)",
             edits={("gradient_check_n", 4): "numerator = math.sqrt(np.sum((grad - gradapprox) ** 2))\n"
                    "denominator = math.sqrt(np.sum(grad ** 2)) + math.sqrt(np.sum(gradapprox ** 2))\n"
                    "difference = numerator / denominator"},
             transforms=(line_above_start("gradient_check_n", 4, "import math"),),
             loses=("gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network"),
             reviews={"gradient_check_n": "`import math` is outside the regions"}),
    Scenario("gc_import_math_in_own_cell", GC, "`import math` in a cell of the student's own at the top, "
             "math.sqrt used in gradient_check_n's region: NameError by regions, full marks whole (needs review)",
             edits={("gradient_check_n", 4): "numerator = math.sqrt(np.sum((grad - gradapprox) ** 2))\n"
                    "denominator = math.sqrt(np.sum(grad ** 2)) + math.sqrt(np.sum(gradapprox ** 2))\n"
                    "difference = numerator / denominator"},
             transforms=(cell_at_top("import math"),),
             loses=("gradient_check_n_given_backprop", "gradient_check_n_correct_backprop",
                    "gradient_check_n_step", "gradient_check_n_other_network"),
             reviews={"gradient_check_n": "`import math` is outside the regions (code cell 1, line 1)"}),
    Scenario("gc_backward_hard_coded", GC, "backward_propagation returns the example's 2: gradient_check, which "
             "calls it, names it instead of reading 'looks hard-coded'",
             edits={("backward_propagation", 1): "dtheta = 2"},
             loses=("backward_x2_theta4", "backward_negative_theta", "backward_other_x", "backward_theta_zero")
             + GRADIENT_CHECK,
             messages={c: FIX_BACKWARD_FIRST for c in GRADIENT_CHECK}),
    Scenario("gc_backward_returns_theta", GC, "backward_propagation returns theta: gradient_check names it and "
             "withholds its own hints ('gradapprox looks twice too large' would blame it)",
             edits={("backward_propagation", 1): "dtheta = theta"},
             loses=("backward_x2_theta4", "backward_negative_theta", "backward_other_x", "backward_theta_zero")
             + GRADIENT_CHECK,
             messages={c: FIX_BACKWARD_FIRST for c in GRADIENT_CHECK}),
    Scenario("init_reference_code", INIT, "the reference code in every region"),
    Scenario("init_released_untouched", INIT, "the released notebook, nothing filled in", released=True, untouched=True),
    Scenario("init_xavier_scale", INIT, "He written with Xavier's sqrt(1 / n)",
             edits={("initialize_parameters_he", 1):
                    "parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(1 / layers_dims[l - 1])\n"
                    "parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))"},
             loses=("he_2_4_1", "he_three_layers", "he_uneven_fans")),
    Scenario("init_random_biases_times_ten", INIT, "large random init applied to the biases too",
             edits={("initialize_parameters_random", 1):
                    "parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10\n"
                    "parameters['b' + str(l)] = np.random.randn(layers_dims[l], 1) * 10"},
             loses=("random_3_2_1", "random_three_layers", "random_five_layers")),
    Scenario("init_transposed_shapes", INIT, "zeros with W of shape (n_prev, n) instead of (n, n_prev)",
             edits={("initialize_parameters_zeros", 1):
                    "parameters['W' + str(l)] = np.zeros((layers_dims[l - 1], layers_dims[l]))\n"
                    "parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))"},
             loses=("zeros_3_2_1", "zeros_three_layers", "zeros_four_layers")),
    Scenario("init_written_differently", INIT, "correct, written another way: lists for shapes, division by sqrt(n / 2)",
             edits={("initialize_parameters_zeros", 1):
                    "parameters['b' + str(l)] = np.zeros([layers_dims[l], 1])\nparameters['W' + str(l)] = np.zeros([layers_dims[l], layers_dims[l - 1]])",
                    ("initialize_parameters_he", 1):
                    "scale = np.sqrt(2.0 / layers_dims[l - 1])  # He\n"
                    "parameters['W' + str(l)] = scale * np.random.randn(layers_dims[l], layers_dims[l - 1])\n"
                    "parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))"}),
    Scenario("init_newer_markers", INIT, "the newer edition's marker style", transforms=(newer_markers,)),

    Scenario("opt_reference_code", OPT, "the reference code in every region"),
    Scenario("opt_released_untouched", OPT, "the released notebook, nothing filled in", released=True, untouched=True),
    Scenario("opt_momentum_without_one_minus_beta", OPT, "velocity updated without the (1 - beta) factor",
             edits={("update_parameters_with_momentum", 1):
                    'v["dW" + str(l + 1)] = beta * v["dW" + str(l + 1)] + grads["dW" + str(l + 1)]\n'
                    'v["db" + str(l + 1)] = beta * v["db" + str(l + 1)] + grads["db" + str(l + 1)]\n'
                    'parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * v["dW" + str(l + 1)]\n'
                    'parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * v["db" + str(l + 1)]'},
             loses=("momentum_two_layers", "momentum_three_layers")),
    Scenario("opt_adam_beta1_in_s_correction", OPT, "s bias-corrected with beta1 (the seed's typo)",
             edits={("update_parameters_with_adam", 4):
                    's_corrected["dW" + str(l + 1)] = s["dW" + str(l + 1)] / (1 - beta1 ** t)\n'
                    's_corrected["db" + str(l + 1)] = s["db" + str(l + 1)] / (1 - beta1 ** t)'},
             loses=("adam_two_layers_t2", "adam_three_layers_t7", "adam_four_layers_t50")),
    Scenario("opt_adam_epsilon_inside_root", OPT, "epsilon added inside the square root",
             edits={("update_parameters_with_adam", 5):
                    'parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * v_corrected["dW" + str(l + 1)] / np.sqrt(s_corrected["dW" + str(l + 1)] + epsilon)\n'
                    'parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * v_corrected["db" + str(l + 1)] / np.sqrt(s_corrected["db" + str(l + 1)] + epsilon)'},
             loses=("adam_two_layers_t2", "adam_three_layers_t7", "adam_four_layers_t50")),
    Scenario("opt_adam_no_bias_correction", OPT, "v and s used without bias correction",
             edits={("update_parameters_with_adam", 2):
                    'v_corrected["dW" + str(l + 1)] = v["dW" + str(l + 1)]\nv_corrected["db" + str(l + 1)] = v["db" + str(l + 1)]',
                    ("update_parameters_with_adam", 4):
                    's_corrected["dW" + str(l + 1)] = s["dW" + str(l + 1)]\ns_corrected["db" + str(l + 1)] = s["db" + str(l + 1)]'},
             loses=("adam_two_layers_t2", "adam_three_layers_t7", "adam_four_layers_t50")),
    Scenario("opt_mini_batches_drop_last", OPT, "the last, partial mini-batch is left empty-handed (dropped)",
             edits={("random_mini_batches", 2): "mini_batch_X = shuffled_X[:, 0:0]\nmini_batch_Y = shuffled_Y[:, 0:0]"},
             loses=("mini_batches_148_by_64", "mini_batches_remainder", "mini_batches_single_partial")),
    Scenario("opt_written_differently", OPT, "correct, written another way: zeros_like, power, in-place updates",
             edits={("initialize_velocity", 1):
                    'v["db" + str(l + 1)] = np.zeros_like(parameters["b" + str(l + 1)])\n'
                    'v["dW" + str(l + 1)] = np.zeros_like(parameters["W" + str(l + 1)])',
                    ("update_parameters_with_gd", 1):
                    'parameters["W%d" % (l + 1)] -= learning_rate * grads["dW%d" % (l + 1)]\n'
                    'parameters["b%d" % (l + 1)] -= learning_rate * grads["db%d" % (l + 1)]',
                    ("update_parameters_with_adam", 2):
                    'v_corrected["dW" + str(l + 1)] = v["dW" + str(l + 1)] / (1 - np.power(beta1, t))\n'
                    'v_corrected["db" + str(l + 1)] = v["db" + str(l + 1)] / (1 - np.power(beta1, t))'}),
    Scenario("opt_syntax_error_in_momentum", OPT, "a syntax error in update_parameters_with_momentum only",
             edits={("update_parameters_with_momentum", 1): "v['dW' + str(l + 1)] = beta * (v['dW' + str(l + 1)]"},
             loses=("momentum_two_layers", "momentum_three_layers")),
    Scenario("opt_markers_deleted", OPT, "markers of initialize_adam deleted: whole definition graded",
             transforms=(delete_markers_of("initialize_adam"),)),

    # Which definition is graded: the one that keeps its markers; the whole one only when none does.
    Scenario("gc_untouched_with_definitions_pasted_below", GC,
             "regions as released, complete correct definitions without markers pasted in a last cell: "
             "the regions count, so nothing is attempted",
             released=True, untouched=True, transforms=(paste_complete_definitions(GC),),
             says=("gradient_check_n: the definition at code cell", "was ignored (it has no START/END markers)"),
             reviews={f: f"defines `{f}` again (it has no START/END markers)" for f in
                      ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")}),
    Scenario("opt_wrong_redefinition_below_marked", OPT,
             "correct marked momentum, then a wrong unmarked redefinition in a later cell: the marked one counts",
             transforms=(redefine_below("update_parameters_with_momentum",
                                        "def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):\n"
                                        "    return parameters, v  # trying something: no update at all"),),
             says=("update_parameters_with_momentum: the definition at code cell",
                   "was ignored (it has no START/END markers)")),
    Scenario("init_start_marker_deleted", INIT, "the START marker of initialize_parameters_he deleted, its END kept",
             transforms=(delete_marker_of("initialize_parameters_he", "START"),),
             says=("initialize_parameters_he: START/END markers broken (an END marker at code cell",)),
    Scenario("gc_end_marker_deleted", GC, "the END marker of gradient_check_n's third region deleted",
             transforms=(delete_marker_of("gradient_check_n", "END", region=3),),
             says=("gradient_check_n: START/END markers broken (a region opened at code cell",)),
    Scenario("opt_markers_in_wrong_order", OPT, "END above START in update_parameters_with_gd",
             transforms=(swap_markers_of("update_parameters_with_gd"),),
             says=("update_parameters_with_gd: START/END markers broken (an END marker at code cell",)),
    Scenario("opt_renamed_scaffold_variable", OPT, "num_complete_minibatches renamed n_batches throughout "
             "random_mini_batches, regions included: bound the same way as ours, so read as ours (a note); "
             "the second opinion agrees, so no review",
             transforms=(rename_in("random_mini_batches", "num_complete_minibatches", "n_batches"),),
             says=("`n_batches`, which the notebook's own code around the regions binds",)),
    Scenario("opt_renamed_and_recomputed_scaffold_variable", OPT, "num_complete_minibatches renamed n_batches "
             "and computed as m // mini_batch_size: NameError by regions, full marks whole (needs review)",
             transforms=(rename_in("random_mini_batches", "num_complete_minibatches", "n_batches"),
                         replace_in("random_mini_batches", "n_batches = math.floor(m / mini_batch_size)",
                                    "n_batches = m // mini_batch_size")),
             loses=("mini_batches_148_by_64", "mini_batches_remainder", "mini_batches_single_partial"),
             reviews={"random_mini_batches": "`num_complete_minibatches` is renamed `n_batches`"}),
]


def _apply_edits(nb, edits: dict) -> None:
    for (function, index), body in edits.items():
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            text = normalise_source(cell.source)
            found = extract(text, function)
            if found.regions:
                bodies = [r.body for r in found.regions]
                bodies[index - 1] = body
                cell.source = splice(text, found, bodies, None)
                break
        else:
            raise LookupError(f"{function} region {index} not found")


def make(scenario: Scenario) -> Path:
    folder = ROOT / ("assignments" if scenario.released else "solutions")
    nb = nbformat.read(str(folder / scenario.notebook), as_version=4)
    _apply_edits(nb, scenario.edits)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for transform in scenario.transforms:
        transform(nb)
    path = OUT / f"{scenario.name}.ipynb"
    # Written as plain JSON so that scenarios without ids stay without ids.
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def manifest() -> list[dict]:
    return [{"file": f"{s.name}.ipynb", "notebook": s.notebook, "why": s.why, "loses": list(s.loses),
             "untouched": s.untouched, **({"says": list(s.says)} if s.says else {}),
             **({"reviews": s.reviews} if s.reviews else {}), **({"messages": s.messages} if s.messages else {})}
            for s in SCENARIOS]


# The bundled sample class (the README's main command grades it): student -> files.
SAMPLE_CLASS = ROOT / "sample_class"
SAMPLE_STUDENTS = {
    "ada": {GC: "gc_reference_code", INIT: "init_reference_code", OPT: "opt_reference_code"},
    "ben": {GC: "gc_seed_student", INIT: "init_xavier_scale", OPT: "opt_adam_epsilon_inside_root"},
    "chen": {GC: "gc_syntax_error", INIT: "init_newer_markers", OPT: None},  # None: a truncated file
    "dana": {GC: "gc_released_untouched", INIT: "init_released_untouched", OPT: "opt_released_untouched"},
    "eli": {"Optimization_methods (1).ipynb": "opt_markers_deleted"},
}


def make_sample_class() -> None:
    for student, files in SAMPLE_STUDENTS.items():
        folder = SAMPLE_CLASS / student
        folder.mkdir(parents=True, exist_ok=True)
        for filename, scenario in files.items():
            if scenario is None:
                text = (OUT / "opt_reference_code.ipynb").read_text(encoding="utf-8")
                (folder / filename).write_text(text[: len(text) // 3], encoding="utf-8")
            else:
                (folder / filename).write_bytes((OUT / f"{scenario}.ipynb").read_bytes())


def main() -> None:
    OUT.mkdir(exist_ok=True)
    available = [s for s in SCENARIOS if (ROOT / "solutions" / s.notebook).exists()]
    for scenario in available:
        print(make(scenario).relative_to(ROOT))
    names = {s.name for s in available}
    entries = [m for m in manifest() if m["file"][:-6] in names]
    (OUT / "scenarios.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    if len(available) == len(SCENARIOS):
        make_sample_class()


if __name__ == "__main__":
    main()
