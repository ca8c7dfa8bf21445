"""Build the students' folder from the instructor's: ``solutions/`` → ``assignments/``.

Each region's body becomes a course-style placeholder, outputs are cleared, the
support files are copied, and the public checks' inputs and expected outputs
are written as data for self-checking. Each notebook gains a first cell that
installs the student package (a wheel of the checker and this folder, written
beside the notebooks) and a check cell after each graded function. Hidden
checks leave no trace. Running it twice gives byte-identical files.
"""
from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import nbformat

from grader.checks.spec import Assignment
from grader.core.codec import encode
from grader.core.errors import UsageError
from grader.grading.catalog import RELEASED_CHECKS_DIR, Catalog
from grader.grading.studentkit import build_wheel, package_version, wheel_name
from grader.notebook.build import splice
from grader.notebook.checkcells import check_cell, install_cell
from grader.notebook.regions import extract, normalise_source, placeholder_for


def release(solutions: Path, out: Path, *, cache_dir: Path | None = None) -> list[Path]:
    catalog = Catalog(solutions, cache_dir=cache_dir)
    if catalog.mode != "instructor":
        raise UsageError(f"{solutions} holds no '*.checks.py' specs: nothing to release")
    out.mkdir(parents=True, exist_ok=True)
    (out / RELEASED_CHECKS_DIR).mkdir(exist_ok=True)
    version = package_version([catalog.version(a) for a in catalog.assignments])
    written = []
    for assignment in catalog.assignments:
        written.append(_release_notebook(catalog, assignment, out, wheel_name(version)))
        for name in assignment.files:
            shutil.copyfile(solutions / name, out / name)
            written.append(out / name)
        written.append(_release_checks(catalog, assignment, out))
    titles = ", ".join(a.title for a in catalog.assignments)
    written.append(build_wheel(out, version, summary=f"Public checks of {titles}, and the checker that runs them"))
    return written


def strip_regions(source: str, functions: tuple[str, ...]) -> str:
    text = normalise_source(source)
    for name in functions:
        found = extract(text, name)
        if found.regions:
            text = splice(text, found, [placeholder_for(r.body) for r in found.regions], None)
    return text


def _release_notebook(catalog: Catalog, assignment: Assignment, out: Path, wheel: str) -> Path:
    nb = copy.deepcopy(catalog.scaffold(assignment))
    cells = [install_cell(wheel)]
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        graded = [name for name in assignment.functions if extract(normalise_source(cell.source), name).found]
        cell.source = strip_regions(cell.source, assignment.functions)
        cell.outputs = []
        cell.execution_count = None
        # Execution timings and widget state are the instructor's, not the student's.
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
        cells.extend(check_cell(name) for name in graded)
    nb.cells = cells
    _without_ids_before_4_5(nb)
    nb.metadata.pop("widgets", None)
    path = out / assignment.notebook
    nbformat.write(nb, str(path))
    return path


def _without_ids_before_4_5(nb) -> None:
    """Cell ids exist from nbformat 4.5 on; an older scaffold's added cells go without."""
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        for cell in nb.cells:
            cell.pop("id", None)


def _release_checks(catalog: Catalog, assignment: Assignment, out: Path) -> Path:
    expected = catalog.expected(assignment)
    checks = []
    for check in assignment.checks:
        if check.hidden:
            continue
        exp = expected[check.name]
        checks.append({
            "name": check.name, "function": check.function, "points": check.points,
            "description": check.description, "inputs": check.inputs, "project": check.project,
            "observe": list(check.observe), "partial": check.partial, "seed": check.seed,
            "returns": list(check.returns), "rtol": check.rtol, "atol": check.atol,
            "expected": _portable(encode(exp.value, None), check),
            "hints": [{"message": m, "output": _portable(encode(v, None), check)} for m, v in exp.hints],
            **({"uses": list(check.uses)} if check.uses is not None else {}),
        })
    data = {
        "assignment": {"slug": assignment.slug, "title": assignment.title, "notebook": assignment.notebook,
                       "points": assignment.points, "files": list(assignment.files),
                       "cell_timeout": assignment.cell_timeout, "version": catalog.version(assignment)},
        "checks": checks,
    }
    path = out / RELEASED_CHECKS_DIR / f"{Path(assignment.notebook).stem}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


# Expected values come from NumPy arithmetic whose last digit depends on the BLAS build
# and the CPU (reduction order). Released files hold them rounded to two significant
# digits more than the check's relative tolerance asks (1e-7: 9 digits), so the rounding
# stays a hundredth of the tolerance and no last-digit noise reaches the committed
# folder. Exact checks (rtol = atol = 0) compare copies of data, never arithmetic, and
# keep every digit, as do checks with an absolute tolerance alone.
def _portable(node, check):
    """``node`` (an encoded value) rounded as far as ``check``'s tolerance allows."""
    if check.rtol == 0:
        return node
    return _round_floats(node, 2 + math.ceil(-math.log10(check.rtol)))


def _round_floats(node, digits: int):
    if isinstance(node, float):
        return float(f"{node:.{digits}g}")
    if isinstance(node, list):
        return [_round_floats(v, digits) for v in node]
    if isinstance(node, dict):
        return {k: _round_floats(v, digits) for k, v in node.items()}
    return node
