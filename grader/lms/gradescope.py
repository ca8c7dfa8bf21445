"""Gradescope: the entry that grades inside Gradescope's container, and the autograder zip.

Inside the container Gradescope puts the student's files in ``/autograder/submission``
and reads ``/autograder/results/results.json`` when ``run_autograder`` ends. ``run`` grades
every notebook found there against the packaged solutions and always leaves a valid
results file behind, whatever goes wrong. ``package`` builds the zip Gradescope builds its
image from. See docs/lms-export.md.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

from grader.core.errors import UsageError
from grader.core.files import write_atomic, write_text_atomic
from grader.core.results import status_of

DEFAULT_ROOT = "/autograder"
ROOT_VARIABLE = "AUTOGRADER_ROOT"  # lets tests (and a dry run on a laptop) use another folder
HIDDEN_VISIBILITY = "after_published"  # hidden checks show once the instructor publishes grades
PUBLIC_VISIBILITY = "visible"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DETAILS_SHOWN = 3


# --- results.json ----------------------------------------------------------------------------

def check_test(result: dict, function: dict, check: dict) -> dict:
    """One Gradescope test per check."""
    lines = [check["description"]] if check.get("description") else []
    if check["message"]:
        lines.append(check["message"])
    elif check["status"] != "passed":
        lines.append(check["status"].replace("_", " "))
    details = [f"{d['path']}: {d['message']}" for d in check.get("details", [])[:DETAILS_SHOWN] if d.get("message")]
    lines += [f"  {line}" for line in details if line not in check["message"]]  # the message often is the first
    if check.get("hint"):
        lines.append(f"Hint: {check['hint']}")
    lines += [ANSI_ESCAPE.sub("", line) for line in check.get("traceback", [])]
    return {
        "name": f"{result['assignment']['title']} / {function['name']} / {check['name']}",
        "score": check["points"], "max_score": check["max_points"],
        "status": "passed" if check["status"] == "passed" else "failed",
        "output": "\n".join(lines),
        "visibility": HIDDEN_VISIBILITY if check["hidden"] else PUBLIC_VISIBILITY,
    }


def notebook_test(title: str, max_score: float, output: str) -> dict:
    """Stands in for an assignment's checks when its notebook could not be graded or is missing."""
    return {"name": f"{title} / notebook", "score": 0.0, "max_score": max_score, "status": "failed",
            "output": output, "visibility": PUBLIC_VISIBILITY}


def gradescope_results(results: list[dict], missing: list[tuple[str, float]], notes: list[str],
                       seconds: float) -> dict:
    """results.json from grading results; ``missing`` lists (title, points) of absent notebooks."""
    tests, summary = [], []
    for result in results:
        name = Path(result["source"]["path"]).name
        assignment = result.get("assignment") or {}
        title = assignment.get("title", name)
        if result["status"] == "graded":
            tests += [check_test(result, f, c) for f in result["functions"] for c in f["checks"]]
            summary.append(f"{title}: {result['score']:g} / {result['max_score']:g}")
            summary += [f"  note: {n}" for n in result.get("flags", []) + result.get("notes", [])]
        else:
            reason = f"{name}: {result['message']}"
            if not status_of(result).counts:
                reason += "\nThe grader failed, not your notebook: ask your instructor to run the autograder again."
            tests.append(notebook_test(title, assignment.get("max_score", 0), reason))
            summary.append(f"{title}: 0 / {assignment.get('max_score', 0):g} ({name}: {result['message']})")
    for title, points in missing:
        message = f"No notebook of {title} was found in the submission."
        tests.append(notebook_test(title, points, message))
        summary.append(f"{title}: 0 / {points:g} ({message})")
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "execution_time": round(seconds),
        "output": "\n".join(summary + notes),
        "stdout_visibility": "hidden",  # the log is for the instructor
        "tests": tests,
    }


def crash_results(reason: str, seconds: float) -> dict:
    return {
        "score": 0.0, "execution_time": round(seconds),
        "output": f"The autograder could not grade this submission ({reason}). "
                  "Nothing was scored; please tell your instructor.",
        "stdout_visibility": "hidden", "tests": [],
    }


def submitted_notebooks(folder: Path) -> list[Path]:
    """Every .ipynb under the submission, leaving out hidden folders and macOS zip debris."""
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part.startswith(".") or part == "__MACOSX" for part in p.relative_to(folder).parts))


