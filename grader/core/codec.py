"""The format in which the grader and a student's kernel hand each other values.

Both sides run this same code: the grader imports it, and the kernel receives its source
ahead of the harness (``grader.kernel.harness.kernel_setup_source``), so it must import
nothing but the standard library and NumPy.

Two containers hold a JSON "skeleton" and the arrays it refers to (``a0``, ``a1``, …):

* a *values file* (``write_values``, ``read_values``), what the grader and the kernel hand
  each other: a check's inputs and what it returned. A short header (magic, the length of
  a JSON part, the JSON part: skeleton and a table of dtype, shape, offset and size per
  array), then the arrays' raw bytes. One read of the file, then one copy per array a
  check asks for: no zip member to open and no header to parse per array. Only plain
  numeric dtypes are accepted, and every size and offset is checked against the file, so a
  file written by student code can be wrong but cannot make the grader run anything;
* an ``.npz`` file (``write_npz``, ``read_npz``) for what the grader keeps for itself (the
  reference outputs' cache), loaded with ``allow_pickle=False``.
"""
import json
import math
import os

import numpy as np

# Bound when the codec loads, before any student code runs in the kernel: a region that
# replaces ``json.dumps`` or ``np.savez`` must not change how results are written.
_json_dumps, _json_loads, _replace, _open = json.dumps, json.loads, os.replace, open
_savez, _load = np.savez, np.load
_frombuffer, _dtype, _from_bytes = np.frombuffer, np.dtype, int.from_bytes
_isinstance, _len, _bytes, _int, _str, _list = isinstance, len, bytes, int, str, list

VALUES_MAGIC = b"GRADER-VALUES-1\n"
NUMERIC_KINDS = "biufc"  # the dtypes a values file may hold: nothing that is an object or a record


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


def write_values(path, skeleton, arrays):
    """Write a values file atomically (see the module's docstring); ``arrays`` are C-contiguous."""
    table, offset = [], 0
    for a in arrays:
        table.append([a.dtype.str, _list(a.shape), offset, a.nbytes])
        offset += a.nbytes
    header = _json_dumps({"skeleton": skeleton, "arrays": table}).encode("utf-8")
    tmp = path + ".part"
    with _open(tmp, "wb") as fh:
        fh.write(VALUES_MAGIC + _len(header).to_bytes(8, "little") + header)
        for a in arrays:
            if a.nbytes:
                fh.write(a.data)
    _replace(tmp, path)


class StoredArrays:
    """The arrays of a values file by name; each lookup returns a fresh, writable copy."""

    def __init__(self, data, start, table):
        self._data, self._start, self._table = data, start, table

    def __getitem__(self, name):
        dtype, shape, offset, size = self._table[name]
        flat = _frombuffer(self._data, dtype=dtype, count=size // dtype.itemsize, offset=self._start + offset)
        return flat.reshape(shape).copy()

    def __len__(self):
        return _len(self._table)

    def keys(self):
        return self._table.keys()


def read_values(path):
    """Return (skeleton, arrays) from a values file; ``ValueError`` when it is not a sound one."""
    with _open(path, "rb") as fh:
        data = fh.read()
    head = _len(VALUES_MAGIC) + 8
    if data[:_len(VALUES_MAGIC)] != VALUES_MAGIC or _len(data) < head:
        raise ValueError("not a values file")
    length = _from_bytes(data[_len(VALUES_MAGIC):head], "little")
    if length > _len(data) - head:
        raise ValueError("the header runs past the end of the file")
    parsed = _json_loads(_bytes(data[head:head + length]).decode("utf-8"))
    if not _isinstance(parsed, dict) or not _isinstance(parsed.get("arrays"), _list):
        raise ValueError("no table of arrays")
    start = head + length
    table = {"a%d" % i: _checked_entry(entry, _len(data) - start) for i, entry in enumerate(parsed["arrays"])}
    return parsed.get("skeleton"), StoredArrays(data, start, table)


def _checked_entry(entry, available):
    """One row of the table as (dtype, shape, offset, size), or ValueError when it does not fit the file."""
    if not _isinstance(entry, _list) or _len(entry) != 4 or not _isinstance(entry[0], _str) or _len(entry[0]) > 8:
        raise ValueError("a malformed array entry")
    try:
        dtype = _dtype(entry[0])
    except TypeError:
        raise ValueError("an array of an unknown type") from None
    shape, offset, size = entry[1], entry[2], entry[3]
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError("an array of a type that is not plain numbers")
    numbers = shape + [offset, size] if _isinstance(shape, _list) else None
    if numbers is None or any(type(n) is not _int or n < 0 for n in numbers):
        raise ValueError("an array's shape, offset or size is not a count")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != size or offset + size > available:
        raise ValueError("an array's size does not match its shape or the file")
    return dtype, tuple(shape), offset, size
