"""The three ways of grading the class, each run as a measured process tree."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from make_class import Submission
from measure import Measurement, run_measured

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class RunnerResult:
    """One runner's measurement on ``notebooks`` of the class's ``class_notebooks``."""

    name: str
    notebooks: int
    class_notebooks: int
    measurement: Measurement
    note: str = ""
    scores: dict = field(default_factory=dict)  # (student, notebook) -> score
    sample: list = field(default_factory=list)  # the students run, when only a sample was

    @property
    def sampled(self) -> bool:
        return self.notebooks < self.class_notebooks

    @property
    def seconds_per_notebook(self) -> float:
        return self.measurement.wall / self.notebooks

    @property
    def class_seconds(self) -> float:
        """The whole class's wall time; extrapolated when only a sample ran."""
        return self.seconds_per_notebook * self.class_notebooks

    @property
    def per_minute(self) -> float:
        return 60.0 / self.seconds_per_notebook

    @property
    def cpu_per_notebook(self) -> float:
        return self.measurement.cpu / self.notebooks

    def figures(self) -> dict:
        return {"runner": self.name, "notebooks": self.notebooks, "class_notebooks": self.class_notebooks,
                "wall": self.measurement.wall, "cpu": self.measurement.cpu, "peak_rss": self.measurement.peak_rss,
                "per_minute": self.per_minute, "cpu_per_notebook": self.cpu_per_notebook,
                "class_seconds": self.class_seconds, "extrapolated": self.sampled, "note": self.note,
                "sample": self.sample}


class GraderBroken(Exception):
    """This grader could not grade the class at all: there is nothing to compare."""


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no message"])[-1]


# ---- this grader ------------------------------------------------------------------------

def grader_command() -> list[str]:
    script = Path(sys.executable).parent / "grader"
    return [str(script)] if script.exists() else [sys.executable, "-m", "grader"]


def grade_options(help_text: str) -> tuple[list[str], str]:
    """What to add to `grader grade` given its --help, and a note on the defaults used.

    Only --force, so that a second run grades everything again instead of reusing a
    gradebook; --workers stays at its default. Not --json: the results are read from
    the files the grader writes anyway, so that the run is the one users get.
    """
    flat = " ".join(help_text.split())
    options = [o for o in ("--force",) if re.search(rf"(^|[\s\[]){o}\b", flat)]
    note = "default settings"
    workers = re.search(r"--workers \S+ [^()]*\(default: ([^)]*)\)", flat)
    if workers:
        note += f" (--workers: {workers.group(1)})"
    return options, note


def run_grader(class_dir: Path, work: Path, label: str, total: int,
               extra: tuple[str, ...] = (),
               wrap: Callable[[list[str]], list[str]] = lambda command: command) -> tuple[RunnerResult, list[dict]]:
    """`grader grade` over the class folder, into a fresh output folder of its own
    (``extra``: more options, such as ``--cluster local:2``; ``wrap`` puts the command
    inside another, a profiler, without changing it)."""
    help_text = subprocess.run([*grader_command(), "grade", "--help"], capture_output=True, text=True,
                               cwd=ROOT).stdout
    options, note = grade_options(help_text)
    slug = label.replace(" ", "")
    out = work / f"reports-{slug}"
    stdout = work / f"grader-{slug}.out"
    if extra:
        note = " ".join(extra)
    measurement = run_measured(wrap([*grader_command(), "grade", str(class_dir), "--out", str(out), *options,
                                     *extra]),
                               stdout=stdout, cwd=ROOT)
    if measurement.returncode not in (0, 1):
        raise GraderBroken(f"grader grade exited with status {measurement.returncode}: "
                           + _last_line(measurement.stderr_tail))
    results = read_results(out)
    if len(results) != total:
        raise GraderBroken(f"grader grade gave {len(results)} results for the class's {total} notebooks")
    runner = RunnerResult(f"this grader, {label}", total, total, measurement, note)
    runner.scores = {(r["student"], Path(r["source"]["path"]).name): float(r["score"]) for r in results}
    return runner, results


def read_results(out: Path) -> list[dict]:
    """The result files (schema nbautograde.result) `grader grade` wrote under ``out``."""
    results = []
    for path in sorted(out.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and str(data.get("schema", "")).startswith("nbautograde.result"):
            results.append(data)
    return results


# ---- the baselines ----------------------------------------------------------------------

def sample_students(students: list[str], size: int) -> list[str]:
    """``size`` students spread evenly over the class (every baseline gets the same ones)."""
    size = min(size, len(students))
    return [students[(i * len(students)) // size] for i in range(size)]


def run_nbgrader(plan: list[Submission], sample: list[str], class_dir: Path, work: Path, catalog,
                 venv: Path, skip_demo: bool) -> RunnerResult:
    """`nbgrader autograde` of the sampled students, one command per assignment (the timed part)."""
    from nbgrader_course import Course, ensure_nbgrader

    course = Course(work / "nbgrader-course", catalog, ensure_nbgrader(venv, ROOT), skip_demo=skip_demo)
    print("  building the nbgrader course: source notebooks, generate_assignment (not timed)", flush=True)
    course.build()
    submissions = [s for s in plan if s.student in sample]
    course.submit(class_dir, submissions)
    total: Measurement | None = None
    for i, command in enumerate(course.autograde_commands()):
        print(f"  nbgrader {' '.join(command[1:])}", flush=True)
        m = run_measured(command, stdout=work / f"nbgrader-autograde-{i}.out", cwd=course.root, env=course.env())
        total = m if total is None else total + m
    assert total is not None
    runner = RunnerResult("nbgrader autograde", len(submissions), len(plan), total, sample=sample)
    runner.scores = course.scores()
    return runner


def run_naive(plan: list[Submission], sample: list[str], class_dir: Path, work: Path, catalog,
              skip_demo: bool) -> RunnerResult:
    """Each sampled notebook as it is, through nbclient, one fresh kernel per notebook."""
    cwd = work / "naive-cwd"
    cwd.mkdir(exist_ok=True)
    for assignment in catalog.assignments:
        for name in assignment.files:
            shutil.copy2(assignment.folder / name, cwd / name)
    submissions = [s for s in plan if s.student in sample]
    command = [sys.executable, str(HERE / "naive_nbclient.py"), "--cwd", str(cwd),
               *(["--skip-demo-cells"] if skip_demo else []), *(str(class_dir / s.path) for s in submissions)]
    m = run_measured(command, stdout=work / "naive.out", cwd=cwd)
    if m.returncode != 0:
        raise RuntimeError(f"the naive runner failed: {_last_line(m.stderr_tail)}")
    return RunnerResult("naive nbclient", len(submissions), len(plan), m, sample=sample)
