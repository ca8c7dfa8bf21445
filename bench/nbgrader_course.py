"""The same three assignments as an nbgrader course, for the benchmark's nbgrader run.

Layout (nbgrader's own):

    <root>/nbgrader_config.py
    <root>/source/<slug>/<Notebook>.ipynb    solution notebook, regions as nbgrader solutions,
                                             one autograder test cell per check at the end
    <root>/source/<slug>/bench_checks.py     what the test cells call (nbgrader_checks.py)
    <root>/source/<slug>/bench_checks.npz    each check's inputs and the reference outputs
    <root>/release/<slug>/...                written by `nbgrader generate_assignment`
    <root>/submitted/<student>/<slug>/<Notebook>.ipynb
    <root>/autograded/...                    written by `nbgrader autograde`

Test cells sit at the end of each notebook, in the spec's order, worth the check's
points; hidden checks are nbgrader hidden tests. A student's submission becomes an
nbgrader submission by marking the cells that define graded functions as solution
cells and appending the released test cells, as a student working from nbgrader's
release would have them. A file that is not a notebook is handed in as it is.

This is a benchmark course: the data file with hidden inputs is not kept from the
release.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat

from grader.checks.spec import Assignment, Check
from grader.core.codec import encode, write_npz
from grader.grading.catalog import Catalog
from grader.notebook.regions import END, START, normalise_source

HERE = Path(__file__).resolve().parent
CHECKS_MODULE = "bench_checks"
GRADED = re.compile(r"^#\s*GRADED FUNCTION:\s*(\w+)", re.M)


def is_demo(cell) -> bool:
    return "demo" in cell.get("metadata", {}).get("tags", [])


def solution_metadata(grade_id: str) -> dict:
    return {"grade": False, "solution": True, "locked": False, "grade_id": grade_id, "schema_version": 3}


def test_metadata(check: Check) -> dict:
    return {"grade": True, "solution": False, "locked": True, "points": check.points,
            "grade_id": f"test_{check.name}", "schema_version": 3}


def wrap_regions(source: str) -> str:
    """Put nbgrader's solution delimiters just inside each of our region markers."""
    out = []
    for line in normalise_source(source).split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        if END.match(line):
            out.append(indent + "### END SOLUTION")
        out.append(line)
        if START.match(line):
            out.append(indent + "### BEGIN SOLUTION")
    return "\n".join(out)


def test_cell(check: Check) -> nbformat.NotebookNode:
    kind = "hidden" if check.hidden else "public"
    call = f"run_check({check.name!r}, globals())"
    body = f"### BEGIN HIDDEN TESTS\n{call}\n### END HIDDEN TESTS" if check.hidden else call
    source = f"# check {check.name}: {check.points:g} points ({kind})\nfrom {CHECKS_MODULE} import run_check\n{body}"
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = test_metadata(check)
    return cell


def source_notebook(assignment: Assignment, solution: nbformat.NotebookNode, *,
                    skip_demo: bool = False) -> nbformat.NotebookNode:
    """The nbgrader source notebook: solution cells marked, one test cell per check appended."""
    nb = copy.deepcopy(solution)
    if skip_demo:
        nb.cells = [c for c in nb.cells if not is_demo(c)]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(START.match(l) for l in cell.source.split("\n")):
            named = GRADED.search(cell.source)
            cell.source = wrap_regions(cell.source)
            cell.metadata["nbgrader"] = solution_metadata(named.group(1) if named else f"solution_{index}")
    nb.cells += [test_cell(c) for c in assignment.checks]
    return nb


def check_data(assignment: Assignment, expected: dict) -> dict:
    """Per check: the calls it makes (itself, then its twin if any) with inputs and reference outputs."""
    data = {}
    for check in assignment.checks:
        twin = check.twin_check() if hasattr(check, "twin_check") else None
        runs = []
        for run in (check, twin):
            if run is None:
                continue
            if run.project is not None and not isinstance(run.project, str):
                raise RuntimeError(f"check {run.name}: a projection written in the spec cannot run in a test cell")
            runs.append({"name": run.name, "function": run.function, "kwargs": assignment.resolve(run.inputs)(),
                         "seed": run.seed, "observe": list(run.observe), "project": run.project,
                         "returns": list(run.returns), "rtol": run.rtol, "atol": run.atol,
                         "expected": expected[run.name].value})
        data[check.name] = runs
    return data


def submission_text(text: str, assignment: Assignment, released: nbformat.NotebookNode, *,
                    skip_demo: bool = False) -> str:
    """A student's notebook as nbgrader expects it: solution cells marked, released test cells appended."""
    try:
        with warnings.catch_warnings():  # e.g. duplicate cell ids: the student's file, nbgrader's concern
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception:  # not a notebook: nbgrader gets it as the student handed it in
        return text
    if skip_demo:
        nb.cells = [c for c in nb.cells if not is_demo(c)]
    unmarked = list(assignment.functions)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code = normalise_source(cell.source)
        found = next((f for f in unmarked if re.search(rf"^\s*def\s+{re.escape(f)}\s*\(", code, re.M)), None)
        if found:
            cell.metadata["nbgrader"] = solution_metadata(found)
            unmarked.remove(found)
    for cell in released.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            added = copy.deepcopy(cell)
            if nb.nbformat_minor < 5:  # cell ids arrived with nbformat 4.5
                added.pop("id", None)
            nb.cells.append(added)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


