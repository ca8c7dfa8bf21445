"""The values file, in which a check's inputs reach the kernel and its output comes back.

What the kernel writes there is student-controlled: these tests forge files and assert that
the grader reads them as an unreadable output, never as a value and never with a traceback.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.core.codec import VALUES_MAGIC, decode, encode, read_npz, read_values, write_npz, write_values
from grader.kernel.execute import Call, Execution, Job, Options, _collect, execute_jobs
from grader.kernel.kernels import ForkServer

SAMPLE = {
    "transposed": np.arange(12.0).reshape(3, 4).T, "flags": np.array([True, False]),
    "complex": np.array([1 + 2j]), "big_endian": np.arange(3, dtype=">i4"), "empty": np.zeros((0, 5)),
    "scalar": np.float32(3.5), "zero_d": np.array(7), "nested": [1, (2, "x"), {"k": np.ones(2)}],
    "nan": float("nan"), "batch": np.ones((300, 148)),
}


def _written(path: Path, value) -> Path:
    arrays: list = []
    write_values(str(path), encode(value, arrays), arrays)
    return path


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and repr(a) == repr(b)


def test_values_come_back_as_the_npz_container_gave_them(tmp_path):
    """The same values, types and shapes as the format it replaced on the kernel's link."""
    skeleton, arrays = read_values(str(_written(tmp_path / "v.values", SAMPLE)))
    stored: list = []
    write_npz(str(tmp_path / "v.npz"), encode(SAMPLE, stored), stored)
    assert _same(decode(*read_npz(str(tmp_path / "v.npz"))), decode(skeleton, arrays))


def test_every_lookup_is_a_fresh_copy_a_check_may_change(tmp_path):
    skeleton, arrays = read_values(str(_written(tmp_path / "v.values", {"x": np.arange(4.0)})))
    first = decode(skeleton, arrays)["x"]
    first[:] = -1  # a function that changes its input in place
    again = decode(skeleton, arrays)["x"]
    assert again.flags.writeable and np.array_equal(again, np.arange(4.0))


def _forged(path: Path, change) -> Path:
    """A sound file whose header ``change`` rewrites, as student code could."""
    data = _written(path, {"x": np.arange(6.0).reshape(2, 3)}).read_bytes()
    start = len(VALUES_MAGIC) + 8
    length = int.from_bytes(data[len(VALUES_MAGIC):start], "little")
    header = json.loads(data[start:start + length])
    change(header)
    forged = json.dumps(header).encode()
    path.write_bytes(VALUES_MAGIC + len(forged).to_bytes(8, "little") + forged + data[start + length:])
    return path


def _set(field: int, value):
    return lambda header: header["arrays"][0].__setitem__(field, value)


@pytest.mark.parametrize("change", [
    _set(0, "|O"), _set(0, "V8"), _set(0, "(2,)f8"), _set(0, "no such type"), _set(1, [-1, 6]),
    _set(1, [True, 3]), _set(1, [3, 3]), _set(2, 10 ** 12), _set(3, 8),
    lambda header: header.__setitem__("arrays", "a0"),
], ids=["object", "void", "subarray", "unknown", "negative", "bool", "too-big", "offset", "size", "table"])
def test_a_forged_header_is_refused(tmp_path, change):
    with pytest.raises(ValueError):
        read_values(str(_forged(tmp_path / "v.values", change)))


@pytest.mark.parametrize("damage", [lambda d: d[:10], lambda d: b"PK" + d, lambda d: d[:-8], lambda d: b""],
                         ids=["truncated-header", "not-ours", "truncated-data", "empty"])
def test_a_damaged_file_is_refused(tmp_path, damage):
    path = _written(tmp_path / "v.values", {"x": np.arange(6.0)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError):
        read_values(str(path))


def test_the_grader_reports_a_forged_output_as_unreadable(tmp_path):
    path = _forged(tmp_path / "check.values", _set(0, "|O"))
    output = _collect(path, Execution())
    assert output["status"] == "error" and output["ename"] == "UnreadableOutput"


@pytest.mark.kernel
def test_each_kernel_draws_its_own_unseeded_random_numbers():
    """NumPy is imported once by the fork server; every kernel still starts its generator afresh."""
    job = Job(cells=["import numpy as np\ndrawn = np.random.random(4)\ndef f():\n    return drawn"],
              calls=[Call("draw", "f", {})], files=[], defines={0: ["f"]})
    with ForkServer() as server:  # one server: both kernels fork from the same warm process
        first, second = (execute_jobs([job], Options(server=server))[0].outputs["draw"] for _ in range(2))
    assert first["status"] == second["status"] == "ok"
    assert not np.allclose(first["value"], second["value"], rtol=0, atol=1e-12)
