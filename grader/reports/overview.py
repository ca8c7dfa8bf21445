"""The class overview: one HTML page for the instructor, written after every run.

It sums up a class from the student records: size and average, a chart of the
total scores, how often each graded function and each check passed (hardest
first), the submissions that could not be graded or timed out, and a sortable
list of students linking to their reports. Everything is inline (CSS, the SVG
chart, a few lines of JavaScript), so the page works from a file:// URL.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader.checks.spec import Assignment
from grader.core.files import safe_file_name
from grader.core.records import ClassRecord
from grader.core.results import NotebookStatus
from grader.reports.view import (
    as_dict,
    as_list,
    as_number,
    as_text,
    attempt_line,
    environment,
    format_points,
    review_list,
)

__all__ = ["write_overview", "render_overview", "overview_model", "score_chart_svg", "report_link"]

# A check or function whose pass rate is below HARD is coloured as hard, below EASY as medium.
HARD, EASY = 0.5, 0.8
CHART_BINS = 10  # the chart groups total scores into tenths of the maximum

# Problems the gradebook lists: results that are not a clean grade, a timeout, an unmatched file.
PROBLEM_STATUS = {**{s.value: s.label for s in NotebookStatus},
                  "timeout": "timed out", "unmatched": "not matched"}


def write_overview(records: list[ClassRecord], out: Path, *, assignments: list[Assignment],
                   problems: Iterable[dict] = ()) -> Path:
    """Write ``<out>/index.html`` and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_overview(records, assignments=assignments, problems=problems),
                    encoding="utf-8")
    return path


def render_overview(records: list[ClassRecord], *, assignments: list[Assignment],
                    problems: Iterable[dict] = ()) -> str:
    model = overview_model(records, assignments=assignments, problems=problems)
    return environment().get_template("overview.html.j2").render(page=model)


def report_link(student_key: str) -> str:
    """The student's report relative to the overview, as ``write_student_report`` names it."""
    return quote(safe_file_name(student_key)) + "/report.html"


# ---- the numbers on the page ------------------------------------------------

def overview_model(records: list[ClassRecord], *, assignments: list[Assignment],
                   problems: Iterable[dict] = ()) -> dict:
    """Everything the page shows, as plain data (tests check the numbers here too)."""
    records = sorted(records, key=lambda r: r.student.sort_key)
    columns = _columns(records, assignments)
    max_total = sum(c["max_value"] for c in columns)
    students = [_student_row(r, columns, max_total) for r in records]
    totals = [s["total_value"] for s in students]
    average = statistics.fmean(totals) if totals else 0.0
    checks = [row for c in columns for row in _check_rates(c, records)]
    return {
        "size": len(records),
        "average": format_points(average),
        "median": format_points(statistics.median(totals)) if totals else "0",
        "max_total": format_points(max_total),
        "average_percent": _percent(average, max_total),
        "chart": score_chart_svg([_share(t, max_total) for t in totals], average=_share(average, max_total)),
        "columns": [_column_summary(c, records) for c in columns],
        "functions": [row for c in columns for row in _function_rates(c, records)],
        "hardest": sorted(checks, key=_difficulty),
        "problems": _problems(records, problems),
        "students": students,
        "show_section": any(r.student.section for r in records),
        "sections": _sections(students, max_total),
        "no_submission": [{"name": s["name"], "href": s["href"], "section": s["section"]}
                          for s, r in zip(students, records) if not r.results],
        "late": _late_work(records, columns),
        "review": [{**item, "href": report_link(item["key"]), "score": format_points(item["score"]),
                    "other": "—" if item["other"] is None else format_points(item["other"])}
                   for item in review_list(records)],
        "hard_percent": round(100 * HARD),
        "easy_percent": round(100 * EASY),
    }


def _columns(records: list[ClassRecord], assignments: list[Assignment]) -> list[dict]:
    """One column per assignment: the known ones in their order, then any others the results name."""
    columns = {a.slug: {"slug": a.slug, "title": a.title, "max_value": float(a.full_points or a.points),
                        "spec": a} for a in assignments}
    for record in records:
        for slug, result in record.results.items():
            if slug not in columns:
                info = as_dict(as_dict(result).get("assignment"))
                columns[slug] = {"slug": slug, "title": as_text(info.get("title")) or slug,
                                 "max_value": as_number(info.get("max_score"), as_number(as_dict(result).get("max_score"))),
                                 "spec": None}
    return list(columns.values())


