"""Compare what a student's function returned with the reference output.

Pure functions: they never print, raise to stop grading, or look at anything
but their arguments. Structure (type, keys, length), then shape and dtype,
then values with explicit ``rtol``/``atol``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.core.codec import Opaque

MAX_SHOWN = 400  # entries kept for the report's side-by-side view
NUMERIC_KINDS = "iuf"


@dataclass(frozen=True)
class Difference:
    path: str
    message: str
    expected: Any = None  # JSON-ready summaries for the report
    got: Any = None
    differs: tuple[tuple[int, ...], ...] = ()
    truncated: bool = False
    weight: int = 1  # how many expected leaves this difference spoils (for partial credit)

    def to_dict(self) -> dict:
        return {"path": self.path, "message": self.message, "expected": self.expected,
                "got": self.got, "differs": [list(i) for i in self.differs], "truncated": self.truncated}


@dataclass(frozen=True)
class Verdict:
    leaves: int
    differences: tuple[Difference, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def failed_leaves(self) -> int:
        return min(self.leaves, sum(d.weight for d in self.differences))

    @property
    def message(self) -> str:
        if self.passed:
            return "matches the expected output"
        first = self.differences[0]
        text = f"{first.path}: {first.message}" if first.path else first.message
        more = len(self.differences) - 1
        return text + (f" (and {more} more difference{'s' * (more > 1)})" if more else "")


def compare(expected: Any, got: Any, *, rtol: float, atol: float, path: str = "") -> Verdict:
    diffs: list[Difference] = []
    leaves = _compare(expected, got, rtol, atol, path, diffs)
    return Verdict(leaves, tuple(diffs))


def describe_type(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if _is_number(value):
        return "a number"
    return f"a {type(value).__name__}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return max(1, sum(_count_leaves(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return max(1, sum(_count_leaves(v) for v in value))
    return 1


def _key_path(path: str, key: Any) -> str:
    return f"{path}[{key!r}]" if path else f"[{key!r}]"


def _compare(expected, got, rtol, atol, path, diffs) -> int:
    if isinstance(expected, dict):
        return _compare_dict(expected, got, rtol, atol, path, diffs)
    if isinstance(expected, (list, tuple)):
        return _compare_sequence(expected, got, rtol, atol, path, diffs)
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        _compare_array(expected, got, rtol, atol, path, diffs)
        return 1
    if _is_number(expected) or isinstance(expected, np.ndarray):
        _compare_number(expected, got, rtol, atol, path, diffs)
        return 1
    if expected != got or type(expected) is not type(got):
        diffs.append(Difference(path, f"is {_short(got)}, expected {_short(expected)}",
                                _summary(expected), _summary(got)))
    return 1


def _compare_dict(expected, got, rtol, atol, path, diffs) -> int:
    leaves = _count_leaves(expected)
    if not isinstance(got, dict):
        diffs.append(Difference(path, f"is {describe_type(got)}, expected a dict with keys {sorted(map(str, expected))}",
                                weight=leaves))
        return leaves
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing key" + "s" * (len(missing) > 1) + " " + ", ".join(map(repr, missing)))
        if extra:
            parts.append("unexpected key" + "s" * (len(extra) > 1) + " " + ", ".join(map(repr, extra)))
        weight = sum(_count_leaves(expected[k]) for k in missing) + len(extra)
        diffs.append(Difference(path, "; ".join(parts), weight=weight))
    counted = 0
    for key in expected:
        if key in got:
            counted += _compare(expected[key], got[key], rtol, atol, _key_path(path, key), diffs)
        else:
            counted += _count_leaves(expected[key])
    return max(leaves, counted)


def _compare_sequence(expected, got, rtol, atol, path, diffs) -> int:
    leaves = _count_leaves(expected)
    if not isinstance(got, (list, tuple)):
        diffs.append(Difference(path, f"is {describe_type(got)}, expected a {type(expected).__name__} of {len(expected)} items",
                                weight=leaves))
        return leaves
    if len(got) != len(expected):
        diffs.append(Difference(path, f"has {len(got)} items, expected {len(expected)}", weight=leaves))
        return leaves
    return max(1, sum(_compare(e, g, rtol, atol, f"{path}[{i}]", diffs) for i, (e, g) in enumerate(zip(expected, got))))


def _kind_group(dtype: np.dtype) -> str:
    if dtype.kind in NUMERIC_KINDS:
        return "number"
    return {"b": "bool", "c": "complex"}.get(dtype.kind, str(dtype))


def _compare_array(expected: np.ndarray, got, rtol, atol, path, diffs) -> None:
    if not isinstance(got, np.ndarray):
        diffs.append(Difference(path, f"is {describe_type(got)}, expected a NumPy array of shape {expected.shape}",
                                _summary(expected), _summary(got)))
        return
    if got.shape != expected.shape:
        diffs.append(Difference(path, f"has shape {got.shape}, expected {expected.shape}",
                                _summary(expected), _summary(got)))
        return
    if _kind_group(got.dtype) != _kind_group(expected.dtype):
        diffs.append(Difference(path, f"has dtype {got.dtype}, expected {expected.dtype}",
                                _summary(expected), _summary(got)))
        return
    if expected.dtype.kind in "iufcb" and np.array_equal(got, expected):
        return  # equal entries are close whatever the tolerances (np.isclose counts x == y as close)
    if expected.dtype.kind == "b":
        close = got == expected
        if close.all():
            return
        gap = np.where(close, 0.0, 1.0)
    else:
        g = got.astype(np.result_type(got.dtype, np.float64))
        e = expected.astype(np.result_type(expected.dtype, np.float64))
        with np.errstate(all="ignore"):
            close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
            if close.all():
                return
            gap = np.where(close, 0.0, np.abs(g - e))
        gap = np.where(np.isnan(gap), np.inf, gap)
    bad = np.argwhere(~close)
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    where = "[" + ", ".join(str(int(i)) for i in worst) + "]"
    worst_got = got[worst] if expected.dtype.kind != "b" else None
    if worst_got is not None and np.isnan(worst_got):
        largest = f"(got nan) at {where}"
    else:
        largest = f"{_fmt(gap[worst])} at {where}"
    message = f"{len(bad)} of {close.size} entries differ; largest difference {largest}"
    truncated = close.size > MAX_SHOWN
    shown = [tuple(int(i) for i in idx) for idx in bad[:MAX_SHOWN]]
    diffs.append(Difference(path, message, _summary(expected), _summary(got), tuple(shown), truncated))


def _compare_number(expected, got, rtol, atol, path, diffs) -> None:
    value = got
    if isinstance(got, np.ndarray) and got.size == 1:
        value = got.reshape(())[()]
    if not _is_number(value):
        diffs.append(Difference(path, f"is {describe_type(got)}, expected a number", _summary(expected), _summary(got)))
        return
    e = float(np.asarray(expected).reshape(()))
    g = float(value)
    if not np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        diffs.append(Difference(path, f"is {_fmt(g)}, expected {_fmt(e)} (rtol {rtol:g}, atol {atol:g})",
                                _summary(expected), _summary(got)))


def _fmt(x: float) -> str:
    x = float(x)
    return f"{x:.8g}" if np.isfinite(x) else str(x)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _summary(value: Any) -> Any:
    """A JSON-ready view of a value for the report, cut down when large."""
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        if value.size > MAX_SHOWN:
            return f"array of shape {value.shape}, dtype {value.dtype}; first values {np.array2string(flat[:8], precision=8)}"
        return _jsonable(value.tolist())
    if isinstance(value, (np.generic,)):
        return _jsonable(value.item())
    if isinstance(value, (int, float, str, bool)) or value is None:
        return _jsonable(value)
    return _short(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, complex):
        return str(value)
    return value
