"""`grader release`: what students get, and what they must never get."""
import filecmp
import json
import math
from pathlib import Path

import nbformat
import pytest

from grader.grading.catalog import Catalog
from grader.notebook.regions import extract, normalise_source
from grader.grading.release import release

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = ROOT / "assignments"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    first = tmp_path_factory.mktemp("first")
    second = tmp_path_factory.mktemp("second")
    release(SOLUTIONS, first)
    release(SOLUTIONS, second)
    return first, second


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _reference_lines(catalog: Catalog):
    """Every code line inside a reference region of every solution notebook."""
    for assignment in catalog.assignments:
        nb = nbformat.read(str(SOLUTIONS / assignment.notebook), as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for name in assignment.functions:
                for region in extract(normalise_source(cell.source), name).regions:
                    for line in region.body.split("\n"):
                        code = line.split("#")[0].strip()
                        if code:
                            yield assignment.notebook, name, code


@pytest.mark.kernel
def test_release_is_byte_identical_and_matches_the_committed_folder(released):
    first, second = released
    assert _files(first) == _files(second)
    for name in _files(first):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    committed = [f for f in _files(ASSIGNMENTS)]
    assert committed == _files(first), "assignments/ is out of date: run `grader release`"
    for name in _files(first):
        if name.startswith("checks/"):
            # Data computed by NumPy on this machine: equal within a tolerance no grade can see.
            fresh = json.loads((first / name).read_text(encoding="utf-8"))
            kept = json.loads((ASSIGNMENTS / name).read_text(encoding="utf-8"))
            assert _same_data(fresh, kept), f"{name} differs: run `grader release`"
        else:
            assert filecmp.cmp(first / name, ASSIGNMENTS / name, shallow=False), f"{name} differs: run `grader release`"


def _same_data(a, b, rel=1e-6) -> bool:
    """Equal structure and text; floats within ``rel`` (the loosest check tolerance is 1e-6)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=rel)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_data(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_data(a[k], b[k], rel) for k in a)
    return a == b


def test_same_data_tolerates_last_digits_only():
    assert _same_data({"v": [0.517790711198277]}, {"v": [0.5177907111982771]})
    assert not _same_data({"v": [0.5177907]}, {"v": [0.5178907]})
    assert not _same_data({"v": [1.0, 2.0]}, {"v": [1.0]})
    assert not _same_data({"m": "a"}, {"m": "b"})


def test_released_expected_values_are_rounded_inside_their_tolerance(released):
    first, _ = released
    catalog = Catalog(SOLUTIONS)
    for assignment in catalog.assignments:
        data = json.loads((first / "checks" / (Path(assignment.notebook).stem + ".json")).read_text())
        for check in data["checks"]:
            floats = list(_floats(check["expected"]))
            if check["rtol"] == 0:
                continue
            digits = 2 + math.ceil(-math.log10(check["rtol"]))
            for x in floats:
                assert x == float(f"{x:.{digits}g}"), (check["name"], x)


@pytest.mark.kernel
def test_no_reference_code_reaches_students(released):
    first, _ = released
    texts = {name: (first / name).read_text(encoding="utf-8") for name in _files(first)}
    catalog = Catalog(SOLUTIONS)
    leaks = [
        (notebook, function, code, name)
        for notebook, function, code in _reference_lines(catalog)
        for name, text in texts.items()
        if code in text
    ]
    assert not leaks


@pytest.mark.kernel
def test_no_hidden_check_reaches_students(released):
    first, _ = released
    catalog = Catalog(SOLUTIONS)
    checks_text = "".join((first / "checks" / p.name).read_text() for p in (first / "checks").iterdir())
    hidden = [c.name for a in catalog.assignments for c in a.checks if c.hidden]
    assert hidden, "the specs should have hidden checks"
    assert not [name for name in hidden if name in checks_text]
    public = [c.name for a in catalog.assignments for c in a.checks if not c.hidden]
    assert all(name in checks_text for name in public)


@pytest.mark.kernel
def test_no_twin_reaches_students(released):
    """Twins (fresh inputs for each public check) stay in solutions/: no name, builder or output."""
    first, _ = released
    texts = "".join(p.read_text(encoding="utf-8", errors="replace") for p in first.rglob("*") if p.is_file())
    catalog = Catalog(SOLUTIONS)
    twins = [c.twin_check() for a in catalog.assignments for c in a.checks if c.twin is not None]
    assert twins, "the public checks should have twins"
    assert not [t.name for t in twins if t.name in texts]
    assert not [t.inputs.__name__ for t in twins if t.inputs.__name__ in texts]
    released_data = Catalog(first)  # student mode: rebuilt from the released files alone
    for assignment in released_data.assignments:
        assert all(c.twin is None for c in assignment.checks)
        assert not [r.name for r in assignment.runs if r.name not in {c.name for c in assignment.checks}]


@pytest.mark.kernel
def test_released_notebooks_have_placeholders_and_no_outputs(released):
    first, _ = released
    catalog = Catalog(SOLUTIONS)
    for assignment in catalog.assignments:
        nb = nbformat.read(str(first / assignment.notebook), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        text = "\n".join(c.source for c in code)
        assert "= None" in text and "START CODE HERE" in text


def _floats(node):
    if isinstance(node, float):
        yield node
    elif isinstance(node, list):
        for v in node:
            yield from _floats(v)
    elif isinstance(node, dict):
        for v in node.values():
            yield from _floats(v)
