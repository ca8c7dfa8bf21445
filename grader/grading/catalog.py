"""Where assignments come from, and which one a notebook belongs to.

Two sources, one shape:

* instructor mode: a folder of solution notebooks, each with ``<Notebook stem>.checks.py``;
  expected outputs come from a reference run of the solution, cached per version;
* student mode: the released ``assignments/`` folder, whose ``checks/<stem>.json`` holds the
  public checks and their expected outputs; nothing from ``solutions/`` is needed.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from nbformat import NotebookNode

from grader import __version__
from grader.checks.spec import Assignment, Check, Expected, ModuleLoader
from grader.core.codec import decode
from grader.core.errors import AssignmentError, GraderError, UnknownName, UsageError
from grader.notebook.build import ScaffoldFacts, scaffold_facts
from grader.notebook.reader import code_cells, read_notebook
from grader.notebook.regions import normalise_source

RELEASED_CHECKS_DIR = "checks"


def assignment_version(assignment: Assignment) -> str:
    """Changes whenever anything that decides a grade changes."""
    assert assignment.folder is not None
    digest = hashlib.sha256(__version__.encode())
    spec_file = assignment.folder / f"{Path(assignment.notebook).stem}.checks.py"
    for name in (assignment.notebook, spec_file.name, *assignment.files):
        path = assignment.folder / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def load_spec(spec_path: Path, modules: ModuleLoader) -> Assignment:
    """The spec's ``ASSIGNMENT``, its builders imported by ``modules`` (the catalog's loader).

    A spec that does not run (a syntax error, a failing import) is the instructor's to fix:
    one line naming the file and the error, never a traceback.
    """
    try:
        module = modules.load(spec_path)
    except GraderError:
        raise
    except Exception as exc:  # the spec is the instructor's own Python: anything can go wrong in it
        where = f", line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise AssignmentError(f"{spec_path}{where}: the check specification does not load "
                              f"({type(exc).__name__}: {detail})") from None
    assignment = getattr(module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise AssignmentError(f"{spec_path.name} does not define ASSIGNMENT = Assignment(...)")
    return replace(assignment, folder=spec_path.parent, modules=modules)


def load_released(json_path: Path) -> tuple[Assignment, dict[str, Expected], str]:
    """An assignment rebuilt from released data: public checks only."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    meta = data["assignment"]
    checks, expected = [], {}
    for item in data["checks"]:
        checks.append(Check(
            name=item["name"], function=item["function"], points=item["points"],
            inputs=item["inputs"], rtol=item["rtol"], atol=item["atol"],
            description=item.get("description", ""), project=item.get("project"),
            observe=tuple(item.get("observe", ())), partial=item.get("partial", False),
            seed=item.get("seed"), returns=tuple(item.get("returns", ())),
            uses=tuple(item["uses"]) if "uses" in item else None,
        ))
        expected[item["name"]] = Expected(
            decode(item["expected"], None),
            tuple((h["message"], decode(h["output"], None)) for h in item.get("hints", [])),
        )
    assignment = Assignment(
        slug=meta["slug"], title=meta["title"], notebook=meta["notebook"],
        points=sum(c.points for c in checks), checks=tuple(checks), files=tuple(meta["files"]),
        cell_timeout=meta.get("cell_timeout", 10.0), folder=json_path.parent.parent,
        full_points=meta["points"],
    )
    return assignment, expected, meta["version"]


class Catalog:
    """The assignments a run can grade, with their scaffolds and expected outputs.

    Everything prepared per assignment belongs to the catalog: the spec modules and the
    support files they import (``modules``), scaffolds, their facts, expected outputs.
    ``close()`` (or ``with``) lets them go; nothing is kept at module level.
    """

    def __init__(self, folder: Path, *, cache_dir: Path | None = None):
        self.folder = Path(folder)
        self.cache_dir = cache_dir
        self.modules = ModuleLoader()
        self._released: dict[str, tuple[dict[str, Expected], str]] = {}
        self._expected: dict[str, dict[str, Expected]] = {}
        self._scaffolds: dict[str, NotebookNode] = {}
        self._facts: dict[str, ScaffoldFacts] = {}
        specs = sorted(self.folder.glob("*.checks.py"))
        if specs:
            self.mode = "instructor"
            self.assignments = [load_spec(p, self.modules) for p in specs]
        else:
            self.mode = "student"
            self.assignments = []
            for path in sorted((self.folder / RELEASED_CHECKS_DIR).glob("*.json")):
                assignment, expected, version = load_released(path)
                self.assignments.append(replace(assignment, modules=self.modules))
                self._released[assignment.slug] = (expected, version)
        if not self.assignments:
            raise UsageError(
                f"no assignments in {self.folder}: expected '*.checks.py' specs (solutions) "
                f"or '{RELEASED_CHECKS_DIR}/*.json' (released assignments)"
            )

    def close(self) -> None:
        """Let go of what the catalog prepared; its assignments' builders cannot be imported after."""
        self.modules.close()
        self._scaffolds.clear()
        self._facts.clear()
        self._expected.clear()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, slug: str) -> Assignment:
        for a in self.assignments:
            if a.slug == slug or a.notebook == slug or Path(a.notebook).stem == slug:
                return a
        raise UnknownName(f"no assignment {slug!r}; known: {', '.join(a.slug for a in self.assignments)}")

    def version(self, assignment: Assignment) -> str:
        if assignment.slug in self._released:
            return self._released[assignment.slug][1]
        return assignment_version(assignment)

    def scaffold(self, assignment: Assignment) -> NotebookNode:
        """The notebook regions are spliced into; read once per catalog, so never edit it in place."""
        assert assignment.folder is not None
        if assignment.slug not in self._scaffolds:
            self._scaffolds[assignment.slug] = read_notebook(assignment.folder / assignment.notebook)
        return self._scaffolds[assignment.slug]

    def scaffold_facts(self, assignment: Assignment) -> ScaffoldFacts:
        """What every build of this assignment needs from its scaffold, worked out once."""
        if assignment.slug not in self._facts:
            self._facts[assignment.slug] = scaffold_facts(assignment, self.scaffold(assignment))
        return self._facts[assignment.slug]

    def expected(self, assignment: Assignment) -> dict[str, Expected]:
        if assignment.slug in self._released:
            return self._released[assignment.slug][0]
        if assignment.slug not in self._expected:
            from grader.grading.reference import reference_outputs  # runs a kernel: only when needed

            self._expected[assignment.slug] = reference_outputs(
                assignment, self.scaffold(assignment), self.version(assignment), self.cache_dir
            )
        return self._expected[assignment.slug]

    def guess_from_name(self, filename: str) -> Assignment | None:
        """For a file that cannot be read: 'Optimization_methods (1).ipynb' → Optimization methods."""
        squashed = _squash(filename)
        return next((a for a in self.assignments if _squash(Path(a.notebook).stem) in squashed), None)

    def recognise(self, nb: NotebookNode) -> tuple[Assignment | None, str]:
        """The assignment whose graded functions the notebook defines most of."""
        text = normalise_source("\n".join(code_cells(nb)))
        best, best_count = None, 0
        for assignment in self.assignments:
            count = sum(
                1 for f in assignment.functions
                if re.search(rf"^\s*def\s+{re.escape(f)}\s*\(", text, re.M)
            )
            if count > best_count:
                best, best_count = assignment, count
        if best is None:
            titles = ", ".join(a.title for a in self.assignments)
            return None, f"this notebook defines none of the graded functions of {titles}"
        return best, ""


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
