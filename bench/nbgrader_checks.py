"""Kernel side of the benchmark's nbgrader course: what each nbgrader test cell calls.

Copied into every assignment of the generated course as ``bench_checks.py``, next to
``bench_checks.npz``, which holds each check's inputs and the reference solution's
outputs (written by ``nbgrader_course.py``). A test cell passes when the student's
function, called on the check's inputs, returns what the reference returned, within
the check's tolerances; so nbgrader grades the same checks as this project's grader,
compared by the same function (``grader.checks.compare``). A public check that has a twin
(fresh inputs of the same shape) passes only if the twin passes too.

Unlike this project's grader, all of this runs inside the student's kernel: that is
how nbgrader works.
"""
import importlib

from grader.checks.compare import compare
from grader.core.codec import decode, read_npz
from grader.kernel.harness import invoke

DATA_FILE = "bench_checks.npz"
_loaded = {}


def _data():
    if not _loaded:
        skeleton, arrays = read_npz(DATA_FILE)
        _loaded.update(skeleton=skeleton, arrays=arrays)
    return _loaded["skeleton"], _loaded["arrays"]


def run_check(name, namespace):
    """Raise AssertionError unless the check ``name`` passes on the functions in ``namespace``."""
    skeleton, arrays = _data()
    for run in skeleton[name]:
        _run(run, arrays, namespace)


def _run(run, arrays, namespace):
    function = namespace.get(run["function"])
    if not callable(function):
        raise AssertionError("%s is not defined" % run["function"])
    out = invoke(function, decode(run["kwargs"], arrays), run["seed"], run["observe"])
    if out["status"] != "ok":
        raise AssertionError("%s raised %s: %s" % (run["function"], out["ename"], out["evalue"]))
    value = out["value"]
    if run["project"]:
        module, _, attr = run["project"].partition(":")
        value = getattr(importlib.import_module(module), attr)(value)
    expected = decode(run["expected"], arrays)
    parts = _named_parts(run["returns"], expected["return"], value)
    parts += [("after the call, " + name, exp, out["observed"].get(name))
              for name, exp in expected["observed"].items()]
    for path, exp, got in parts:
        verdict = compare(exp, got, rtol=run["rtol"], atol=run["atol"], path=path)
        if not verdict.passed:
            raise AssertionError("%s: %s" % (run["name"], verdict.message))


def _named_parts(names, expected, got):
    """A tuple return value compared part by part, as the grader does (a list of parts is fine too)."""
    if len(names) > 1 and isinstance(expected, tuple) and len(expected) == len(names):
        if isinstance(got, (tuple, list)) and len(got) == len(names):
            return list(zip(names, expected, got))
    return [(names[0] if len(names) == 1 else "result", expected, got)]
