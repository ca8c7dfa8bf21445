"""The versioned JSON result: the single source every report and export is rendered from."""
from __future__ import annotations

import json
from pathlib import Path

from grader import __version__
from grader.notebook.build import FunctionBuild
from grader.checks.score import total
from grader.checks.spec import Assignment, Check

SCHEMA = "nbautograde.result/1"


def check_result(
    check: Check, status: str, points: float, message: str, *, details: list | None = None,
    hint: str | None = None, traceback: list | None = None, seconds: float | None = None,
) -> dict:
    return {
        "name": check.name, "hidden": check.hidden, "description": check.description,
        "points": points, "max_points": check.points, "status": status, "message": message,
        "rtol": check.rtol, "atol": check.atol, "hint": hint, "traceback": traceback or [],
        "details": details or [], "seconds": None if seconds is None else round(float(seconds), 4),
    }


def function_result(fb: FunctionBuild, checks: list[dict]) -> dict:
    return {
        "name": fb.name, "status": fb.status, "message": fb.message,
        "score": total(checks), "max_score": total(checks, "max_points"),
        "regions": list(fb.regions), "checks": checks,
    }


def _assignment_info(catalog, assignment: Assignment) -> dict:
    return {"slug": assignment.slug, "title": assignment.title, "version": catalog.version(assignment),
            "max_score": assignment.full_points or assignment.points}


def notebook_result(catalog, assignment: Assignment, student: str, source: dict, functions: list[dict],
                    notes: list[str], flags: list[str], timing: dict) -> dict:
    return {
        "schema": SCHEMA, "grader_version": __version__,
        "assignment": _assignment_info(catalog, assignment),
        "student": student, "source": source, "mode": catalog.mode,
        "status": "graded", "message": "",
        "score": total(functions, "score"), "max_score": assignment.points,
        "functions": functions, "notes": notes, "flags": flags, "timing": timing,
    }


def failed_result(catalog, student: str, source: dict, status: str, message: str,
                  assignment: Assignment | None = None) -> dict:
    """A submission that could not be graded at all: score 0 and a one-line reason.

    ``assignment`` (when the file name tells) keeps the student's maximum right.
    """
    return {
        "schema": SCHEMA, "grader_version": __version__,
        "assignment": _assignment_info(catalog, assignment) if assignment else None,
        "student": student, "source": source, "mode": catalog.mode,
        "status": status, "message": message, "score": 0.0,
        "max_score": assignment.points if assignment else 0.0,
        "functions": [], "notes": [], "flags": [], "timing": {},
    }


def write_result(result: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path
