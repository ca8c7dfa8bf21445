"""The code that runs inside the student's kernel, and the codec both sides share.

This file must import nothing but the standard library and NumPy: its source is
sent to the kernel as the first cell (see ``kernel_setup_source``). The grader
imports the same functions to decode what the kernel wrote, so both sides
always agree on the format.

Format: one ``.npz`` file holding a JSON "skeleton" (key ``skeleton``) and the
arrays it refers to (keys ``a0``, ``a1``, …). Loading uses
``allow_pickle=False``, so a file written by student code cannot make the
grader run anything.
"""
import json
import math
import os
import time
import traceback

import numpy as np

HARNESS_FILENAME = "<grader-harness>"


def encode(value, arrays):
    """A JSON-safe skeleton of ``value``; arrays go to ``arrays`` (or inline if it is None)."""
    if isinstance(value, np.generic):  # first: np.float64 is also a float
        return {"__scalar__": value.dtype.str, "value": encode(value.item(), arrays)}
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(float(value))}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"__object__": "ndarray of " + str(value.dtype), "repr": repr(value)[:300]}
        if arrays is None:
            return {"__array__": value.dtype.str, "shape": list(value.shape),
                    "data": [encode(x, None) for x in value.ravel().tolist()]}
        arrays.append(np.ascontiguousarray(value))
        return {"__array__": "a%d" % (len(arrays) - 1)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, arrays), encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, complex):
        return {"__complex__": [encode(value.real, None), encode(value.imag, None)]}
    return {"__object__": type(value).__name__, "repr": repr(value)[:300]}


def decode(node, arrays):
    """Inverse of ``encode``; ``arrays`` maps names to loaded arrays (unused when inline)."""
    if isinstance(node, list):
        return [decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        if "data" in node:
            flat = [decode(x, None) for x in node["data"]]
            return np.array(flat, dtype=np.dtype(node["__array__"])).reshape(node["shape"])
        return np.array(arrays[node["__array__"]])
    if "__float__" in node:
        return float(node["__float__"])
    if "__scalar__" in node:
        return np.dtype(node["__scalar__"]).type(decode(node["value"], arrays))
    if "__tuple__" in node:
        return tuple(decode(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in node["__dict__"]}
    if "__complex__" in node:
        return complex(*node["__complex__"])
    return Opaque(node.get("__object__", "object"), node.get("repr", ""))


def _hashable(key):
    return key if not isinstance(key, list) else tuple(key)


class Opaque:
    """Something the kernel could not send as data: kept as its type name and repr."""

    def __init__(self, type_name, text):
        self.type_name, self.text = type_name, text

    def __repr__(self):
        return self.text

    def __eq__(self, other):
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)


def write_npz(path, skeleton, arrays):
    """Write atomically, so a reader never sees half a file."""
    tmp = path + ".part"
    with open(tmp, "wb") as fh:
        np.savez(fh, skeleton=np.array(json.dumps(skeleton)), **{"a%d" % i: a for i, a in enumerate(arrays)})
    os.replace(tmp, path)


def read_npz(path):
    """Return (skeleton, arrays) from a file written by ``write_npz``."""
    with np.load(path, allow_pickle=False) as data:
        skeleton = json.loads(str(data["skeleton"]))
        arrays = {k: data[k] for k in data.files if k != "skeleton"}
    return skeleton, arrays


# --- kernel side -------------------------------------------------------------------

def _frames(exc):
    """The traceback without the harness's own frames."""
    frames = []
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename == HARNESS_FILENAME:
            continue
        frames.append({"file": fr.filename, "line": fr.lineno, "function": fr.name, "code": fr.line or ""})
    return frames


class KernelHarness:
    """Calls one graded function per check and writes what it returned to ``out/``."""

    def __init__(self, namespace, inputs_path, out_dir):
        self.namespace = namespace
        self.inputs_path = inputs_path
        self.out_dir = out_dir

    def call(self, check_name):
        # np.load reads an array only when decode asks for it: a check loads its own inputs only.
        with np.load(self.inputs_path, allow_pickle=False) as data:
            spec = json.loads(str(data["skeleton"]))[check_name]
            kwargs = decode(spec["kwargs"], data)  # a fresh copy for every call
        function = self.namespace.get(spec["function"])
        if not callable(function):
            function = _undefined(spec["function"])
        # A KeyboardInterrupt here is the grader's timeout; SystemExit and the like are errors.
        out = invoke(function, kwargs, spec.get("seed"), spec.get("observe", []), catch=BaseException)
        out_arrays = []
        try:
            skeleton_out = encode(out, out_arrays)
        except Exception as exc:  # an output we cannot even describe
            skeleton_out = {"status": "error", "ename": type(exc).__name__,
                            "evalue": "the result could not be sent back: %s" % exc, "traceback": []}
            out_arrays = []
        write_npz(os.path.join(self.out_dir, check_name + ".npz"), skeleton_out, out_arrays)


def _undefined(name):
    def missing(**_):
        raise NameError("%s is not defined" % name)
    return missing


def invoke(function, kwargs, seed=None, observe=(), catch=Exception):
    """Call one graded function as a check does; return what happened as plain data."""
    started = time.perf_counter()
    try:
        if seed is not None:
            np.random.seed(seed)
        value = function(**kwargs)
        out = {"status": "ok", "value": value, "observed": {name: kwargs.get(name) for name in observe}}
    except catch as exc:
        out = {"status": "timeout" if isinstance(exc, KeyboardInterrupt) else "error",
               "ename": type(exc).__name__, "evalue": str(exc)[:1000], "traceback": _frames(exc)}
    out["seconds"] = time.perf_counter() - started
    return out


def kernel_setup_source(inputs_path, out_dir):
    """The first cell of every graded notebook: installs the harness as ``__grader__``."""
    with open(__file__, encoding="utf-8") as fh:
        source = fh.read()
    return (
        "__grader_ns__ = {'__name__': '__grader_harness__'}\n"
        f"exec(compile({source!r}, {HARNESS_FILENAME!r}, 'exec'), __grader_ns__)\n"
        f"__grader__ = __grader_ns__['KernelHarness'](globals(), {inputs_path!r}, {out_dir!r})\n"
        "del __grader_ns__\n"
    )


def check_call_source(check_name):
    return f"__grader__.call({check_name!r})"
