"""A synthetic class for the benchmark: N students, each with all three notebooks.

The mix is fixed by the number of notebooks, so every run of a given size holds the
same kinds of submission: mostly correct work, a fifth with one of the common
mistakes, a few syntax errors, unattempted notebooks and files cut short (invalid
JSON), and exactly one notebook whose region never returns (an infinite loop).
Which student gets what is drawn from ``seed``; the same seed gives byte-identical
files.

Submissions are built from the scenarios of ``tests/make_submissions.py`` (the same
mistakes the test suite pins down); each attempted notebook also carries a comment
with the student's name in every graded function's first region, so that no two
students hand in the same region text.

    .venv/bin/python bench/make_class.py --students 100 --out /tmp/class100
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import make_submissions as scenarios  # noqa: E402  (the mistake builders of the test suite)

from grader.grading.catalog import Catalog  # noqa: E402
from grader.notebook.build import splice  # noqa: E402
from grader.notebook.regions import extract, normalise_source  # noqa: E402

NOTEBOOKS = (scenarios.INIT, scenarios.GC, scenarios.OPT)
MIN_STUDENTS = 4

# Share of all notebooks per kind (at least one each); the rest are correct.
MIX = {"mistake": 0.20, "unattempted": 0.03, "syntax_error": 0.02, "invalid_json": 0.02}

# The one submission that never finishes: a while loop whose counter never moves.
TIMEOUT_FUNCTION = "initialize_velocity"
TIMEOUT = scenarios.Scenario(
    "opt_velocity_loop_never_ends", scenarios.OPT,
    "initialize_velocity loops with `while l < L` and never increments l",
    edits={(TIMEOUT_FUNCTION, 1): 'while l < L:\n'
           '    v["dW" + str(l + 1)] = np.zeros(parameters["W" + str(l + 1)].shape)\n'
           '    v["db" + str(l + 1)] = np.zeros(parameters["b" + str(l + 1)].shape)'},
)


@dataclass(frozen=True)
class Submission:
    """One notebook of the class, with the grade it must get."""

    student: str
    notebook: str  # file name, e.g. "Initialization.ipynb"
    kind: str  # correct | mistake | syntax_error | unattempted | invalid_json | timeout
    scenario: str  # the scenario it was built from
    expected_score: float
    max_score: float

    @property
    def path(self) -> str:
        return f"{self.student}/{self.notebook}"


def kind_of(scenario: scenarios.Scenario) -> str:
    if scenario.untouched:
        return "unattempted"
    if "syntax_error" in scenario.name:
        return "syntax_error"
    return "mistake" if scenario.loses else "correct"


def mix_counts(students: int) -> dict[str, int]:
    """How many notebooks of each kind a class of this size holds."""
    if students < MIN_STUDENTS:
        raise ValueError(f"a class needs at least {MIN_STUDENTS} students to hold every kind of submission")
    total = students * len(NOTEBOOKS)
    counts = {kind: max(1, round(share * total)) for kind, share in MIX.items()}
    counts["timeout"] = 1
    counts["correct"] = total - sum(counts.values())
    return counts


def student_names(students: int) -> list[str]:
    width = max(3, len(str(students)))
    return [f"student{i:0{width}d}" for i in range(1, students + 1)]


def plan_class(students: int, seed: int = 0, catalog: Catalog | None = None) -> list[Submission]:
    """Who hands in what, with each notebook's expected score; deterministic for a seed."""
    counts = mix_counts(students)
    catalog = catalog or Catalog(ROOT / "solutions")
    rng = random.Random(seed)
    slots = [(s, nb) for s in student_names(students) for nb in NOTEBOOKS]
    free = slots[:]
    rng.shuffle(free)
    chosen: dict[tuple[str, str], tuple[str, scenarios.Scenario]] = {}

    def options(notebook: str, kind: str) -> list[scenarios.Scenario]:
        if kind == "timeout":
            return [TIMEOUT] if notebook == TIMEOUT.notebook else []
        wanted = "correct" if kind == "invalid_json" else kind  # a good file, cut short
        return [s for s in scenarios.SCENARIOS if s.notebook == notebook and kind_of(s) == wanted]

    # Rare kinds first, so that each finds a notebook it can apply to.
    for kind in ("timeout", "syntax_error", "invalid_json", "unattempted", "mistake", "correct"):
        for _ in range(counts[kind]):
            slot = next(s for s in free if options(s[1], kind))
            free.remove(slot)
            candidates = options(slot[1], kind)
            weights = [4 if c.name.endswith("reference_code") else 1 for c in candidates]
            chosen[slot] = (kind, rng.choices(candidates, weights=weights)[0])

    plan = []
    for slot in slots:
        kind, scenario = chosen[slot]
        assignment = catalog.get(slot[1])
        plan.append(Submission(slot[0], slot[1], kind, scenario.name,
                               _expected_score(kind, scenario, assignment), float(assignment.points)))
    return plan