def grade_submission(submission: Path, solutions: Path) -> dict:
    """results.json for one Gradescope submission: one notebook graded per assignment.

    Raises only when the assignment side is broken; ``run`` turns that into a crash result.
    """
    from grader.grading.catalog import Catalog
    from grader.grading.grade import grade_notebook

    started = time.monotonic()
    catalog = Catalog(solutions)
    if catalog.mode != "instructor":
        raise UsageError(f"{solutions} holds no check specifications (*.checks.py)")
    chosen, unknown, notes = _pick(submitted_notebooks(submission) if submission.is_dir() else [], catalog)
    results = [grade_notebook(path, catalog, assignment=slug, student="submission").to_dict()
               for slug, path in chosen.items()]
    for path in unknown:  # unreadable or unrecognised: counts only where it is the assignment's one notebook
        result = grade_notebook(path, catalog, student="submission")
        slug = result.assignment.slug if result.assignment else None
        if slug and slug not in chosen:
            chosen[slug] = path
            results.append(result.to_dict())
        else:
            notes.append(f"{path.name} was not graded: {result.message or 'another notebook was graded instead'}")
    missing = [(a.title, a.full_points or a.points) for a in catalog.assignments if a.slug not in chosen]
    if not chosen:
        notes.append("No notebook could be graded: the submission holds no .ipynb file of these assignments.")
    return gradescope_results(results, missing, notes, time.monotonic() - started)


def _pick(paths: list[Path], catalog) -> tuple[dict[str, Path], list[Path], list[str]]:
    """The first notebook of each assignment; the ones that cannot be read or recognised apart."""
    from grader.notebook.reader import ReadError, read_notebook

    chosen: dict[str, Path] = {}
    unknown, notes = [], []
    for path in paths:
        try:
            found, _ = catalog.recognise(read_notebook(path))
        except ReadError:
            found = None
        if found is None:
            unknown.append(path)
        elif found.slug in chosen:
            notes.append(f"{path.name} was not graded: {chosen[found.slug].name} is already a notebook of {found.title}")
        else:
            chosen[found.slug] = path
    return chosen, unknown, notes


def write_results(results: dict, path: Path) -> None:
    write_text_atomic(path, json.dumps(results, indent=1, ensure_ascii=False))


def run(submission: Path, results_path: Path, solutions: Path) -> dict:
    """Grade and write results.json; any failure becomes a valid file with score 0 and the reason."""
    started = time.monotonic()
    try:
        results = grade_submission(submission, solutions)
    except Exception as exc:  # anything at all: Gradescope must still get a results file
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        print(f"error: grading crashed: {reason}", file=sys.stderr)
        results = crash_results(reason, time.monotonic() - started)
    write_results(results, results_path)
    return results


# --- the autograder zip ------------------------------------------------------------------------

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
if ! python3 -m venv "$ROOT/venv"; then  # Ubuntu ships venv support separately
    apt-get install -y python3-venv python3-pip
    python3 -m venv "$ROOT/venv"
fi
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet "$SOURCE/nbautograde"
# Compute any reference outputs the zip does not already hold, so no submission waits for them.
"$ROOT/venv/bin/python" -m grader gradescope warm --solutions "$SOURCE/solutions"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it always leaves results/results.json behind.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${GRADER_PYTHON:-$ROOT/venv/bin/python}"
export PYTHONPATH="$ROOT/source/nbautograde${PYTHONPATH:+:$PYTHONPATH}"  # the zip's own copy of the grader
rm -f "$ROOT/results/results.json"
"$PY" -m grader gradescope --root "$ROOT"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then  # Python itself could not start
    mkdir -p "$ROOT/results"
    printf '{"score": 0.0, "output": "The autograder could not start (exit status %s); please tell your instructor.", "tests": []}\\n' "$status" > "$ROOT/results/results.json"
fi
"""  # noqa: E501 (a shell line with the JSON it writes)

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "nbautograde"
version = "{version}"
requires-python = ">=3.10"
dependencies = [{dependencies}]

[project.scripts]
grader = "grader.cli:main"

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
grader = ["py.typed"]
"grader.reports" = ["templates/*"]
"""

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip


