"""The course's settings in one file: ``grader.toml``, found from the current folder upwards.

Every command reads it before its own flags, so a flag given on the command line always
wins. Paths inside the file are relative to the folder that holds it. ``grader init``
writes a commented starting file (``STARTER``); the sections are documented there and in
docs/class-workflow.md.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from grader.core.errors import UsageError

FILE_NAME = "grader.toml"

STARTER = '''\
# grader.toml: the course's settings. Every grader command run in this folder (or below it)
# reads them; a flag on the command line wins over the value here. Paths are relative to
# this file's folder.

[course]
solutions = "solutions"        # instructor notebooks and their *.checks.py
assignments = "assignments"    # what grader release writes for students
out = "reports"                # results, reports, overview and the gradebook
# roster = "roster.csv"        # Canvas gradebook export, Moodle participants or grades export, or our own CSV
#                              # (a submitted_at or submitted_at:<slug> column gives submission times)
# preset = "canvas"            # auto (default), canvas, moodle, folders or flat

[canvas]                       # Canvas assignment ids, for grader export canvas (grader list shows the slugs)
# initialization = 1234
# gradient_checking = 1235
# optimization = 1236

[limits]                       # kernel limits, as for --limit
# cell_seconds = 10
# memory_bytes = "2G"

[due]                          # due dates: a TOML date-time per assignment slug (no zone: UTC)
# initialization = 2026-10-01T23:59:00Z

[late]                         # penalty in percent of the assignment's points
# per_day = 10                 # or per_hour = 1: per started day (hour) after the due date
# grace_minutes = 15           # this late is still on time
# cap = 50                     # never more than this in total
# no_credit_after_days = 7     # later than this: no credit

[extensions]                   # extra days per student (their key or name), for all or one assignment
# "101" = 2
# "Jane Doe" = { optimization = 3 }
'''


@dataclass(frozen=True)
class Config:
    """What ``grader.toml`` says; empty when there is none (``path`` is None)."""

    path: Path | None = None
    course: dict = field(default_factory=dict)
    canvas: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    due: dict = field(default_factory=dict)
    late: dict = field(default_factory=dict)
    extensions: dict = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path(".")

    def course_path(self, key: str) -> Path | None:
        """A path setting of ``[course]``, relative to the file's folder; None when not set."""
        value = self.course.get(key)
        return None if value is None else self.folder / str(value)

    def course_text(self, key: str) -> str | None:
        value = self.course.get(key)
        return None if value is None else str(value)

    def describe(self) -> str:
        return str(self.path) if self.path else f"no {FILE_NAME} in this folder or above"


SECTIONS = ("course", "canvas", "limits", "due", "late", "extensions")


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``grader.toml`` in ``start`` (default: the current folder) or a folder above."""
    folder = Path(start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / FILE_NAME
        if path.is_file():
            return path
    return None


def load_config(path: Path | None = None) -> Config:
    """The settings of ``path``, else of the nearest ``grader.toml``; an empty Config when none."""
    path = path or find_config()
    if path is None:
        return Config()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise UsageError(f"{path}: unknown section [{unknown[0]}]; known: {', '.join(SECTIONS)}")
    for name in SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise UsageError(f"{path}: {name} must be a [{name}] table")
    due = {slug: _moment(path, slug, value) for slug, value in data.get("due", {}).items()}
    return Config(path=Path(path), due=due, **{k: dict(data.get(k, {})) for k in SECTIONS if k != "due"})


def _moment(path: Path, slug: str, value) -> datetime.datetime:
    """A due date as an aware date-time (a date alone is the end of that day; no zone is UTC)."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time(23, 59, 59))
    else:
        parsed = parse_time(str(value))
        if parsed is None:
            raise UsageError(f"{path}: due date of {slug} is {value!r}, not a date-time such as "
                             "2026-10-01T23:59:00Z")
        moment = parsed
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def parse_time(text: str) -> datetime.datetime | None:
    """An ISO 8601 time (UTC when it names no zone; 'Z' accepted), or None when empty or not one.
    Due dates here, submission times in rosters and the gradebook all read times this way."""
    if not text or not text.strip():
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def write_starter(folder: Path) -> Path:
    """``folder/grader.toml`` with the commented starting settings; never replaces one."""
    path = Path(folder) / FILE_NAME
    if path.exists():
        raise UsageError(f"{path} exists already; edit it, or remove it first to start afresh")
    path.write_text(STARTER, encoding="utf-8")
    return path