class Course:
    """An nbgrader course directory for the catalog's assignments, driven by one nbgrader executable."""

    def __init__(self, root: Path, catalog: Catalog, nbgrader: Path, *, skip_demo: bool = False):
        self.root = Path(root)
        self.catalog = catalog
        self.nbgrader = Path(nbgrader)
        self.skip_demo = skip_demo

    def slug_of(self, notebook: str) -> str:
        return self.catalog.get(notebook).slug

    def build(self) -> None:
        """Write the source folders and run `nbgrader generate_assignment` for each assignment."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.root = {str(self.root)!r}\n"
            "c.Execute.timeout = 30  # seconds per cell, as this project's grader\n",
            encoding="utf-8")
        for assignment in self.catalog.assignments:
            folder = self.root / "source" / assignment.slug
            folder.mkdir(parents=True, exist_ok=True)
            solution = nbformat.read(str(assignment.folder / assignment.notebook), as_version=4)
            nbformat.write(source_notebook(assignment, solution, skip_demo=self.skip_demo),
                           str(folder / assignment.notebook))
            for name in assignment.files:
                shutil.copy2(assignment.folder / name, folder / name)
            shutil.copy2(HERE / "nbgrader_checks.py", folder / f"{CHECKS_MODULE}.py")
            arrays: list = []
            skeleton = {name: [dict(run, kwargs=encode(run["kwargs"], arrays), expected=encode(run["expected"], arrays))
                               for run in runs]
                        for name, runs in check_data(assignment, self.catalog.expected(assignment)).items()}
            write_npz(str(folder / f"{CHECKS_MODULE}.npz"), skeleton, arrays)
            self._run(["generate_assignment", assignment.slug, "--force"])

    def submit(self, class_dir: Path, submissions) -> None:
        """Place each submission (student, notebook) under submitted/<student>/<slug>/."""
        released = {a.slug: nbformat.read(str(self.root / "release" / a.slug / a.notebook), as_version=4)
                    for a in self.catalog.assignments}
        for s in submissions:
            assignment = self.catalog.get(s.notebook)
            text = (Path(class_dir) / s.student / s.notebook).read_text(encoding="utf-8")
            target = self.root / "submitted" / s.student / assignment.slug / assignment.notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(submission_text(text, assignment, released[assignment.slug],
                                              skip_demo=self.skip_demo), encoding="utf-8")

    def env(self) -> dict[str, str]:
        """nbgrader runs helpers (alembic) found on PATH: put its environment's bin first."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(self.nbgrader.parent), env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(self.nbgrader.parent.parent)
        return env

    def autograde_commands(self) -> list[list[str]]:
        """One `nbgrader autograde` per assignment, as an instructor runs them."""
        return [[str(self.nbgrader), "autograde", a.slug] for a in self.catalog.assignments]

    def scores(self) -> dict[tuple[str, str], float]:
        """(student, notebook file) -> score, from `nbgrader export` (a failed notebook is absent)."""
        out = self.root / "grades.csv"
        self._run(["export", "--to", str(out)])
        by_slug = {a.slug: a.notebook for a in self.catalog.assignments}
        with open(out, newline="", encoding="utf-8") as fh:
            return {(row["student_id"], by_slug[row["assignment"]]): float(row["score"] or 0)
                    for row in csv.DictReader(fh) if row["assignment"] in by_slug}

    def _run(self, args: list[str]) -> None:
        done = subprocess.run([str(self.nbgrader), *args], cwd=self.root, env=self.env(),
                              capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"nbgrader {args[0]} failed: {last}")


def ensure_nbgrader(venv: Path, project: Path) -> Path:
    """nbgrader's executable in the benchmark's own environment; creates it on first use.

    nbgrader brings jupyter-server and friends, which slow down `import nbformat` for
    everyone in an environment; so it never goes into the project's own venv.
    """
    nbgrader = Path(venv) / "bin" / "nbgrader"
    if not nbgrader.exists():
        install_bench_extra(venv, project)
    return nbgrader


def install_bench_extra(venv: Path, project: Path) -> None:
    """Create ``venv`` if need be and install the project's ``bench`` extra into it (nbgrader,
    psutil, py-spy): once, about a minute; a later extra's new member is added the same way."""
    print(f"setting up {venv} with the bench extra (nbgrader, psutil, py-spy); once, about a minute", flush=True)
    python = Path(venv) / "bin" / "python"
    steps = [] if python.exists() else [[sys.executable, "-m", "venv", str(venv)]]
    steps.append([str(python), "-m", "pip", "install", "-q", "-e", f"{project}[bench]"])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"could not set up {venv}: {last}")