def _student_row(record: ClassRecord, columns: list[dict], max_total: float) -> dict:
    cells, total = [], 0.0
    for column in columns:
        result = as_dict(record.results.get(column["slug"]))
        if not result:
            cells.append({"text": "—", "value": -1, "status": "missing", "label": "not submitted",
                          "attempt": "", "overridden": False, "late": False})
            continue
        score = as_number(result.get("score"))
        total += score
        status = as_text(result.get("status"), "graded")
        adjustments = as_dict(result.get("adjustments"))
        cells.append({"text": format_points(score), "value": score, "status": status,
                      "label": "" if status == "graded" else PROBLEM_STATUS.get(status, status),
                      "attempt": attempt_line(result.get("attempt")),
                      "overridden": bool(as_list(adjustments.get("overrides"))),
                      "late": bool(adjustments.get("late"))})
    return {
        "name": record.student.display_name,
        "key": record.student.key,
        "section": record.student.section,
        "href": report_link(record.student.key),
        "cells": cells,
        "total": format_points(total),
        "total_value": total,
        "percent": _percent(total, max_total),
    }


def _sections(students: list[dict], max_total: float) -> list[dict]:
    """Each section's size and average total, when the roster names sections."""
    by_section: dict[str, list[float]] = {}
    for s in students:
        if s["section"]:
            by_section.setdefault(s["section"], []).append(s["total_value"])
    return [{"name": name, "size": len(totals), "average": format_points(statistics.fmean(totals)),
             "percent": _percent(statistics.fmean(totals), max_total)} for name, totals in sorted(by_section.items())]


def _late_work(records: list[ClassRecord], columns: list[dict]) -> list[dict]:
    """Every late submission with how late, its score before the penalty (the raw score after any
    override), the penalty and the final score (from the result's adjustments)."""
    titles = {c["slug"]: c["title"] for c in columns}
    rows = []
    for record in records:
        for slug, result in record.results.items():
            adjustments = as_dict(as_dict(result).get("adjustments"))
            late = as_dict(adjustments.get("late"))
            if late:
                penalty = as_number(late.get("penalty"))
                final = as_number(adjustments.get("final_score"), as_number(as_dict(result).get("score")))
                rows.append({"student": record.student.display_name, "href": report_link(record.student.key),
                             "assignment": titles.get(slug, slug), "text": as_text(late.get("text")),
                             "before": format_points(final + penalty), "penalty": format_points(penalty),
                             "final": format_points(final)})
    return rows


def _graded(column: dict, records: list[ClassRecord]) -> list[dict]:
    """The results of one assignment that were graded (the base of every pass rate)."""
    found = [as_dict(r.results.get(column["slug"])) for r in records]
    return [r for r in found if r and as_text(r.get("status"), "graded") == "graded"]


def _column_summary(column: dict, records: list[ClassRecord]) -> dict:
    submitted = [as_dict(r.results.get(column["slug"])) for r in records if r.results.get(column["slug"])]
    scores = [as_number(r.get("score")) for r in submitted]
    average = statistics.fmean(scores) if scores else 0.0
    return {"title": column["title"], "max": format_points(column["max_value"]), "submitted": len(submitted),
            "graded": len(_graded(column, records)), "average": format_points(average),
            "percent": _percent(average, column["max_value"])}


def _checks_of(result: dict) -> dict[str, tuple[str, dict]]:
    """check name -> (function name, check dict) for one result."""
    return {as_text(c.get("name")): (as_text(f.get("name")), c)
            for f in map(as_dict, as_list(result.get("functions"))) for c in map(as_dict, as_list(f.get("checks")))}


def _check_list(column: dict, graded: list[dict]) -> list[tuple[str, str, bool]]:
    """(function, check, hidden) in the spec's order, then any check only the results name."""
    spec: Assignment | None = column["spec"]
    known = [(c.function, c.name, c.hidden) for c in spec.checks] if spec else []
    names = {name for _, name, _ in known}
    for result in graded:
        for name, (function, check) in _checks_of(result).items():
            if name not in names:
                names.add(name)
                known.append((function, name, check.get("hidden") is True))
    return known


def _check_rates(column: dict, records: list[ClassRecord]) -> list[dict]:
    graded = _graded(column, records)
    by_result = [_checks_of(r) for r in graded]
    rows = []
    for function, name, hidden in _check_list(column, graded):
        passed = sum(1 for checks in by_result if as_dict(checks.get(name, ("", {}))[1]).get("status") == "passed")
        rows.append({"assignment": column["title"], "function": function, "name": name,
                     "hidden": hidden, **_rate(passed, len(graded))})
    return rows


def _function_rates(column: dict, records: list[ClassRecord]) -> list[dict]:
    graded = _graded(column, records)
    functions = list(dict.fromkeys(function for function, _, _ in _check_list(column, graded)))
    rows = []
    for name in functions:
        found = [f for r in graded for f in map(as_dict, as_list(r.get("functions"))) if f.get("name") == name]
        full = sum(1 for f in found if as_list(f.get("checks"))
                   and all(as_dict(c).get("status") == "passed" for c in as_list(f.get("checks"))))
        earned = sum(as_number(f.get("score")) for f in found)
        possible = sum(as_number(f.get("max_score")) for f in found)
        rows.append({"assignment": column["title"], "name": name, **_rate(full, len(graded)),
                     "points_percent": _percent(earned, possible) if possible else None})
    return rows


