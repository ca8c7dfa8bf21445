"""The vocabulary of a check specification.

An assignment's spec module (``solutions/<Notebook>.checks.py``) builds one
``Assignment`` out of ``Check`` and ``Hint`` values. Nothing here knows about
any particular assignment.
"""
from __future__ import annotations

import builtins
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
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
    # Where "module:function" builders are imported: the loader of the catalog that made this.
    modules: ModuleLoader | None = field(default=None, compare=False, repr=False)

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
        """Turn a builder reference into a callable, importing from ``files`` if needed.

        Files are imported by the loader of the catalog this assignment came from (``modules``),
        so a spec's builders and its own ``import`` of them share one module; an assignment
        made without a catalog imports the file afresh on each call.
        """
        if callable(ref):
            return ref
        module_name, _, attr = ref.partition(":")
        if self.folder is None:
            raise ValueError(f"{self.slug}: cannot resolve {ref!r} without a folder")
        path = self.folder / f"{module_name}.py"
        module = self.modules.load(path) if self.modules is not None else load_module(path)
        return getattr(module, attr)


class ModuleLoader:
    """The instructor's Python files one owner (a ``Catalog``) has imported: each file once.

    A file becomes a module under a private name and is never put in ``sys.modules``, and
    ``sys.path`` is left alone, so two catalogs, or two folders that each have an
    ``nn_helpers.py``, never share or clash. A loaded file imports a neighbour from its own
    folder with a plain ``import nn_helpers``: the import statement is answered by this loader
    (the module's ``__import__`` is the loader's), so the neighbour is the very module that
    the checks' builders resolve to. Any other import is Python's own. Only single files are
    neighbours (``import pkg.sub`` from the folder is not served). ``close()`` drops every module.
    """

    def __init__(self) -> None:
        self._modules: dict[Path, ModuleType] = {}
        self.closed = False

    def load(self, path: Path) -> ModuleType:
        if self.closed:
            raise RuntimeError(f"cannot import {path}: its catalog was closed")
        path = Path(path).resolve()
        module = self._modules.get(path)
        if module is None:
            module = self._execute(path)
        return module

    def _execute(self, path: Path) -> ModuleType:
        name = f"_graderload_{len(self._modules)}_{path.stem.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        # Set before the module runs: Python then keeps it (functions defined there see it too).
        module.__dict__["__builtins__"] = {**vars(builtins), "__import__": self._importer(path.parent)}
        self._modules[path] = module  # a neighbour that imports this one back gets it half-made, as in Python
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del self._modules[path]
            raise
        return module

    def _importer(self, folder: Path) -> Callable[..., Any]:
        def neighbour_first(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                            level: int = 0) -> Any:
            if level == 0 and "." not in name and (folder / f"{name}.py").is_file():
                return self.load(folder / f"{name}.py")
            return builtins.__import__(name, globals, locals, fromlist, level)
        return neighbour_first

    def close(self) -> None:
        """Forget every module; what still holds one of their functions keeps it working."""
        self._modules.clear()
        self.closed = True

    def __enter__(self) -> ModuleLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_module(path: Path) -> ModuleType:
    """Import one file under a private name, afresh (nothing is cached or registered anywhere).

    For tests and older specs; in a spec, ``import neighbour`` gives the catalog's own module.
    """
    return ModuleLoader().load(path)