def package(solutions: Path, out: Path, *, assignment: str | None = None, warm: bool = True) -> list[str]:
    """Write the autograder zip; returns the names it holds.

    ``assignment`` limits the zip to one assignment (one Gradescope assignment per notebook);
    ``warm`` computes missing reference outputs first, so the zip carries them.
    """
    from grader.grading.catalog import Catalog

    solutions = Path(solutions)
    catalog = Catalog(solutions)
    if catalog.mode != "instructor":
        raise UsageError(f"{solutions} holds no check specifications (*.checks.py)")
    chosen = [catalog.get(assignment)] if assignment else catalog.assignments
    entries: dict[str, bytes] = {"setup.sh": SETUP_SH.encode(), "run_autograder": RUN_AUTOGRADER.encode(),
                                 "nbautograde/pyproject.toml": _pyproject().encode()}
    for a in chosen:
        if warm:
            catalog.expected(a)
        for name in (a.notebook, f"{Path(a.notebook).stem}.checks.py", *a.files):
            entries[f"solutions/{name}"] = (solutions / name).read_bytes()
        cache = (catalog.cache_dir or solutions / ".grader-cache") / f"{a.slug}-{catalog.version(a)}.npz"
        if cache.is_file():  # named as reference.py names it
            entries[f"solutions/.grader-cache/{cache.name}"] = cache.read_bytes()
    package_dir = Path(__file__).parents[1]  # the grader package
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries[f"nbautograde/grader/{path.relative_to(package_dir).as_posix()}"] = path.read_bytes()
    _write_zip(entries, Path(out))
    return sorted(entries)


def _pyproject() -> str:
    requirements = importlib.metadata.requires("nbautograde") or []
    wanted = [r for r in requirements if "extra ==" not in r]
    return PYPROJECT.format(version=importlib.metadata.version("nbautograde"),
                            dependencies=", ".join(json.dumps(r) for r in wanted))


def _write_zip(entries: dict[str, bytes], out: Path) -> None:
    def write(part: Path) -> None:
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                executable = name in ("setup.sh", "run_autograder")
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[name])

    write_atomic(out, write)


def warm(solutions: Path) -> None:
    """Compute (and cache) the reference outputs of every assignment in ``solutions``."""
    from grader.grading.catalog import Catalog

    catalog = Catalog(Path(solutions))
    for a in catalog.assignments:
        catalog.expected(a)


# --- command line ------------------------------------------------------------------------------

def add_parser(sub) -> None:
    """``grader gradescope`` (grade inside the container), ``… package`` and ``… warm``."""
    g = sub.add_parser("gradescope", help="Gradescope: grade inside its container, or build the autograder zip",
                       description="Without a subcommand: grade the submission inside Gradescope's container.")
    g.add_argument("--root", default=None,
                   help=f"Gradescope's folder (default: ${ROOT_VARIABLE}, else {DEFAULT_ROOT})")
    g.add_argument("--submission", help="folder with the student's files (default: ROOT/submission)")
    g.add_argument("--results", help="results file to write (default: ROOT/results/results.json)")
    g.add_argument("--solutions", help="instructor folder (default: ROOT/source/solutions)")
    g.set_defaults(run=cmd_run, parser=g)
    actions = g.add_subparsers(dest="action", metavar="{package,warm}")

    p = actions.add_parser("package", help="build the autograder zip to upload to Gradescope")
    p.add_argument("--solutions", dest="package_solutions", default="solutions",
                   help="instructor folder (default: solutions)")
    p.add_argument("--out", default="autograder.zip", help="zip to write (default: autograder.zip)")
    p.add_argument("--assignment", help="only this assignment (one Gradescope assignment per notebook)")
    p.add_argument("--no-warm", action="store_true",
                   help="do not compute missing reference outputs first (setup.sh will, on Gradescope)")
    p.set_defaults(run=cmd_package, parser=p)

    w = actions.add_parser("warm", help="compute the reference outputs (setup.sh runs this)")
    w.add_argument("--solutions", dest="package_solutions", default="solutions",
                   help="instructor folder (default: solutions)")
    w.set_defaults(run=cmd_warm, parser=w)


def cmd_run(args: argparse.Namespace) -> int:
    root = Path(args.root or os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT)
    results_path = Path(args.results or root / "results" / "results.json")
    results = run(Path(args.submission or root / "submission"), results_path,
                  Path(args.solutions or root / "source" / "solutions"))
    print(f"score {results['score']:g}, {len(results['tests'])} tests → {results_path}")
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    out = Path(args.out)
    names = package(Path(args.package_solutions), out, assignment=args.assignment, warm=not args.no_warm)
    caches = [n for n in names if n.startswith("solutions/.grader-cache/")]
    print(f"{out}: {len(names)} files, {len(caches)} cached reference outputs")
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    warm(Path(args.package_solutions))
    return 0
