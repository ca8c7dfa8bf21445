"""The class's gradebook: one SQLite file holding every run, submission and check result.

Tables (see docs/class-workflow.md for the queries an instructor may want):

* ``students``: who, with what the LMS and roster know (``grader.core.records.Student``);
* ``submissions``: one row per file content a student handed in (sha256, path, the
  assignment its name tells, attempt, late);
* ``runs``: every ``grader grade`` run: start, end, options, grader version, status
  (``running``, ``finished``, ``interrupted``, ``failed``; ``killed`` when a later run finds
  one that never ended);
* ``results``: every grading of a submission, with the whole result JSON; never updated,
  so regrading after a check-specification change keeps the history;
* ``checks``: one row per check of each result;
* ``run_items``: what each run did with each submission (``graded``, ``unchanged``,
  ``superseded``), and ``unmatched``: files a run could not attribute;
* ``overrides``: every grade an instructor set by hand (``grader override``), with who, when
  and why, and the content hash of the submission it was set for. Never deleted: an
  override applies while that submission is the one graded; when the student hands in
  something else it stays in the history and the function is flagged for review again.

Results are never changed: ``class_records`` applies overrides and the late policy on
reading, and keeps the raw score beside the final one (``adjustments`` in each result).

Writes happen one student at a time, each in its own transaction, in WAL mode: a run
killed at any moment (even ``kill -9``) leaves every committed student intact, and the
next run picks up where it stopped.
"""
from __future__ import annotations

import datetime
import difflib
import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from grader import __version__
from grader.classrun.late import Late, LatePolicy
from grader.core.config import parse_time
from grader.core.errors import UsageError
from grader.core.records import ClassRecord, Student
from grader.core.results import NotebookResult, status_of

SCHEMA_VERSION = 1
BUSY_SECONDS = 30  # how long to wait for another program (an SQLite browser) to let go of the file
STUDENT_FIELDS = ("name", "lms_id", "sis_id", "sis_login", "section", "email", "username")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    key TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', lms_id TEXT NOT NULL DEFAULT '',
    sis_id TEXT NOT NULL DEFAULT '', sis_login TEXT NOT NULL DEFAULT '', section TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '', username TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL,
    grader_version TEXT NOT NULL, options TEXT NOT NULL, counts TEXT);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY, student_key TEXT NOT NULL REFERENCES students(key),
    sha256 TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL, requested TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0, late INTEGER NOT NULL DEFAULT 0,
    UNIQUE (student_key, sha256, path, requested));
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
    submission_id INTEGER NOT NULL REFERENCES submissions(id), student_key TEXT NOT NULL,
    assignment TEXT, assignment_version TEXT NOT NULL, fallback INTEGER NOT NULL,
    status TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, message TEXT NOT NULL,
    graded_at TEXT NOT NULL, result_json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_submission ON results(submission_id);
CREATE TABLE IF NOT EXISTS checks (
    result_id INTEGER NOT NULL REFERENCES results(id), function TEXT NOT NULL, name TEXT NOT NULL,
    hidden INTEGER NOT NULL, status TEXT NOT NULL, points REAL NOT NULL, max_points REAL NOT NULL,
    message TEXT NOT NULL, hint TEXT, PRIMARY KEY (result_id, name));
CREATE TABLE IF NOT EXISTS run_items (
    run_id INTEGER NOT NULL REFERENCES runs(id), submission_id INTEGER NOT NULL REFERENCES submissions(id),
    action TEXT NOT NULL, result_id INTEGER REFERENCES results(id), PRIMARY KEY (run_id, submission_id));
CREATE TABLE IF NOT EXISTS unmatched (
    run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, reason TEXT NOT NULL);
"""
# Added after schema 1 was first released; created on opening, so older gradebooks gain them.
ADDITIONS = """
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY, student_key TEXT NOT NULL, assignment TEXT NOT NULL,
    function TEXT NOT NULL DEFAULT '', check_name TEXT NOT NULL DEFAULT '', points REAL,
    accept_other INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL, who TEXT NOT NULL,
    made_at TEXT NOT NULL, sha256 TEXT NOT NULL, result_id INTEGER REFERENCES results(id));
