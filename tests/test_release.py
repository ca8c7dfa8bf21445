"""`grader release`: what students get, and what they must never get."""
import filecmp
import json
import math
import zipfile
from pathlib import Path

import nbformat
import pytest

import grader
from grader.grading.catalog import Catalog
from grader.grading.release import release
from grader.grading.studentkit import BUNDLE_DIR, DISTRIBUTION
from grader.notebook.build import build
from grader.notebook.checkcells import is_checker_cell
from grader.notebook.regions import extract, normalise_source

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
        if name.endswith(".whl"):
            _same_wheel_data(first / name, ASSIGNMENTS / name)
        elif name.startswith("checks/"):
            # Data computed by NumPy on this machine: equal within a tolerance no grade can see.
            fresh = json.loads((first / name).read_text(encoding="utf-8"))
            kept = json.loads((ASSIGNMENTS / name).read_text(encoding="utf-8"))
            assert _same_data(fresh, kept), f"{name} differs: run `grader release`"
        else:
            assert filecmp.cmp(first / name, ASSIGNMENTS / name, shallow=False), f"{name} differs: run `grader release`"


def _wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob(f"{DISTRIBUTION}-*.whl"))
    assert len(wheels) == 1, f"one student wheel expected in {folder}, found {[w.name for w in wheels]}"
    return wheels[0]


def _members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def _same_wheel_data(fresh: Path, committed: Path) -> None:
    """The released folder inside the wheel, and its metadata, as the folder itself is compared.

    The checker's own code inside is whatever the last release packed: a change to grader/
    alone does not make assignments/ out of date (it changes no grade); RECORD lists hashes
    of both, so it is left out too.
    """
    new, kept = _members(fresh), _members(committed)
    data = sorted(n for n in new if n.startswith(f"grader/{BUNDLE_DIR}/") or ".dist-info/" in n)
    assert data == sorted(n for n in kept if n.startswith(f"grader/{BUNDLE_DIR}/") or ".dist-info/" in n)
    for name in data:
        if name.endswith("/RECORD"):
            continue
        if name.endswith(".json"):
            assert _same_data(json.loads(new[name]), json.loads(kept[name])), f"{name} differs: run `grader release`"
        else:
            assert new[name] == kept[name], f"{name} in the wheel differs: run `grader release`"


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
    texts = _texts(first)
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
    everything = "".join(_texts(first).values())
    assert not [name for name in hidden if name in everything]
    public = [c.name for a in catalog.assignments for c in a.checks if not c.hidden]
    assert all(name in checks_text for name in public)


@pytest.mark.kernel
def test_no_twin_reaches_students(released):
    """Twins (fresh inputs for each public check) stay in solutions/: no name, builder or output."""
    first, _ = released
    texts = "".join(_texts(first).values())
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


def _texts(folder: Path) -> dict[str, str]:
    """Every released file's text, and every file inside the student wheel, by name."""
    texts = {}
    for name in _files(folder):
        if name.endswith(".whl"):
            for member, data in _members(folder / name).items():
                texts[f"{name}!{member}"] = data.decode("utf-8")
        else:
            texts[name] = (folder / name).read_text(encoding="utf-8")
    return texts


@pytest.mark.kernel
def test_student_wheel_holds_the_checker_and_the_released_folder_only(released):
    first, _ = released
    members = _members(_wheel(first))
    info = sorted({n.split("/")[0] for n in members if ".dist-info/" in n})
    assert len(info) == 1 and info[0].startswith(DISTRIBUTION + "-")
    assert {n.split("/")[0] for n in members} == {"grader", info[0]}
    bundled = {n[len(f"grader/{BUNDLE_DIR}/"):]: data for n, data in members.items()
               if n.startswith(f"grader/{BUNDLE_DIR}/")}
    assert bundled == {name: (first / name).read_bytes() for name in _files(first) if not name.endswith(".whl")}
    package = Path(grader.__file__).parent
    code = {n: data for n, data in members.items() if n.startswith("grader/") and not n.startswith(f"grader/{BUNDLE_DIR}/")}
    assert code["grader/grading/selfcheck.py"] == (package / "grading" / "selfcheck.py").read_bytes()
    assert "grader/reports/templates/check_table.html.j2" in code and "grader/cli.py" in code
    assert not [n for n in members if "solutions" in n or n.endswith(".checks.py") or "__pycache__" in n
                or "grader-cache" in n or n.endswith((".pyc", ".sqlite", ".whl"))]
    metadata = members[f"{info[0]}/METADATA"].decode()
    assert "Requires-Dist: numpy" in metadata and "pytest" not in metadata, "runtime needs only, no test extra"
    assert "grader = grader.cli:main" in members[f"{info[0]}/entry_points.txt"].decode()
    with zipfile.ZipFile(_wheel(first)) as opened:
        assert {e.date_time for e in opened.infolist()} == {(1980, 1, 1, 0, 0, 0)}, "no build clock in the zip"
        assert opened.testzip() is None


@pytest.mark.kernel
def test_released_notebooks_install_the_wheel_beside_them_and_check_each_function(released):
    first, _ = released
    wheel = _wheel(first).name
    catalog = Catalog(SOLUTIONS)
    for assignment in catalog.assignments:
        nb = nbformat.read(str(first / assignment.notebook), as_version=4)
        install = nb.cells[0]
        assert install.cell_type == "code" and f"%pip install -q {wheel}" in install.source
        assert "demo" in install.metadata.tags, "grading never runs the installer"
        for number, cell in enumerate(nb.cells):
            graded = [f for f in assignment.functions if extract(normalise_source(cell.source), f).found]
            for function in graded:
                after = nb.cells[number + 1]
                assert after.source.endswith(f'grader.check("{function}")'), (assignment.notebook, function)
                assert "demo" in after.metadata.tags and is_checker_cell(after.source)
        assert sum('grader.check("' in c.source for c in nb.cells) == len(assignment.functions)


@pytest.mark.kernel
def test_checker_cells_in_a_submission_draw_no_note(released):
    """A student hands in the released notebook with its install and check cells: only a
    changed cell outside the regions is worth a note."""
    first, _ = released
    catalog = Catalog(SOLUTIONS)
    for assignment in catalog.assignments:
        nb = nbformat.read(str(first / assignment.notebook), as_version=4)
        built = build(assignment, catalog.scaffold(assignment), nb)
        assert not [n for n in built.notes if "differ" in n], (assignment.notebook, built.notes)
        nb.cells[0].source += "\nprint('my own line')"
        built = build(assignment, catalog.scaffold(assignment), nb)
        assert [n for n in built.notes if "code cell 1 differs" in n], built.notes


def test_checker_cells_are_told_from_student_code():
    assert is_checker_cell('import grader\ngrader.check("model")')
    assert is_checker_cell("# check it\nimport grader\ngrader.check('model')  # again\n")
    assert is_checker_cell("%pip install -q nbautograde_student-0.1.0+ab-py3-none-any.whl")
    assert not is_checker_cell("")
    assert not is_checker_cell('import grader\ngrader.check("model")\nW1 = 0')
    assert not is_checker_cell("%pip install numpy")
