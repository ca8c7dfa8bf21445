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
  ``superseded``), and ``unmatched``: files a run could not attribute.

Writes happen one student at a time, each in its own transaction, in WAL mode: a run
killed at any moment (even ``kill -9``) leaves every committed student intact, and the
next run picks up where it stopped.
"""
from __future__ import annotations

import datetime
import json
import sqlite3
from pathlib import Path
from typing import Callable, Iterable

from grader.core.errors import UsageError
from grader import __version__
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

    def __enter__(self) -> "Gradebook":
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
            return
        self.db.executescript(f"BEGIN IMMEDIATE; {SCHEMA}"
                              f"INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;")

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

    def record_student(self, run_id: int, student: Student, items: Iterable["Item"]) -> list[int]:
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

    def _submission_id(self, student_key: str, item: "Item") -> int:
        key = (student_key, item.sha256, str(item.path), item.requested or "")
        self.db.execute(
            "INSERT OR IGNORE INTO submissions (student_key, sha256, path, requested, name, attempt, late) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, item.name, item.attempt, int(item.late)))
        return self.db.execute("SELECT id FROM submissions WHERE student_key=? AND sha256=? AND path=? "
                               "AND requested=?", key).fetchone()[0]

    def _insert_result(self, run_id: int, submission: int, student_key: str, item: "Item") -> int:
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

    def class_records(self) -> list[ClassRecord]:
        """Every student with their latest result per assignment (the most recent run's view)."""
        records = {s.key: ClassRecord(s) for s in self.students()}
        rows = self.db.execute(
            """SELECT r.student_key, r.assignment, r.result_json FROM run_items i JOIN results r ON r.id = i.result_id
               WHERE r.assignment IS NOT NULL ORDER BY i.run_id, r.id""")
        for key, slug, text in rows:
            records[key].results[slug] = json.loads(text)
        return sorted(records.values(), key=lambda r: r.student.sort_key)

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
               WHERE i.run_id=? ORDER BY r.student_key, s.path""", (run_id,))
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


class Item:
    """One submission as a run saw it: graded now (``result``, a ``NotebookResult``) or still
    valid (``reused``, the id of its earlier result)."""

    __slots__ = ("path", "name", "sha256", "requested", "attempt", "late", "action", "result", "reused",
                 "version", "fallback")

    def __init__(self, *, path, name, sha256, requested, attempt=0, late=False, action="graded",
                 result=None, reused=None, version="", fallback=True):
        self.path, self.name, self.sha256, self.requested = path, name, sha256, requested
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
