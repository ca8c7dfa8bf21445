"""One self-contained HTML report per student, rendered from result dicts.

The input is the result JSON (schema ``nbautograde.result/1``) as loaded by
``json``. Python only turns it into a plain view model in which every field
has a default, so a partial or malformed result still renders; the layout
lives in ``grader/reports/templates`` (Jinja2, autoescape on).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.core.files import safe_file_name, write_text_atomic
from grader.core.results import CheckStatus, FunctionStatus, NotebookStatus
from grader.reports.view import (
    as_dict,
    as_list,
    as_number,
    as_text,
    attempt_line,
    environment,
    format_points,
    review_line,
)

__all__ = ["render_student_report", "write_student_report", "render_check_table"]

MAX_TABLE_CELLS = 400  # bigger arrays are shown as text, not as a table
MAX_TEXT = 4000  # longest text shown for one value
# The engine writes non-finite numbers as these strings; show them like numbers.
NON_FINITE = {"nan": "nan", "inf": "inf", "-inf": "-inf", "infinity": "inf", "-infinity": "-inf"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # kernel tracebacks carry colour codes

# Known statuses and how the page names them; anything else shows as given.
RESULT_STATUS = {s.value: s.label for s in NotebookStatus}
FUNCTION_STATUS = {s.value: s.label for s in FunctionStatus}
CHECK_STATUS = {s.value: s.label for s in CheckStatus}


def render_student_report(results: list[dict], *, student: str, annotated: Sequence[str | None] = ()) -> str:
    """The HTML page for one student covering one result per assignment.

    ``annotated`` holds, per result, the relative link to its annotated notebook (or None).
    """
    page = _page(results if isinstance(results, list) else [], student, list(annotated))
    return environment().get_template("report.html.j2").render(page=page)


def render_check_table(function: str, checks: list[dict], *, problem: str = "", traceback_lines: int = 3) -> str:
    """A fragment for a notebook cell: one function's checks, as ``grader.check`` shows them.

    Styled inline (no page stylesheet: it would restyle the notebook around the cell);
    ``problem`` is why no check could run; tracebacks keep their last ``traceback_lines``.
    """
    views = []
    for raw in checks:
        view = _check(raw)
        view["traceback"] = "\n".join(view["traceback"].split("\n")[-traceback_lines:]) if view["traceback"] else ""
        views.append(view)
    return environment().get_template("check_table.html.j2").render(
        function=function, checks=views, problem=problem,
        passed=sum(c.get("status") == "passed" for c in checks),
    )


def _tolerance_words(rtol: Any, atol: Any) -> str:
    """How close counts as equal, without the words rtol and atol."""
    relative, absolute = as_number(rtol, math.nan), as_number(atol, math.nan)
    if math.isnan(relative) or math.isnan(absolute):
        return "compared with the expected value"
    if relative == 0 and absolute == 0:
        return "must match exactly"
    if relative == 0:
        return f"within {absolute:g} of the expected value"
    if absolute == 0:
        return f"within {relative:g} × the expected value"
    return f"within {absolute:g} + {relative:g} × the expected value"


def write_student_report(results: list[dict], out_dir: Path, *, student: str,
                         annotated: Sequence[str | None] = ()) -> Path:
    """Write ``<out_dir>/<student>/report.html`` and return its path."""
    path = Path(out_dir) / safe_file_name(student) / "report.html"
    return write_text_atomic(path, render_student_report(results, student=student, annotated=annotated))






# ---- view model: page and assignments -------------------------------------

def _page(results: list, student: Any, annotated: list[str | None] | None = None) -> dict:
    from markupsafe import Markup

    from grader.reports.highlight import CSS

    links = annotated or []
    assignments = [_assignment(r, n, links[n - 1] if n <= len(links) else None) for n, r in enumerate(results, 1)]
    to_fix = [(a, f) for a in assignments for f in a["functions"] if not f["all_passed"]]
    return {
        "to_fix": to_fix,
        "first_fix": to_fix[0] if to_fix else None,
        "student": as_text(student, "student"),
        "score": format_points(sum(a["score_value"] for a in assignments)),
        "max_score": format_points(sum(a["max_value"] for a in assignments)),
        "assignments": assignments,
        "code_css": Markup(CSS),
    }


def _assignment(raw: Any, number: int, annotated: str | None = None, *, with_code: bool = True) -> dict:
    """One result's view; ``with_code=False`` leaves the regions' code uncoloured (``html`` None),
    for the annotated page, which shows the student's cells instead."""
    result = as_dict(raw)
    info = as_dict(result.get("assignment"))
    score = as_number(result.get("score"))
    maximum = as_number(result.get("max_score"), as_number(info.get("max_score")))
    functions = [_function(f, f"a{number}-f{n}", with_code=with_code)
                 for n, f in enumerate(as_list(result.get("functions")), 1)]
    checks = [c for f in functions for c in f["checks"]]
    return {
        "anchor": f"assignment-{number}",
        "annotated": annotated,
        "title": as_text(info.get("title")) or as_text(info.get("slug")) or _unknown_title(result),
        "status": _status(result.get("status", "graded"), RESULT_STATUS),
        "graded": result.get("status", "graded") == "graded",
        "message": as_text(result.get("message")),
        "source": as_text(as_dict(result.get("source")).get("path")),
        "attempt": attempt_line(result.get("attempt")),
        "score_value": score,
        "max_value": maximum,
        "score": format_points(score),
        "max_score": format_points(maximum),
        "percent": min(100.0, max(0.0, 100 * score / maximum)) if maximum > 0 else 0.0,
        "checks_passed": sum(c["status"]["key"] == "passed" for c in checks),
        "checks_total": len(checks),
        "flags": [as_text(x) for x in as_list(result.get("flags"))],
        "notes": [as_text(x) for x in as_list(result.get("notes"))],
        "functions": functions,
        "adjustments": _adjustments(result.get("adjustments")),
    }


