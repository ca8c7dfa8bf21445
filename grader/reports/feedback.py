"""Feedback a student can be handed: the report without what would teach the hidden checks.

A hidden check exists to catch hard-coded answers and special cases, so its inputs, its
expected values and what the student's code returned on them must not leave the
instructor's side. How much of a hidden check the feedback shows is the ``reveal`` level:

* ``none``: the hidden checks of a function are one line: how many passed, and their points;
* ``message``: each hidden check with its name, pass or fail, points and a plain message that
  names the kind of problem (a wrong value, an exception's type, a timeout), never a value;
* ``full``: everything, as in the instructor's report.

Public checks are shown in full at every level: the student has their inputs already.
Each assignment sets its level (``Assignment(feedback=...)``, default ``message``);
``grader feedback --reveal`` sets it for a whole run.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from grader.core.files import safe_file_name, write_text_atomic
from grader.core.results import CheckStatus

REVEAL_LEVELS = ("none", "message", "full")
DEFAULT_REVEAL = "message"

_PLAIN = {
    CheckStatus.PASSED: "passed",
    CheckStatus.FAILED: "the output differs from the expected one on the hidden inputs",
    CheckStatus.TIMEOUT: "did not finish in time on the hidden inputs",
    CheckStatus.NOT_ATTEMPTED: "not attempted",
}


def redact(result: dict, reveal: str) -> dict:
    """A copy of one result (its JSON form) with hidden checks shown at ``reveal``."""
    if reveal not in REVEAL_LEVELS:
        raise ValueError(f"unknown reveal level {reveal!r}; choose one of {', '.join(REVEAL_LEVELS)}")
    shown = copy.deepcopy(result)
    if reveal == "full":
        return shown
    for function in shown.get("functions") or []:
        public: list[dict] = []
        hidden: list[dict] = []
        for check in function.get("checks") or []:
            (hidden if check.get("hidden") else public).append(check)
        if reveal == "message":
            function["checks"] = public + [_plain(c) for c in hidden]
        else:
            function["checks"] = public + ([_summed(hidden)] if hidden else [])
    return shown


def _plain(check: dict) -> dict:
    status = _status(check)
    if status is CheckStatus.ERROR:
        # The exception's type only: its text may quote an input or a value.
        kind = str(check.get("message", "")).split(":", 1)[0].strip() or "an error"
        message = f"raised {kind} on the hidden inputs" if kind.isidentifier() else "raised an error on the hidden inputs"
    else:
        message = _PLAIN.get(status, "") if status is not None else ""
    return {
        "name": check.get("name", ""), "hidden": True, "description": "", "points": check.get("points", 0),
        "max_points": check.get("max_points", 0), "status": check.get("status"), "message": message,
        "rtol": check.get("rtol"), "atol": check.get("atol"), "hint": None, "traceback": [], "details": [],
        "seconds": None,
    }


def _summed(hidden: list[dict]) -> dict:
    passed = sum(_status(c) is CheckStatus.PASSED for c in hidden)
    points = sum(float(c.get("points") or 0) for c in hidden)
    worth = sum(float(c.get("max_points") or 0) for c in hidden)
    everything = passed == len(hidden)
    return {
        "name": "hidden checks", "hidden": True, "description": "",
        "points": points, "max_points": worth, "status": "passed" if everything else "failed",
        "message": f"{passed} of {len(hidden)} hidden checks pass", "rtol": None, "atol": None,
        "hint": None, "traceback": [], "details": [], "seconds": None,
    }


def _status(check: dict) -> CheckStatus | None:
    try:
        return CheckStatus(check.get("status"))
    except ValueError:
        return None


def write_feedback(results: list[dict], out_dir: Path, *, student: str, reveal_of: dict[str, str]) -> Path:
    """``<out_dir>/<student>/feedback.html`` and ``feedback.json`` for one student.

    ``reveal_of`` maps an assignment's slug to its reveal level (``DEFAULT_REVEAL`` if absent).
    """
    from grader.reports.render import render_student_report

    shown = [redact(r, reveal_of.get((r.get("assignment") or {}).get("slug", ""), DEFAULT_REVEAL))
             for r in results]
    folder = Path(out_dir) / safe_file_name(student)
    write_text_atomic(folder / "feedback.json", json.dumps(shown, indent=1, default=str))
    links = _annotated_notebooks(shown, folder)
    return write_text_atomic(folder / "feedback.html", render_student_report(shown, student=student, annotated=links))


def _annotated_notebooks(shown: list[dict], folder: Path) -> list[str | None]:
    """Each redacted result's notebook, annotated, beside the feedback page; its link, or None
    where the notebook handed in is no longer where it was graded from or cannot be read."""
    from grader.reports.annotated import AnnotatedRenderer, annotated_name

    renderer = AnnotatedRenderer()
    links: list[str | None] = []
    used: set[str] = set()
    for number, result in enumerate(shown, 1):
        where = (result.get("source") or {}).get("path")
        notebook = Path(where) if isinstance(where, str) and where else None
        html = renderer.render(notebook, result, report_href="feedback.html") \
            if notebook is not None and notebook.is_file() else None
        if html is None or notebook is None:
            links.append(None)
            continue
        name = annotated_name(safe_file_name(notebook.stem))
        if name in used:  # two notebooks of one name: number the second
            name = annotated_name(safe_file_name(f"{notebook.stem}-{number}"))
        used.add(name)
        links.append(write_text_atomic(folder / name, html).name)
    return links