def _rate(passed: int, total: int) -> dict:
    rate = passed / total if total else None
    level = "none" if rate is None else "hard" if rate < HARD else "medium" if rate < EASY else "easy"
    return {"passed": passed, "total": total, "rate": rate, "level": level,
            "percent": None if rate is None else round(100 * rate)}


def _difficulty(row: dict) -> tuple:
    """Lowest pass rate first; checks nobody could be graded on go last."""
    return (row["rate"] is None, row["rate"] if row["rate"] is not None else 0.0, row["assignment"], row["name"])


def _problems(records: list[ClassRecord], given: Iterable[dict]) -> list[dict]:
    """Submissions that could not be graded or timed out: those the run reports, then the results'."""
    known = {r.student.key: r.student.display_name for r in records}
    rows, seen = [], set()

    def add(student: Any, path: Any, status: Any, message: Any) -> None:
        student, path, status = as_text(student), as_text(path), as_text(status) or "unknown"
        if (student, path, status) in seen:
            return
        seen.add((student, path, status))
        rows.append({"student": known.get(student, student), "href": report_link(student) if student in known else "",
                     "path": path, "status": status, "label": PROBLEM_STATUS.get(status, status),
                     "message": as_text(message)})

    for problem in given:
        problem = as_dict(problem)
        add(problem.get("student"), problem.get("path"), problem.get("status"), problem.get("message"))
    for record in records:
        for result in map(as_dict, record.results.values()):
            path = as_dict(result.get("source")).get("path")
            status = as_text(result.get("status"), "graded")
            if status != "graded":
                add(record.student.key, path, status, result.get("message"))
                continue
            timed_out = [(f, c) for f, c in _checks_of(result).values() if c.get("status") == "timeout"]
            if timed_out:
                function, check = timed_out[0]
                more = f" ({len(timed_out)} checks timed out)" if len(timed_out) > 1 else ""
                add(record.student.key, path, "timeout", (as_text(check.get("message")) or function) + more)
    return sorted(rows, key=lambda p: (p["student"].casefold(), p["path"]))


def _share(value: float, maximum: float) -> float:
    return min(1.0, max(0.0, value / maximum)) if maximum > 0 else 0.0


def _percent(value: float, maximum: float) -> int:
    return round(100 * _share(value, maximum))


# ---- the chart ---------------------------------------------------------------

def score_chart_svg(shares: list[float], *, average: float | None = None) -> str:
    """A bar chart of how many students scored in each tenth of the maximum (inline SVG markup)."""
    from markupsafe import Markup

    counts = [0] * CHART_BINS
    for share in shares:
        counts[min(CHART_BINS - 1, int(min(1.0, max(0.0, share)) * CHART_BINS))] += 1
    width, height, left, bottom, top = 640, 240, 36, 36, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / CHART_BINS
    tallest = max(counts) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc" '
             f'xmlns="http://www.w3.org/2000/svg">',
             '<title id="chart-title">Distribution of total scores</title>',
             f'<desc id="chart-desc">{escape(_chart_description(counts))}</desc>',
             f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>']
    for i, count in enumerate(counts):
        bar_h = plot_h * count / tallest
        x, y = left + i * step + 3, top + plot_h - bar_h
        label = f"{i * 10}–{i * 10 + 10}%"
        parts.append(f'<rect class="bar-{i}" x="{x:.1f}" y="{y:.1f}" width="{step - 6:.1f}" height="{bar_h:.1f}">'
                     f'<title>{escape(label)}: {count} student{"" if count == 1 else "s"}</title></rect>')
        if count:
            parts.append(f'<text class="count" x="{x + (step - 6) / 2:.1f}" y="{y - 3:.1f}">{count}</text>')
        parts.append(f'<text class="tick" x="{left + i * step + step / 2:.1f}" y="{top + plot_h + 16}">{escape(label)}</text>')
    if average is not None:
        x = left + plot_w * min(1.0, max(0.0, average))
        parts.append(f'<line class="average" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + plot_h}"/>')
        parts.append(f'<text class="average-label" x="{x:.1f}" y="{height - 4}">average</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _chart_description(counts: list[int]) -> str:
    spans = [f"{i * 10}–{i * 10 + 10}%: {n}" for i, n in enumerate(counts) if n]
    return "Students per tenth of the maximum score. " + ("; ".join(spans) if spans else "No students.")
