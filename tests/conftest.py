"""Shared fixtures for the tiny one-function assignment (tests/fixtures/tiny).

The tiny assignment is copied into a session temporary folder, so the reference
run happens once per test session and its cache never lands in the repository.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

TINY_SOURCE = Path(__file__).parent / "fixtures" / "tiny"
TINY_FILES = ("Tiny.ipynb", "Tiny.checks.py", "tiny_cases.py")


@pytest.fixture(scope="session")
def kernel_options():
    """Kernel options holding one fork server for the whole session, as a pool worker holds one
    for all its students; without it every ``grade_notebook`` call starts (and stops) its own."""
    from grader.kernel.execute import Options, serving

    with serving(Options()) as options:
        yield options


def tiny_reference_body() -> str:
    """The reference region of the tiny solution, read from the solution notebook."""
    from grader.notebook.regions import extract, normalise_source

    nb = nbformat.read(str(TINY_SOURCE / "Tiny.ipynb"), as_version=4)
    for cell in nb.cells:
        found = extract(normalise_source(cell.source), "scale")
        if found.regions:
            return found.regions[0].body
    raise AssertionError("the tiny solution has no region in scale")


def notebook_with_region(template: nbformat.NotebookNode, old_body: str, new_body: str) -> nbformat.NotebookNode:
    """A copy of ``template`` whose ``scale`` region (currently ``old_body``) holds ``new_body``."""
    nb = nbformat.from_dict(template)
    indent = "    "
    old = indent + old_body
    new = "\n".join(indent + line if line.strip() else "" for line in new_body.split("\n"))
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(hits) == 1, "the template must hold the region body exactly once"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """A private copy of the tiny assignment's instructor folder (no cache)."""
    folder = tmp_path_factory.mktemp("tiny_solutions")
    for name in TINY_FILES:
        shutil.copyfile(TINY_SOURCE / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_warm(tiny_folder) -> Path:
    """The copy with its reference outputs computed once (starts a kernel)."""
    from grader.grading.catalog import Catalog

    catalog = Catalog(tiny_folder)
    catalog.expected(catalog.assignments[0])
    return tiny_folder


@pytest.fixture(scope="session")
def tiny_submission(tmp_path_factory):
    """``make(scenario, region_code)`` writes ``<scenario>/Tiny.ipynb`` built from the solution."""
    root = tmp_path_factory.mktemp("tiny_submissions")
    solution = nbformat.read(str(TINY_SOURCE / "Tiny.ipynb"), as_version=4)
    reference = tiny_reference_body()

    def make(scenario: str, region_code: str, *, folder: Path | None = None) -> Path:
        nb = notebook_with_region(solution, reference, region_code)
        path = (folder or root) / scenario / "Tiny.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        return path

    return make
