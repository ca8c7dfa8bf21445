"""Build the students' folder from the instructor's: ``solutions/`` → ``assignments/``.

Each region's body becomes a course-style placeholder, outputs are cleared, the
support files are copied, and the public checks' inputs and expected outputs
are written as data for self-checking. Hidden checks leave no trace. Running it
twice gives byte-identical files.
"""
from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import nbformat

from grader.grading.catalog import RELEASED_CHECKS_DIR, Catalog
from grader.notebook.build import splice
from grader.core.codec import encode
from grader.notebook.regions import extract, normalise_source, placeholder_for
from grader.checks.spec import Assignment


def release(solutions: Path, out: Path, *, cache_dir: Path | None = None) -> list[Path]:
    catalog = Catalog(solutions, cache_dir=cache_dir)
    if catalog.mode != "instructor":
        raise ValueError(f"{solutions} holds no '*.checks.py' specs: nothing to release")
    out.mkdir(parents=True, exist_ok=True)
    (out / RELEASED_CHECKS_DIR).mkdir(exist_ok=True)
    written = []
    for assignment in catalog.assignments:
        written.append(_release_notebook(catalog, assignment, out))
        for name in assignment.files:
            shutil.copyfile(solutions / name, out / name)
            written.append(out / name)
        written.append(_release_checks(catalog, assignment, out))
    return written


def strip_regions(source: str, functions: tuple[str, ...]) -> str:
    text = normalise_source(source)
    for name in functions:
        found = extract(text, name)
        if found.regions:
            text = splice(text, found, [placeholder_for(r.body) for r in found.regions], None)
    return text


def _release_notebook(catalog: Catalog, assignment: Assignment, out: Path) -> Path:
    nb = copy.deepcopy(catalog.scaffold(assignment))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_regions(cell.source, assignment.functions)
            cell.outputs = []
            cell.execution_count = None
            # Execution timings and widget state are the instructor's, not the student's.
            for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
                cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    path = out / assignment.notebook
    nbformat.write(nb, str(path))
    return path


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
