"""A grader process leaves out what notebook validation never uses (grader.core.imports),
and notebooks are still validated as before."""
from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys
from grader.core.imports import skip_unused_imports
skip_unused_imports()
from grader.notebook.reader import parse_notebook
nb = parse_notebook(b'{"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], '
                    b'"execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
print("read", len(nb.cells))
import nbformat
try:  # the validator itself still refuses a bad cell
    nbformat.validate(nbformat.from_dict({"cells": [{"cell_type": "nonsense"}], "metadata": {}, "nbformat": 4,
                                          "nbformat_minor": 5}))
except nbformat.ValidationError:
    print("refused")
print("rfc3987_syntax loaded", sys.modules.get("rfc3987_syntax") is not None)
from grader.core.imports import UNUSED_BY_VALIDATION
print("format modules loaded", sorted(name for name in UNUSED_BY_VALIDATION if sys.modules.get(name) is not None))
import importlib.util
installed = [name for name in UNUSED_BY_VALIDATION if importlib.util.find_spec(name) is not None]
for name in installed:  # hidden from jsonschema only: anyone else still gets them
    __import__(name)
print("importable later", all(sys.modules.get(name) is not None for name in installed))
"""


def test_validation_works_without_the_iri_grammar():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "read 1"
    assert lines[1] == "refused"
    assert lines[2] == "rfc3987_syntax loaded False"
    assert lines[3] == "format modules loaded []"
    assert lines[4] == "importable later True"


def test_a_process_that_already_loaded_jsonschema_is_left_alone():
    child = ("import sys, jsonschema\nfrom grader.core.imports import skip_unused_imports\n"
             "before = (list(sys.meta_path), dict(sys.modules))\n"
             "skip_unused_imports()\n"
             "print(before == (list(sys.meta_path), dict(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