def _adjustments(raw: Any) -> dict | None:
    """Raw score, the instructor's overrides and the late penalty, when any changed the score."""
    data = as_dict(raw)
    overrides = [as_dict(o) for o in as_list(data.get("overrides"))]
    late = as_dict(data.get("late"))
    if not overrides and not late:
        return None
    return {
        "raw": format_points(as_number(data.get("raw_score"))),
        "final": format_points(as_number(data.get("final_score"))),
        "overrides": [{"target": " / ".join(x for x in (as_text(o.get("function")), as_text(o.get("check_name"))) if x)
                                 or "whole notebook",
                       "before": format_points(as_number(o.get("before"))),
                       "points": format_points(as_number(o.get("points"))),
                       "reason": as_text(o.get("reason")), "who": as_text(o.get("who")),
                       "when": as_text(o.get("made_at"))[:10]} for o in overrides],
        "late": {"text": as_text(late.get("text")), "penalty": format_points(as_number(late.get("penalty")))}
        if late else None,
    }


def _unknown_title(result: dict) -> str:
    """Name an unrecognised or unreadable submission by its file, if known."""
    path = as_text(as_dict(result.get("source")).get("path"))
    name = re.split(r"[\\/]", path)[-1]
    return f"Unknown assignment ({name})" if name else "Unknown assignment"


def _function(raw: Any, anchor: str = "", *, with_code: bool = True) -> dict:
    function = as_dict(raw)
    checks = [_check(c) for c in as_list(function.get("checks"))]
    failing = [c for c in checks if c["status"]["key"] != "passed"]
    status = _status(function.get("status"), FUNCTION_STATUS)
    hints = list(dict.fromkeys(c["hint"] for c in failing if c["hint"]))  # each hint once per function
    for check in failing:
        check["hint"] = ""  # shown once, above the function's failing checks
    return {
        "anchor": anchor,
        "all_passed": not failing and status["key"] == "ok",
        "failing": failing,
        "passing": [c for c in checks if c["status"]["key"] == "passed"],
        "passed_count": len(checks) - len(failing),
        "hints": hints,
        "first_problem": _first_problem(as_text(function.get("message")), failing),
        "lost": format_points(as_number(function.get("max_score")) - as_number(function.get("score"))),
        "name": as_text(function.get("name")) or "(unnamed function)",
        "status": status,
        "message": as_text(function.get("message")),
        "review": review_line(function),
        "score": format_points(as_number(function.get("score"))),
        "max_score": format_points(as_number(function.get("max_score"))),
        "regions": [_region(r, with_code) for r in as_list(function.get("regions"))],
        "checks": checks,
    }


def _region(raw: Any, with_code: bool = True) -> dict:
    region = as_dict(raw)
    index, where = region.get("index"), as_text(region.get("where"))
    line = re.search(r"line (\d+)$", where)  # "code cell 5, line 3": number the code from there
    return {
        "index": index if isinstance(index, int) and index > 0 else None,  # 0: the whole definition
        "where": where,
        "html": _highlight(as_text(region.get("code")), int(line.group(1)) if line else None) if with_code else None,
    }


def _highlight(code: str, first_line: int | None):
    """``highlight`` escapes the code itself; the result is safe markup."""
    from markupsafe import Markup

    from grader.reports.highlight import highlight

    return Markup(highlight(code, first_line)) if code.strip() else None