def _expected_score(kind: str, scenario: scenarios.Scenario, assignment) -> float:
    if kind in ("unattempted", "invalid_json"):
        return 0.0
    if kind == "timeout":
        lost = {c.name for c in assignment.checks_for(TIMEOUT_FUNCTION)}
    else:
        lost = set(scenario.loses)
    return float(assignment.points - sum(c.points for c in assignment.checks if c.name in lost))


class ClassWriter:
    """Turns a plan into files; reads each source notebook once."""

    def __init__(self, catalog: Catalog | None = None):
        self.catalog = catalog or Catalog(ROOT / "solutions")
        self._sources: dict[Path, nbformat.NotebookNode] = {}
        self._by_name = {s.name: s for s in (*scenarios.SCENARIOS, TIMEOUT)}

    def text(self, submission: Submission) -> str:
        """The notebook file's content, as the student hands it in."""
        scenario = self._by_name[submission.scenario]
        folder = ROOT / ("assignments" if scenario.released else "solutions")
        path = folder / scenario.notebook
        if path not in self._sources:
            self._sources[path] = nbformat.read(str(path), as_version=4)
        nb = copy.deepcopy(self._sources[path])
        scenarios._apply_edits(nb, scenario.edits)
        if not scenario.untouched:
            self._sign_regions(nb, submission)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        for transform in scenario.transforms:
            transform(nb)
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if submission.kind == "invalid_json":
            text = text[: len(text) // 3]  # a download cut short
        return text

    def _sign_regions(self, nb, submission: Submission) -> None:
        """A comment with the student's name at the top of each graded function's first region."""
        functions = self.catalog.get(submission.notebook).functions
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            text = normalise_source(cell.source)
            for function in functions:
                found = extract(text, function)
                if found.regions:
                    bodies = [r.body for r in found.regions]
                    bodies[0] = f"# {submission.student}'s work\n" + bodies[0]
                    text = splice(text, found, bodies, None)
                    cell.source = text

    def write(self, plan: list[Submission], class_dir: Path) -> list[Path]:
        paths = []
        for submission in plan:
            path = Path(class_dir) / submission.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.text(submission), encoding="utf-8")
            paths.append(path)
        return paths


def write_manifest(plan: list[Submission], path: Path) -> None:
    Path(path).write_text(json.dumps([asdict(s) for s in plan], indent=1) + "\n", encoding="utf-8")


def describe(plan: list[Submission]) -> str:
    """One line: how many notebooks of each kind."""
    counts: dict[str, int] = {}
    for s in plan:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    order = ("correct", "mistake", "syntax_error", "unattempted", "invalid_json", "timeout")
    parts = [f"{counts[k]} {k.replace('_', ' ')}" for k in order if counts.get(k)]
    students = len({s.student for s in plan})
    return f"{students} students, {len(plan)} notebooks: " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write a synthetic class and its manifest (expected scores).")
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for class/ and manifest.json")
    args = p.parse_args(argv)
    try:
        plan = plan_class(args.students, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    ClassWriter().write(plan, out / "class")
    write_manifest(plan, out / "manifest.json")
    print(describe(plan))
    print(f"written to {out / 'class'}; expected scores in {out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
