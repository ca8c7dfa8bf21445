"""Imports a grader process can do without, left out before anything loads them."""
from __future__ import annotations

import sys

# jsonschema, which nbformat imports to validate notebooks, also loads rfc3987_syntax when
# it is installed (JupyterLab brings it in) to offer an "iri" string-format check; that
# import builds a parser grammar and costs seconds of CPU in every grader process. Format
# checks run only when a validator is handed a format checker, which nbformat never does,
# and its schemas name no "iri" format: without the module, validation is the same.
UNUSED_BY_VALIDATION = ("rfc3987_syntax",)


def skip_unused_imports() -> None:
    """Keep the modules above out of this process, unless jsonschema is loaded already
    (someone else's process, which may want them)."""
    if "jsonschema" in sys.modules:
        return
    for name in UNUSED_BY_VALIDATION:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import fails"