"""


class GradebookError(UsageError):
    """The gradebook file cannot be used (one line, for the user)."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    """An open gradebook; ``Gradebook(path)`` creates the file when it does not exist."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise GradebookError(f"no gradebook at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_SECONDS)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._check_schema()
        except sqlite3.OperationalError as exc:  # the file is fine; something keeps us from it
            if "locked" in str(exc):
                raise GradebookError(f"the gradebook {self.path} is held by another program ({exc}); "
                                     "close it and run the same command again") from None
            raise GradebookError(f"cannot use the gradebook {self.path} ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{self.path} is not a usable gradebook ({exc})") from None
        except OSError as exc:
            raise GradebookError(f"cannot open the gradebook {self.path} ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_schema(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise GradebookError(f"{self.path} is an SQLite file but not a gradebook")
        if tables:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None or int(row[0]) != SCHEMA_VERSION:
                raise GradebookError(f"{self.path} was written by another version of the grader "
                                     f"(schema {row[0] if row else '?'}, this one reads {SCHEMA_VERSION})")
        else:
            self.db.executescript(f"BEGIN IMMEDIATE; {SCHEMA}"
                                  f"INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;")
        self._add_missing()

    def _add_missing(self) -> None:
        """Tables and columns added since schema 1 first shipped (written only when missing)."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(submissions)")}
        script = "" if "overrides" in tables else ADDITIONS
        if "submitted_at" not in columns:
            script += "ALTER TABLE submissions ADD COLUMN submitted_at TEXT NOT NULL DEFAULT '';"
        if script:
            self.db.executescript(f"BEGIN IMMEDIATE; {script} COMMIT;")

    def _transaction(self):
        return _Transaction(self.db)

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, options: dict) -> int:
        """A new run; runs left 'running' by a process that died are marked 'killed'.

        Call it only while holding ``batch.run_lock`` (one run per gradebook at a time).
        """
        with self._transaction():
            self.db.execute("UPDATE runs SET status='killed' WHERE status='running'")
            cursor = self.db.execute(
                "INSERT INTO runs (started_at, status, grader_version, options) VALUES (?, 'running', ?, ?)",
                (now(), __version__, json.dumps(options, sort_keys=True, default=str)))
        assert cursor.lastrowid is not None  # an INSERT always sets it
        return cursor.lastrowid

    def finish_run(self, run_id: int, status: str, counts: dict) -> None:
        with self._transaction():
            self.db.execute("UPDATE runs SET ended_at=?, status=?, counts=? WHERE id=?",
                            (now(), status, json.dumps(counts, sort_keys=True), run_id))

    def runs(self) -> list[dict]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [{**dict(r), "options": json.loads(r["options"]),
                 "counts": json.loads(r["counts"]) if r["counts"] else None} for r in rows]

    def latest_run_id(self) -> int | None:
        row = self.db.execute("SELECT MAX(id) FROM runs").fetchone()
        return row[0]

    # --- what needs grading -----------------------------------------------------------------

    def reusable_result(self, student_key: str, sha256: str, requested: str | None, fallback: bool,
                        version_of: Callable[[str | None], str], review_policy: str = "regions") -> int | None:
        """The id of an earlier result still valid for this content, or None to grade it.

        Valid: same student, same bytes, same requested assignment and options (the review
        policy is read from the result itself), graded against the assignment version that
        is current now (``version_of(slug)``).
        """
        row = self.db.execute(
            """SELECT r.id, r.assignment, r.assignment_version, r.status FROM results r
               JOIN submissions s ON s.id = r.submission_id
               WHERE s.student_key=? AND s.sha256=? AND s.requested=? AND r.fallback=?
                 AND COALESCE(json_extract(r.result_json, '$.review_policy'), 'regions')=?
               ORDER BY r.id DESC LIMIT 1""",
            (student_key, sha256, requested or "", int(fallback), review_policy)).fetchone()
        if row is None or status_of({"status": row["status"]}).retried:
            return None
        return row["id"] if row["assignment_version"] == version_of(row["assignment"]) else None

    # --- writing: one student per transaction ---------------------------------------------------

    def record_student(self, run_id: int, student: Student, items: Iterable[Item]) -> list[int]:
        """Everything one run learnt about one student, committed at once; returns the result ids."""
        ids = []
        with self._transaction():
            self._upsert_student(student)
            for item in items:
                submission = self._submission_id(student.key, item)
                result_id = item.reused
                if item.result is not None:
                    result_id = self._insert_result(run_id, submission, student.key, item)
                self.db.execute("INSERT OR REPLACE INTO run_items VALUES (?, ?, ?, ?)",
                                (run_id, submission, item.action, result_id))
                ids.append(result_id)
        return ids

    def record_roster(self, students: Iterable[Student]) -> None:
        """Roster students who handed in nothing: in the class, with no result."""
        with self._transaction():
            for student in students:
                self._upsert_student(student)

    def record_unmatched(self, run_id: int, unmatched: Iterable[tuple[str, str]]) -> None:
        with self._transaction():
            self.db.executemany("INSERT INTO unmatched VALUES (?, ?, ?)",
                                [(run_id, path, reason) for path, reason in unmatched])

    def _upsert_student(self, student: Student) -> None:
        values = [getattr(student, f) for f in STUDENT_FIELDS]
        self.db.execute(
            f"INSERT INTO students (key, {', '.join(STUDENT_FIELDS)}) VALUES (?{', ?' * len(STUDENT_FIELDS)}) "
            "ON CONFLICT(key) DO UPDATE SET "
            + ", ".join(f"{f} = CASE WHEN excluded.{f} != '' THEN excluded.{f} ELSE {f} END" for f in STUDENT_FIELDS),
            (student.key, *values))

    def _submission_id(self, student_key: str, item: Item) -> int:
        key = (student_key, item.sha256, str(item.path), item.requested or "")
        self.db.execute(
            "INSERT INTO submissions (student_key, sha256, path, requested, name, attempt, late, submitted_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (student_key, sha256, path, requested) DO UPDATE SET "
            "submitted_at = excluded.submitted_at WHERE excluded.submitted_at != ''",  # a roster time added later wins
            (*key, item.name, item.attempt, int(item.late), item.submitted))
        return self.db.execute("SELECT id FROM submissions WHERE student_key=? AND sha256=? AND path=? "
                               "AND requested=?", key).fetchone()[0]

    def _insert_result(self, run_id: int, submission: int, student_key: str, item: Item) -> int:
        result: NotebookResult = item.result
        cursor = self.db.execute(
            "INSERT INTO results (run_id, submission_id, student_key, assignment, assignment_version, fallback, "
            "status, score, max_score, message, graded_at, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, submission, student_key, result.assignment.slug if result.assignment else None, item.version,
             int(item.fallback), result.status.value, result.score, result.max_score, result.message, now(),
             json.dumps(result.to_dict(), default=str)))
        assert cursor.lastrowid is not None
        result_id = cursor.lastrowid
        self.db.executemany(
            "INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(result_id, f.name, c.name, int(c.hidden), c.status.value, c.points, c.max_points, c.message, c.hint)
             for f in result.functions for c in f.checks])
        return result_id

    # --- reading -------------------------------------------------------------------------------

    def result(self, result_id: int) -> dict:
        row = self.db.execute("SELECT result_json FROM results WHERE id=?", (result_id,)).fetchone()
        if row is None:
            raise KeyError(f"no result {result_id} in {self.path}")
        return json.loads(row[0])

    def students(self) -> list[Student]:
        rows = self.db.execute("SELECT * FROM students").fetchall()
        return [Student(**dict(r)) for r in rows]

    def class_records(self, policy: LatePolicy | None = None) -> list[ClassRecord]:
        """Every student (roster students with nothing handed in too) with their latest result
        per assignment (the most recent run's view), overrides and the late policy applied."""
        records = {s.key: ClassRecord(s) for s in self.students()}
        latest: dict[tuple[str, str], sqlite3.Row] = {}
        for row in self.db.execute(
                """SELECT r.id, r.student_key, r.assignment, r.result_json, s.sha256, s.late, s.submitted_at
                   FROM run_items i JOIN results r ON r.id = i.result_id JOIN submissions s ON s.id = i.submission_id
                   WHERE r.assignment IS NOT NULL AND i.action != 'superseded' ORDER BY i.run_id, r.id"""):
            latest[(row["student_key"], row["assignment"])] = row
        overrides = self._overrides()
        for (key, slug), row in latest.items():
            student = records[key].student
            result = json.loads(row["result_json"])
            late = None
            if policy is not None and policy.active and status_of(result).counts:
                max_score = float((result.get("assignment") or {}).get("max_score") or result.get("max_score") or 0)
                late = policy.assess(slug, parse_time(row["submitted_at"]), max_score, (student.key, student.name))
            records[key].results[slug] = adjusted(
                result, overrides.get((key, slug), []), sha256=row["sha256"], late=late,
                marked_late=bool(row["late"]) and policy is not None and slug in policy.due)
        return sorted(records.values(), key=lambda r: r.student.sort_key)

    # --- overrides and review ------------------------------------------------------------------

    def _overrides(self) -> dict[tuple[str, str], list[dict]]:
        found: dict[tuple[str, str], list[dict]] = {}
        for row in self.db.execute("SELECT * FROM overrides ORDER BY id"):
            found.setdefault((row["student_key"], row["assignment"]), []).append(dict(row))
        return found

    def overrides(self, student_key: str | None = None) -> list[dict]:
        """Every override ever made (the history: none is deleted), oldest first."""
        rows = self.db.execute("SELECT * FROM overrides WHERE ? IS NULL OR student_key=? ORDER BY id",
                               (student_key, student_key))
        return [dict(r) for r in rows]

    def find_student(self, text: str) -> Student:
        """A student by key, or by name (case ignored; 'Doe, Jane' is also 'Jane Doe'); a one-line
        error naming close ones."""
        people = self.students()
        wanted = _name_forms(text)
        hit = [s for s in people if s.key == text] or [s for s in people if _name_forms(s.display_name) & wanted]
        if len(hit) == 1:
            return hit[0]
        if len(hit) > 1:
            raise GradebookError(f"{len(hit)} students are called {text!r}; give the key: "
                                 + ", ".join(s.key for s in hit))
        close = difflib.get_close_matches(text, [s.display_name for s in people] + [s.key for s in people], n=3)
        raise GradebookError(f"no student {text!r} in {self.path}"
                             + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""))

    def add_override(self, student: Student, assignment: str, *, function: str = "", check: str = "",
                     points: float | None = None, accept_other: bool = False, reason: str, who: str) -> dict:
        """Record an instructor's grade for a check, a function or (no function) a whole notebook,
        against the student's current submission of ``assignment``; returns the override."""
        if not reason.strip():
            raise GradebookError("an override needs a reason (--reason \"...\"): students and colleagues read it")
        row = self.db.execute(
            """SELECT r.id, r.result_json, s.sha256 FROM run_items i JOIN results r ON r.id = i.result_id
               JOIN submissions s ON s.id = i.submission_id WHERE r.student_key=? AND r.assignment=?
               ORDER BY i.run_id DESC, r.id DESC LIMIT 1""", (student.key, assignment)).fetchone()
        if row is None:
            graded = sorted(self.class_records_for(student.key))
            raise GradebookError(f"{student.display_name} has no result for {assignment!r}"
                                 + (f"; they have: {', '.join(graded)}" if graded else ""))
        result = NotebookResult.from_dict(json.loads(row["result_json"]))
        maximum = result.max_score
        if function:
            chosen = _named(result.functions, function, f"{assignment} has no graded function")
            maximum = chosen.max_score
            if check:
                maximum = _named(chosen.checks, check, f"{function} has no check").max_points
            if accept_other:
                if check or chosen.review is None:
                    raise GradebookError(f"{function} has no second opinion to accept; give --points instead")
                points = chosen.review.other_score
        elif check or accept_other:
            raise GradebookError("--check and --accept need a FUNCTION")
        if points is None or not 0 <= points <= maximum:
            raise GradebookError(f"--points must be between 0 and {maximum:g} (what "
                                 f"{check or function or assignment} is worth)")
        made = {"student_key": student.key, "assignment": assignment, "function": function, "check_name": check,
                "points": float(points), "accept_other": int(accept_other), "reason": reason.strip(), "who": who,
                "made_at": now(), "sha256": row["sha256"], "result_id": row["id"]}
        with self._transaction():
            cursor = self.db.execute(f"INSERT INTO overrides ({', '.join(made)}) VALUES ({', '.join('?' * len(made))})",
                                     tuple(made.values()))
        return {"id": cursor.lastrowid, **made}

    def class_records_for(self, student_key: str) -> dict[str, dict]:
        return next((r.results for r in self.class_records() if r.student.key == student_key), {})

    def review_items(self, policy: LatePolicy | None = None) -> list[dict]:
        """What needs a person (``grader.reports.view.review_list`` of the class as exports see it):
        flagged functions not overridden since, unreadable submissions, the grader's own failures,
        overrides made for an earlier submission; each with the command that decides it."""
        from grader.reports.view import review_list

        return review_list(self.class_records(policy))

    def problems(self, run_id: int | None = None) -> list[dict]:
        """What a run could not grade cleanly: unreadable, unrecognised, crashed or timed-out
        submissions and unmatched files, as ``{"path", "student", "status", "message"}``."""
        run_id = self.latest_run_id() if run_id is None else run_id
        if run_id is None:
            return []
        found = []
        rows = self.db.execute(
            """SELECT r.id, r.student_key, s.path, r.status, r.message,
                      (SELECT c.message FROM checks c WHERE c.result_id = r.id AND c.status='timeout' LIMIT 1)
               FROM run_items i JOIN results r ON r.id = i.result_id JOIN submissions s ON s.id = i.submission_id
               WHERE i.run_id=? AND i.action != 'superseded' ORDER BY r.student_key, s.path""", (run_id,))
        for _, student, path, status, message, timeout in rows:
            if status != "graded":
                found.append({"path": path, "student": student, "status": status, "message": message})
            elif timeout is not None:
                found.append({"path": path, "student": student, "status": "timeout", "message": timeout})
        for path, reason in self.db.execute("SELECT path, reason FROM unmatched WHERE run_id=? ORDER BY path",
                                            (run_id,)):
            found.append({"path": path, "student": "", "status": "unmatched", "message": reason})
        return found

    def history(self, student_key: str, assignment: str | None = None) -> list[dict]:
        """Every grading of a student's work, oldest first (regrades included)."""
        rows = self.db.execute(
            """SELECT r.id, r.run_id, r.assignment, r.assignment_version, r.status, r.score, r.max_score,
                      r.graded_at, s.path, s.sha256 FROM results r JOIN submissions s ON s.id = r.submission_id
               WHERE r.student_key=? AND (? IS NULL OR r.assignment=?) ORDER BY r.id""",
            (student_key, assignment, assignment))
        return [dict(r) for r in rows]

    def run_items(self, run_id: int) -> list[dict]:
        rows = self.db.execute(
            """SELECT s.student_key, s.path, s.name, i.action, i.result_id FROM run_items i
               JOIN submissions s ON s.id = i.submission_id WHERE i.run_id=? ORDER BY s.student_key, s.path""",
            (run_id,))
        return [dict(r) for r in rows]


def adjusted(result: dict, overrides: list[dict], *, sha256: str, late: Late | None = None,
             marked_late: bool = False) -> dict:
    """``result`` with the instructor's overrides for this very submission (``sha256``) and the
    late penalty applied: ``score`` is the final score, ``adjustments`` says how it was reached
    (raw score, each override, the penalty) and lists overrides made for an earlier submission."""
    raw = float(result.get("score", 0.0))
    current: dict[tuple[str, str], dict] = {}  # (function, check) -> the latest override of it
    stale: list[dict] = []
    for o in overrides:
        if o["sha256"] == sha256:
            current[(o["function"], o["check_name"])] = o
        elif not any(s["function"] == o["function"] and s["check_name"] == o["check_name"] for s in stale):
            stale.append(o)
    stale = [o for o in stale if (o["function"], o["check_name"]) not in current]
    functions = {f["name"]: f for f in result.get("functions", [])}
    whole = current.pop(("", ""), None)
    whole_functions = {f for f, c in current if not c}
    applied, score = [], raw
    for (function, check), o in current.items():
        if check and function in whole_functions:
            continue  # a grade for the whole function replaces its checks' grades
        f = functions.get(function, {})
        before = next((c["points"] for c in f.get("checks", []) if c["name"] == check), 0.0) if check \
            else float(f.get("score", 0.0))
        score += o["points"] - before
        applied.append({**_shown(o), "before": before})
    if whole is not None:
        applied.append({**_shown(whole), "before": score})
        score = whole["points"]
    penalty = min(score, late.penalty) if late else 0.0
    flags = list(result.get("flags", []))
    for o in stale:
        target = o["function"] or "the whole notebook"
        flags.append(f"An override of {target} ({o['points']:g} points, {o['reason']}) was made for an earlier "
                     "submission; it is kept in the history and this one needs review.")
    if marked_late and late is None:
        flags.append("The LMS marked this submission late, but its time is within the due date "
                     "(and any extension): no penalty applied; check it.")
    final = round(max(0.0, score - penalty), 4)
    return {**result, "score": final, "flags": flags, "adjustments": {
        "raw_score": raw, "overrides": applied, "stale_overrides": [_shown(o) for o in stale],
        "late": None if late is None else {"days": round(late.by / datetime.timedelta(days=1), 3),
                                           "percent": late.percent, "penalty": penalty,
                                           "extension_days": late.extension_days, "text": late.describe()},
        "final_score": final}}


def _name_forms(name: str) -> set[str]:
    """A name as people type it: 'Doe, Jane' (Canvas's gradebook export) is also 'Jane Doe'."""
    plain = " ".join(name.split()).casefold()
    family, comma, given = plain.partition(",")
    return {plain, f"{given.strip()} {family.strip()}"} if comma else {plain}


def _shown(o: dict) -> dict:
    return {k: o[k] for k in ("function", "check_name", "points", "accept_other", "reason", "who", "made_at")}


def _named(items, name: str, missing: str):
    """The item called ``name``, or a one-line error that lists the names there are."""
    found = next((item for item in items if item.name == name), None)
    if found is None:
        raise GradebookError(f"{missing} {name!r}; it has: " + ", ".join(item.name for item in items))
    return found


class Item:
    """One submission as a run saw it: graded now (``result``, a ``NotebookResult``) or still
    valid (``reused``, the id of its earlier result)."""

    __slots__ = ("path", "name", "sha256", "requested", "attempt", "late", "action", "result", "reused",
                 "version", "fallback", "submitted")

    def __init__(self, *, path, name, sha256, requested, attempt=0, late=False, action="graded",
                 result=None, reused=None, version="", fallback=True, submitted=""):
        self.path, self.name, self.sha256, self.requested = path, name, sha256, requested
        self.submitted = submitted
        self.attempt, self.late, self.action = attempt, late, action
        self.result, self.reused, self.version, self.fallback = result, reused, version, fallback


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, *rest):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
