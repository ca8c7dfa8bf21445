"""Imports a grader process can do without, left out before anything loads them."""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType

# jsonschema, which nbformat imports to validate notebooks, loads these modules when they are
# installed (JupyterLab brings them in) only to offer checks of string formats (IRIs, dates,
# colours, ...). rfc3987_syntax builds a parser grammar and costs seconds of CPU; the others
# together about a twentieth of a second. Format checks run only when a validator is handed a
# format checker, which nbformat never does: without the modules, validation is the same.
FORMAT_MODULE = "jsonschema._format"
UNUSED_BY_VALIDATION = ("rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator", "fqdn", "idna",
                        "webcolors", "jsonpointer", "uri_template", "isoduration")


def skip_unused_imports() -> None:
    """Keep the modules above from jsonschema's format module when it loads in this process,
    unless jsonschema is loaded already (someone else's process, which may want them).
    Other code that imports one of them later still gets it."""
    if "jsonschema" in sys.modules or any(isinstance(f, _FormatModuleFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _FormatModuleFinder())


class _FormatModuleFinder(importlib.abc.MetaPathFinder):
    """Finds jsonschema's format module as usual, and runs it with the unused modules hidden."""

    def find_spec(self, fullname: str, path=None, target: ModuleType | None = None):
        if fullname != FORMAT_MODULE:
            return None
        sys.meta_path.remove(self)  # once: the module loads once per process
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutUnused(spec.loader)
        return spec


class _WithoutUnused(importlib.abc.Loader):
    """A loader that runs the real one while the unused modules read as not installed."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def __getattr__(self, name: str):
        return getattr(self.loader, name)  # get_source and the rest, as the real loader has them

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with modules_hidden(UNUSED_BY_VALIDATION):
            self.loader.exec_module(module)


@contextlib.contextmanager
def modules_hidden(names: Iterable[str]) -> Iterator[None]:
    """Inside the block, importing any of ``names`` that is not loaded yet fails as if it were
    not installed; afterwards an import of it works again."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "import fails"
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