def _check(raw: Any) -> dict:
    check = as_dict(raw)
    details = [_detail(d) for d in as_list(check.get("details"))]
    return {
        "tolerance": _tolerance_words(check.get("rtol"), check.get("atol")),
        "name": as_text(check.get("name")) or "(unnamed check)",
        "status": _status(check.get("status"), CHECK_STATUS),
        "points": format_points(as_number(check.get("points"))),
        "max_points": format_points(as_number(check.get("max_points"))),
        "visibility": "hidden" if check.get("hidden") is True else "public",
        "message": _own_message(as_text(check.get("message")), details),
        "hint": as_text(check.get("hint")),
        "traceback": _traceback(check.get("traceback")),
        "details": details,
    }


def _first_problem(message: str, failing: list[dict]) -> str:
    """One line saying what went wrong first in a function: its own message or its first failing check's."""
    if message:
        return message
    for check in failing:
        said = check["message"] or next((f"{d['path']}: {d['message']}" if d["path"] else d["message"]
                                         for d in check["details"] if d["message"]), "")
        if said:
            return f"{check['name']}: {said}"
        return f"{check['name']}: {check['status']['label']}"
    return ""


def _own_message(message: str, details: list[dict]) -> str:
    """The check's message unless it only repeats what its first detail already says."""
    if details:
        first = details[0]
        said = f"{first['path']}: {first['message']}" if first["path"] else first["message"]
        if said and message.startswith(said):
            return ""
    return message


def _detail(raw: Any) -> dict:
    detail = as_dict(raw)
    cut = detail.get("truncated") is True  # a cut array would mislabel indices
    differs = _indices(detail.get("differs"))
    # A scalar has no index to list: it differs when the two sides read differently.
    scalar_differs = bool(differs) or _repr(detail.get("expected")) != _repr(detail.get("got"))
    return {
        "path": as_text(detail.get("path")),
        "message": as_text(detail.get("message")),
        "truncated": cut,
        "expected": _value(detail, "expected", differs, scalar_differs, cut),
        "got": _value(detail, "got", differs, scalar_differs, cut),
    }


# ---- view model: values as scalars, tables or text ------------------------

def _value(detail: dict, key: str, differs: set, scalar_differs: bool, cut: bool) -> dict:
    if key not in detail:
        return {"kind": "text", "text": "(not recorded)"}
    value = detail[key]
    if _is_scalar(value):
        return {"kind": "scalar", **_cell(value, scalar_differs)}
    grid = None if cut else _grid(value)
    if grid is None:
        return {"kind": "text", "text": _clip(_repr(value))}
    rows, two_d = grid
    return {
        "kind": "table",
        "two_d": two_d,
        "columns": list(range(len(rows[0]))),
        "rows": [
            [_cell(v, _index(i, j, two_d) in differs, _index(i, j, two_d)) for j, v in enumerate(row)]
            for i, row in enumerate(rows)
        ],
    }


def _grid(value: Any) -> tuple[list[list], bool] | None:
    """Rows of scalars for a 1-D or rectangular 2-D list, else None."""
    if not isinstance(value, list) or not value:
        return None
    if all(_is_scalar(v) for v in value):
        rows, two_d = [value], False
    elif all(isinstance(r, list) and r and all(_is_scalar(v) for v in r) for r in value):
        rows, two_d = value, True
        if len({len(r) for r in rows}) != 1:
            return None
    else:
        return None
    return (rows, two_d) if len(rows) * len(rows[0]) <= MAX_TABLE_CELLS else None


def _index(i: int, j: int, two_d: bool) -> tuple[int, ...]:
    return (i, j) if two_d else (j,)


def _indices(raw: Any) -> set[tuple[int, ...]]:
    """``differs`` as index tuples; a bare int means a 1-D index."""
    found: set[tuple[int, ...]] = set()
    for item in as_list(raw):
        if _is_int(item):
            found.add((item,))
        elif isinstance(item, list) and all(_is_int(i) for i in item):
            found.add(tuple(item))
    return found


def _cell(value: Any, differs: bool, index: tuple[int, ...] = ()) -> dict:
    text = _repr(value)
    # Keep full precision in a tooltip when the short form hides digits.
    lossy = isinstance(value, float) and math.isfinite(value) and float(text) != value
    return {
        "text": text,
        "full": repr(value) if lossy else None,
        "differs": differs,
        "index": ",".join(map(str, index)),
    }


def _repr(value: Any, depth: int = 0) -> str:
    """Python-like text for JSON values, short floats, bounded depth."""
    if depth > 20:
        return "…"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_repr(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_repr(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return NON_FINITE.get(value.lower(), repr(value))
    return str(value)


# ---- small coercions: never raise, always return the expected type --------







def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))






def _status(raw: Any, labels: dict[str, str]) -> dict:
    key = as_text(raw)
    return {"key": key if key in labels else "unknown", "label": labels.get(key, key or "unknown")}


def _traceback(raw: Any) -> str:
    lines = as_list(raw) if not isinstance(raw, str) else [raw]
    text = "\n".join(as_text(line).rstrip("\n") for line in lines)
    return _clip(ANSI.sub("", text))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " … (cut)"
