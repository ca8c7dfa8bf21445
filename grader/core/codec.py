"""The format in which the grader and a student's kernel hand each other values.

Both sides run this same code: the grader imports it, and the kernel receives its source
ahead of the harness (``grader.kernel.harness.kernel_setup_source``), so it must import
nothing but the standard library and NumPy.

Format: one ``.npz`` file holding a JSON "skeleton" (key ``skeleton``) and the arrays it
refers to (keys ``a0``, ``a1``, …). Loading uses ``allow_pickle=False``, so a file written
by student code cannot make the grader run anything.
"""
import json
import math
import os

import numpy as np

# Bound when the codec loads, before any student code runs in the kernel: a region that
# replaces ``json.dumps`` or ``np.savez`` must not change how results are written.
_json_dumps, _json_loads, _replace, _open = json.dumps, json.loads, os.replace, open
_savez, _load = np.savez, np.load


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
        return np.asarray(arrays[node["__array__"]])  # each read from a file is already a fresh array
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
    with _open(tmp, "wb") as fh:
        _savez(fh, skeleton=np.array(_json_dumps(skeleton)), **{"a%d" % i: a for i, a in enumerate(arrays)})
    _replace(tmp, path)


def read_npz(path):
    """Return (skeleton, arrays) from a file written by ``write_npz``."""
    with _load(path, allow_pickle=False) as data:
        skeleton = _json_loads(str(data["skeleton"]))
        arrays = {k: data[k] for k in data.files if k != "skeleton"}
    return skeleton, arrays
