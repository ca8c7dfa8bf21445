"""Grades back to the LMS: Canvas and Moodle gradebook CSV, a plain CSV and JSON Lines.

Every exporter takes the class as ``ClassRecord``s (a student with their latest result
per assignment) and returns the file's text plus warnings about rows an LMS will not be
able to match; nothing here grades or changes a result. ``docs/lms-export.md`` shows
how each file is imported.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from grader.core.errors import UsageError
from grader.core.files import format_number, write_text_atomic
from grader.core.records import ClassRecord, Student
from grader.core.results import SCHEMA, NotebookStatus, status_of

MISSING_CHOICES = ("blank", "zero")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_POSSIBLE = "    Points Possible"  # Canvas's own export spells it with four leading spaces
# Moodle identifier choice -> (column title, Student field)
MOODLE_IDENTIFIERS = {"email": ("Email address", "email"), "username": ("Username", "username"),
                      "idnumber": ("ID number", "sis_id")}
FAILED_CHECKS_SHOWN = 8  # Moodle feedback stays short: name this many failed checks, count the rest


def students(count: int) -> str:
    """'1 student has', '3 students have': the subject of a warning."""
    return f"{count} student has" if count == 1 else f"{count} students have"


@dataclass(frozen=True)
class Column:
    """One assignment as the exports show it."""

    slug: str
    title: str
    max_score: float


@dataclass
class Export:
    text: str
    rows: int  # students written
    warnings: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # students the file could not hold
    assignments: int = 0  # columns of assignments written


# --- shared pieces -------------------------------------------------------------------------

def number(value: float) -> str:
    """A score as gradebooks read it: at most 4 decimals, no trailing zeros ('24.5', '30')."""
    return format_number(value, 4)


def assignment_columns(records: list[ClassRecord], wanted: list[str] | None = None) -> list[Column]:
    """The assignments the results hold; ordered by title unless ``wanted`` names them."""
    found: dict[str, Column] = {}
    for record in records:
        for slug, result in record.results.items():
            info = result.get("assignment") or {}
            max_score = info.get("max_score", result.get("max_score", 0)) or 0
            found.setdefault(slug, Column(slug, info.get("title") or slug, float(max_score)))
    if not wanted:
        return sorted(found.values(), key=lambda c: (c.title.casefold(), c.slug))
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise UsageError(f"no results for assignment {unknown[0]!r}; the results hold: {', '.join(sorted(found))}")
    return [found[slug] for slug in wanted]


def _sorted(records: list[ClassRecord]) -> list[ClassRecord]:
    return sorted(records, key=lambda r: r.student.sort_key)


def _score_cell(record: ClassRecord, column: Column, missing: str) -> str:
    result = record.results.get(column.slug)
    if result is None:  # no submission: blank leaves the LMS's cell alone, zero records a zero
        return "0" if missing == "zero" else ""
    if not status_of(result).counts:  # the grader's failure, not the student's: no grade yet, never 0
        return ""
    return number(result.get("score", 0.0))


def not_graded_yet(records: list[ClassRecord], columns: list[Column]) -> list[str]:
    """A warning when some submissions await a regrade because the grader, not the student, failed."""
    names = sorted({r.student.display_name for r in records for c in columns
                    if c.slug in r.results and not status_of(r.results[c.slug]).counts})
    if not names:
        return []
    return [f"{students(len(names))} a submission the grader failed on (crashed or kernel error), "
            f"exported without a grade; run grader grade again first: {_names(names)}"]


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return buffer.getvalue()


# --- Canvas --------------------------------------------------------------------------------

def canvas_header(column: Column, canvas_ids: dict[str, str]) -> str:
    """'Initialization (1234)'; without an id Canvas treats the column as a new assignment."""
    assignment_id = canvas_ids.get(column.slug)
    return f"{column.title} ({assignment_id})" if assignment_id else column.title


def canvas_csv(records: list[ClassRecord], columns: list[Column], *, canvas_ids: dict[str, str] | None = None,
               points_possible: bool = True, missing: str = "blank") -> Export:
    canvas_ids = canvas_ids or {}
    rows = [[*CANVAS_IDENTITY, *(canvas_header(c, canvas_ids) for c in columns)]]
    if points_possible:
        rows.append([CANVAS_POINTS_POSSIBLE, "", "", "", "", *(number(c.max_score) for c in columns)])
    unmatched = []
    for record in _sorted(records):
        s = record.student
        if not (s.lms_id or s.sis_id or s.sis_login):
            unmatched.append(s.display_name)
        rows.append([s.display_name, s.lms_id, s.sis_id, s.sis_login, s.section,
                     *(_score_cell(record, c, missing) for c in columns)])
    export = Export(_csv_text(rows), len(records), not_graded_yet(records, columns))
    if unmatched:
        export.warnings.append(
            f"{students(len(unmatched))} no Canvas ID, SIS User ID or SIS Login ID, so Canvas can match "
            f"them only by hand on its import page: {_names(unmatched)}")
    without_id = [c.slug for c in columns if c.slug not in canvas_ids]
    if without_id:
        export.warnings.append(
            f"no --canvas-id for {', '.join(without_id)}: Canvas will create a new assignment for each such column")
    return export


# --- Moodle --------------------------------------------------------------------------------

def moodle_csv(records: list[ClassRecord], columns: list[Column], *, identifier: str = "email",
               feedback: str = "combined", missing: str = "blank") -> Export:
    """Identifier, full name, one grade column per assignment, then feedback.

    ``feedback`` is ``combined`` (one column for every assignment) or ``per-assignment``
    (one column after each grade column, to map to that grade item's feedback).
    """
    if identifier not in MOODLE_IDENTIFIERS:
        raise UsageError(f"unknown Moodle identifier {identifier!r}; choose one of {', '.join(MOODLE_IDENTIFIERS)}")
    title, attribute = MOODLE_IDENTIFIERS[identifier]
    header = [title, "Full name"]
    for c in columns:
        header.append(c.title)
        if feedback == "per-assignment":
            header.append(f"Feedback: {c.title}")
    if feedback == "combined":
        header.append("Feedback")
    rows, left_out = [header], []
    for record in _sorted(records):
        key = getattr(record.student, attribute)
        if not key:
            left_out.append(record.student.display_name)
            continue
        row = [key, record.student.display_name]
        for c in columns:
            row.append(_score_cell(record, c, missing))
            if feedback == "per-assignment":
                row.append(assignment_feedback(record.results.get(c.slug), c))
        if feedback == "combined":
            row.append("; ".join(assignment_feedback(record.results.get(c.slug), c) for c in columns))
        rows.append(row)
    export = Export(_csv_text(rows), len(rows) - 1, not_graded_yet(records, columns), left_out)
    if left_out:
        verb = "was" if len(left_out) == 1 else "were"
        export.warnings.append(f"{students(len(left_out))} no {title.lower()} and {verb} left out: {_names(left_out)}")
    return export


# Which roster export holds each Moodle identifier, for the one-line error when none is known.
IDENTIFIER_SOURCES = {
    "email": "Moodle's participants export ('Email address') or grades export",
    "username": "a roster with a 'username' column (Moodle's participants export can add it)",
    "idnumber": "Moodle's grades export ('ID number') or a Canvas gradebook export ('SIS User ID')",
}


def missing_identifier(identifier: str, records: list[ClassRecord]) -> str:
    """One line: which identifier no student has, and which roster would provide it."""
    title = MOODLE_IDENTIFIERS[identifier][0].lower()
    others = [name for name, (_, attr) in MOODLE_IDENTIFIERS.items()
              if name != identifier and any(getattr(r.student, attr) for r in records)]
    instead = f", or --identifier {' or '.join(others)} (known for some students)" if others else ""
    article = "a" if title.startswith("u") else "an"
    return (f"no student here has {article} {title}: grade again with --roster naming "
            f"{IDENTIFIER_SOURCES[identifier]}{instead}")


def assignment_feedback(result: dict | None, column: Column) -> str:
    """One line: 'Initialization 27/30, failed: he_deep, zeros_shape'."""
    if result is None:
        return f"{column.title}: no submission"
    if not status_of(result).counts:
        return f"{column.title}: not graded yet ({result.get('message', '')})"
    text = f"{column.title} {number(result.get('score', 0.0))}/{number(column.max_score)}"
    changes = adjustment_words(result)
    if changes:
        text += f" ({changes})"
    if status_of(result) is not NotebookStatus.GRADED:
        return f"{text}, not graded: {result.get('message', '')}"
    failed = [c["name"] for f in result.get("functions", []) for c in f["checks"] if c["status"] != "passed"]
    if failed:
        shown = ", ".join(failed[:FAILED_CHECKS_SHOWN])
        more = len(failed) - FAILED_CHECKS_SHOWN
        text += f", failed: {shown}" + (f" and {more} more" if more > 0 else "")
    return text


def adjustment_words(result: dict) -> str:
    """'graded 30, overridden: reason; late by 1.2 days: -10%': how the final score was reached."""
    adjustments = result.get("adjustments") or {}
    overrides, late = adjustments.get("overrides") or [], adjustments.get("late")
    if not overrides and not late:
        return ""
    parts = [f"graded {number(adjustments.get('raw_score', 0.0))}"]
    parts += [f"{o['function'] or 'whole notebook'} set to {number(o['points'])} by the instructor: {o['reason']}"
              for o in overrides]
    if late:
        parts.append(late["text"])
    return "; ".join(parts)


def raw_and_penalty(result: dict | None) -> tuple[float | None, float]:
    """The score as graded (before overrides and penalty) and the late penalty."""
    if result is None:
        return None, 0.0
    adjustments = result.get("adjustments") or {}
    late = adjustments.get("late") or {}
    return float(adjustments.get("raw_score", result.get("score", 0.0))), float(late.get("penalty", 0.0))


# --- plain CSV and JSON Lines ----------------------------------------------------------------

IDENTITY_FIELDS = tuple(f.name for f in fields(Student))


def plain_csv(records: list[ClassRecord], columns: list[Column], *, missing: str = "blank") -> Export:
    """One row per student: every identity field, each assignment's score, total and maximum;
    when an override or a late penalty changed some score, each assignment's raw score and
    penalty follow (``<slug>_raw``, ``<slug>_penalty``)."""
    adjusted = any((r.get("adjustments") or {}).get("overrides") or (r.get("adjustments") or {}).get("late")
                   for record in records for r in record.results.values())
    extra = [f"{c.slug}_{what}" for c in columns for what in ("raw", "penalty")] if adjusted else []
    rows = [[*IDENTITY_FIELDS, *(c.slug for c in columns), "total", "max_total", *extra]]
    max_total = number(sum(c.max_score for c in columns))
    for record in _sorted(records):
        total = sum(record.results[c.slug].get("score", 0.0) for c in columns if c.slug in record.results)
        details = []
        for c in columns if adjusted else ():
            raw, penalty = raw_and_penalty(record.results.get(c.slug))
            details += ["" if raw is None else number(raw), number(penalty)]
        rows.append([*(getattr(record.student, f) for f in IDENTITY_FIELDS),
                     *(_score_cell(record, c, missing) for c in columns), number(total), max_total, *details])
    return Export(_csv_text(rows), len(records), not_graded_yet(records, columns))


def jsonl(records: list[ClassRecord], columns: list[Column]) -> Export:
    """One JSON object per student, each assignment with every check (fields in docs/lms-export.md)."""
    lines = []
    for record in _sorted(records):
        assignments = [_assignment_entry(record.results.get(c.slug), c) for c in columns]
        lines.append(json.dumps({
            "student": asdict(record.student),
            "total": sum(a["score"] or 0.0 for a in assignments),
            "max_total": sum(c.max_score for c in columns),
            "assignments": assignments,
        }, ensure_ascii=False, default=str))
    return Export("".join(line + "\n" for line in lines), len(records))


def _assignment_entry(result: dict | None, column: Column) -> dict:
    entry = {"slug": column.slug, "title": column.title, "max_score": column.max_score}
    if result is None:
        return {**entry, "status": "no_submission", "message": "", "score": None, "source": None, "checks": []}
    checks = [{"function": f["name"], "name": c["name"], "hidden": c["hidden"], "status": c["status"],
               "points": c["points"], "max_points": c["max_points"], "message": c["message"], "hint": c.get("hint")}
              for f in result.get("functions", []) for c in f["checks"]]
    raw, penalty = raw_and_penalty(result)
    adjustments = result.get("adjustments") or {}
    return {**entry, "status": result.get("status", "graded"), "message": result.get("message", ""),
            "score": result.get("score", 0.0), "raw_score": raw, "penalty": penalty,
            "overrides": adjustments.get("overrides") or [], "late": adjustments.get("late"),
            "source": (result.get("source") or {}).get("path"), "checks": checks}


def _names(names: list[str], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


# --- where the class comes from ----------------------------------------------------------------

def records_from_results(folder: Path) -> tuple[list[ClassRecord], list[str]]:
    """Class records from the per-student result files ``grader grade --out`` writes.

    A student with several results for one assignment keeps the most recently written.
    Returns the records and warnings about files left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"no results folder {folder}")
    latest: dict[tuple[str, str], tuple[float, dict]] = {}
    warnings = []
    for path in sorted(folder.rglob("*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            warnings.append(f"{path}: not readable as JSON, left out")
            continue
        if not isinstance(result, dict) or result.get("schema") != SCHEMA:
            continue  # some other JSON file, not a grading result
        slug = (result.get("assignment") or {}).get("slug")
        if result.get("mode") == "student":
            warnings.append(f"{path}: a student's self-check (public checks only), left out")
        elif not slug:
            warnings.append(f"{path}: not recognised as any assignment ({result.get('message', '')}), left out")
        else:
            key = (str(result.get("student", path.parent.name)), slug)
            written = path.stat().st_mtime
            if key not in latest or written >= latest[key][0]:
                latest[key] = (written, result)
    by_student: dict[str, ClassRecord] = {}
    for (student, slug), (_, result) in sorted(latest.items()):
        record = by_student.setdefault(student, ClassRecord(Student(key=student, name=student)))
        record.results[slug] = result
    return list(by_student.values()), warnings


def records_from_gradebook(path: Path, policy=None) -> list[ClassRecord]:
    """The class from the gradebook, overrides and (``policy``, a ``LatePolicy``) penalties applied."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"no gradebook at {path}: grade first (grader grade ... --out {path.parent}), "
            "or pass --gradebook PATH or --results DIR")
    try:
        from grader.classrun.gradebook import Gradebook
    except ImportError:
        raise UsageError("this installation cannot read gradebooks yet; pass --results DIR "
                         "(the folder grader grade --out wrote)") from None
    with Gradebook(path, create=False) as book:
        return book.class_records(policy)


# --- writing ---------------------------------------------------------------------------------

FORMATS = {
    "canvas": "Canvas gradebook import CSV",
    "moodle": "Moodle grade import CSV",
    "csv": "plain CSV: one row per student",
    "jsonl": "JSON Lines: one object per student with every check",
}


def parse_canvas_ids(pairs: list[str]) -> dict[str, str]:
    ids = {}
    for pair in pairs:
        slug, sep, assignment_id = pair.partition("=")
        if not sep or not slug.strip():
            raise UsageError(f"--canvas-id {pair!r}: write it as SLUG=ID, e.g. initialization=1234")
        if not assignment_id.strip().isdigit():
            raise UsageError(f"--canvas-id {pair!r}: a Canvas assignment id is a number (the last part of "
                             "the assignment's address in Canvas)")
        ids[slug.strip()] = assignment_id.strip()
    return ids


def write_export(text: str, out: str) -> None:
    """The export's text to ``out`` (a file, written atomically, or ``-`` for standard output)."""
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name")
    write_text_atomic(path, text, newline="")  # csv already wrote \r\n line ends
