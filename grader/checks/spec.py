"""The vocabulary of a check specification.

An assignment's spec module (``solutions/<Notebook>.checks.py``) builds one
``Assignment`` out of ``Check`` and ``Hint`` values. Nothing here knows about
any particular assignment.
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# A builder is either a callable or "module:function" naming one in the assignment's files.
Ref = str | Callable[..., Any]

# A twin's name: its public check's name with this suffix (never a valid Python name, so
# it cannot clash with a check name an instructor writes).
TWIN_SUFFIX = "~twin"


@dataclass(frozen=True)
class Hint:
    """A message shown when the student's output matches a known mistake.

    ``variant`` reproduces the mistake: it takes the check's inputs as keyword
    arguments and returns what the mistaken function would return.
    """

    message: str
    variant: Callable[..., Any]


@dataclass(frozen=True)
class Expected:
    """The reference output of one check, and what known mistakes would return instead."""

    value: Any
    hints: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Check:
    name: str
    function: str
    points: float
    inputs: Ref
    rtol: float
    atol: float
    hidden: bool = False
    description: str = ""
    project: Ref | None = None
    observe: tuple[str, ...] = ()
    partial: bool = False
    seed: int | None = None
    hints: tuple[Hint, ...] = ()
    # Names for the parts of a tuple return value, used in messages: ("parameters", "v").
    returns: tuple[str, ...] = ()
    # Public checks only: a builder of fresh inputs of the same shape, kept in the spec
    # (never released). The check's points need this "twin" call to pass as well, so an
    # answer hard-coded for the released inputs earns nothing.
    twin: Callable[..., Any] | None = None
    # Graded functions this check's function calls, named (and hints withheld) when they fail
    # their own checks. None: the ones the student's built definition calls.
    uses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError(f"check {self.name}: points must be positive")
        if self.rtol < 0 or self.atol < 0:
            raise ValueError(f"check {self.name}: rtol and atol must be non-negative")
        if not self.hidden and not isinstance(self.inputs, str):
            raise ValueError(
                f"check {self.name}: a public check names its builder as 'module:function' "
                "so that students can run it without the solutions"
            )
        if self.twin is not None and (self.hidden or not callable(self.twin)):
            raise ValueError(
                f"check {self.name}: a twin belongs to a public check and is a function in the "
                "spec itself, so that its inputs never reach students"
            )

    def twin_check(self) -> Check | None:
        """The hidden call on the twin's inputs, compared like this check; None without a twin."""
        if self.twin is None:
            return None
        return replace(self, name=self.name + TWIN_SUFFIX, inputs=self.twin, hidden=True, twin=None,
                       hints=(), description=f"{self.name} on fresh inputs of the same shape")


@dataclass(frozen=True)
class Assignment:
    slug: str
    title: str
    notebook: str
    points: float
    checks: tuple[Check, ...]
    files: tuple[str, ...] = ()
    cell_timeout: float = 10.0  # per check: graded functions run in milliseconds
    folder: Path | None = field(default=None, compare=False)
    # Kernel limits for this assignment (names as in containment.Limits), over the defaults.
    limits: tuple[tuple[str, Any], ...] = ()
    # The assignment's worth when hidden checks are left out (student mode); else ``points``.
    full_points: float | None = None
    # How much of a hidden check the feedback handed to students shows: none, message or full
    # (grader/reports/feedback.py); the instructor's reports always show everything.
    feedback: str = "message"

    def __post_init__(self) -> None:
        total = sum(c.points for c in self.checks)
        if abs(total - self.points) > 1e-9:
            raise ValueError(f"{self.slug}: checks add up to {total} points, expected {self.points}")
        names = [c.name for c in self.runs]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.slug}: check names must be unique")

    @property
    def functions(self) -> tuple[str, ...]:
        """Graded functions, in the order their first check appears."""
        return tuple(dict.fromkeys(c.function for c in self.checks))

    def checks_for(self, function: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.function == function)

    @property
    def runs(self) -> tuple[Check, ...]:
        """Every call the kernel makes: each check, followed by its twin if it has one.

        A twin runs right after its check, so a kernel that dies later costs it nothing.
        """
        return tuple(r for c in self.checks for r in (c, c.twin_check()) if r is not None)

    def resolve(self, ref: Ref) -> Callable[..., Any]:
        """Turn a builder reference into a callable, importing from ``files`` if needed."""
        if callable(ref):
            return ref
        module_name, _, attr = ref.partition(":")
        if self.folder is None:
            raise ValueError(f"{self.slug}: cannot resolve {ref!r} without a folder")
        return getattr(load_module(self.folder / f"{module_name}.py"), attr)


_modules: dict[Path, Any] = {}


def load_module(path: Path) -> Any:
    """Import a file under a private name, so two folders' same-named modules never clash."""
    path = path.resolve()
    if path not in _modules:
        name = f"_graderload_{len(_modules)}_{path.stem.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        # Let the module import its neighbours (nn_test_cases imports nn_helpers).
        sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        _modules[path] = module
    return _modules[path]
