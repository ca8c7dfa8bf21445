"""From what the LMS hands out to a list of students and the notebooks to grade.

A source is a folder or a ``.zip``. Zips are unpacked (safely) under ``extract_to`` so
every result can point at a file that still exists. Each file's path inside its source
is matched against a naming preset:

* ``canvas``: ``doejane_12345_67890_Optimization methods.ipynb`` (login-like name, user id,
  submission id, the student's own file name), ``doejane_LATE_12345_…`` for late work, and
  ``…_Optimization_methods-1.ipynb`` for a later attempt;
* ``moodle``: ``Jane Doe_12345_assignsubmission_file_/<files>`` (or that prefix on the file
  name itself). Moodle numbers participants per assignment, so a student is known by name;
* ``folders``: the student is the notebook's folder name (a plain tree of submissions);
* ``flat``: one submission per file, the student is the file name without its extension
  (``ada.ipynb``), a browser's ``ada (1).ipynb`` or an LMS's ``ada-1.ipynb`` a later attempt;
* ``--pattern``: a regular expression with named groups ``student`` (required), ``id``,
  ``assignment``, ``attempt`` and ``late``, searched in the path relative to the source;
* ``auto``: per source, Moodle if any path looks like Moodle's, else Canvas if any file name
  looks like Canvas's, else flat when every notebook lies directly in the folder and their
  names are not simply one student's assignments, else folders.

A student keeps one notebook per assignment: the latest attempt wins and the others are
listed as superseded (with the file graded instead). Files that fit no student or are not
notebooks are listed with a reason, never dropped without a word; a source most of whose
notebooks were set aside gets a note saying how to read it instead.
"""
from __future__ import annotations

import csv
import datetime
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader.core.config import parse_time
from grader.core.errors import UsageError
from grader.core.records import Student

PRESETS = ("auto", "canvas", "moodle", "folders", "flat")

# Unpacking limits: a download of a few hundred notebooks is far below these.
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 8 * 2**30
MAX_MEMBERS = 100_000

CANVAS_NAME = re.compile(
    r"^(?P<student>[^_/]+?)(?:_(?P<late>late))?_(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)$", re.I)
MOODLE_PREFIX = re.compile(r"^(?P<student>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
CANVAS_ATTEMPT = re.compile(r"^(?P<base>.+?)-(?P<attempt>\d{1,3})$")  # Canvas renames attempt n+1 to 'name-n'
COPY_SUFFIX = re.compile(r"^(?P<base>.+?) \((?P<attempt>\d{1,3})\)$")  # a browser's 'name (1)'
SYSTEM_PARTS = {"__MACOSX": "macOS archive metadata", ".ipynb_checkpoints": "a Jupyter checkpoint copy"}

ROSTER_COLUMNS = {  # our name -> header spellings accepted (compared without case, spaces, '_')
    "name": ("name", "student", "fullname"),
    "lms_id": ("lms_id", "id", "canvasid", "userid"),
    "sis_id": ("sis_id", "sisuserid", "idnumber"),
    "sis_login": ("sis_login", "sisloginid", "login"),
    "section": ("section", "groups", "group"),
    "email": ("email", "emailaddress"),
    "username": ("username",),
}


@dataclass(frozen=True)
class Submission:
    """One notebook a student handed in."""

    path: Path               # the file on disk (extracted when it came in a zip)
    name: str                # where it came from, as the LMS named it (for people)
    assignment: str | None   # slug the file name tells, None: recognise it from content
    attempt: int = 0
    late: bool = False
    own_name: str = ""       # the student's own file name, attempt suffix removed, lower case
    source: str = ""         # the folder or zip it came from
    number: int = 1          # which of the student's attempts at this assignment, oldest first
    of: int = 1              # how many attempts there were
    replaced_by: str = ""    # set aside: the name of the attempt graded instead
    submitted: str = ""      # when it was handed in, ISO in UTC: the roster's column, else the file's time


@dataclass
class StudentWork:
    student: Student
    submissions: list[Submission] = field(default_factory=list)  # one per assignment: to grade
    superseded: list[Submission] = field(default_factory=list)   # older attempts, not graded


@dataclass(frozen=True)
class Unmatched:
    path: str
    reason: str


@dataclass
class Intake:
    students: list[StudentWork]
    unmatched: list[Unmatched]
    presets: dict[str, str]                  # source -> the preset its files were read with
    not_submitted: list[Student] = field(default_factory=list)  # on the roster, no file
    notes: list[str] = field(default_factory=list)  # one line each, worth the instructor's eye

    @property
    def notebooks(self) -> int:
        return sum(len(w.submissions) for w in self.students)


class IntakeError(UsageError):
    """A source or option that cannot be used at all (one line, for the user)."""


class NothingToGrade(IntakeError):
    """The sources hold no notebook any student handed in (one line, for the user)."""


# --- the entry point ---------------------------------------------------------------------------

def collect(
    sources: list[Path], *, preset: str = "auto", pattern: str | None = None, roster: Path | None = None,
    extract_to: Path, catalog=None, student: str | None = None, assignment: str | None = None,
) -> Intake:
    """Every student and notebook in ``sources``; see the module docstring.

    ``catalog`` (a ``grader.grading.catalog.Catalog``) lets file names tell the assignment;
    ``student`` and ``assignment`` force one for every file (the ``--student`` and
    ``--assignment`` options).
    """
    if preset not in PRESETS:
        raise IntakeError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    regex = compile_pattern(pattern) if pattern else None
    people = read_roster(Path(roster)) if roster else None
    found: list[tuple[Student, Submission]] = []
    unmatched: list[Unmatched] = []
    presets: dict[str, str] = {}
    unpacked: set[str] = set()
    existed = _existing_ancestor(Path(extract_to))
    for source in sources:
        files, root, problems = _files_of(Path(source), Path(extract_to), unpacked)
        unmatched += problems
        chosen = "pattern" if regex else preset if preset != "auto" else _detect(files, root, catalog)
        presets[str(source)] = chosen
        matched, missed = _match(files, root, chosen, regex, catalog, str(source))
        found += matched
        unmatched += missed
    if student:
        found = [(Student(key=student, name=student), s) for _, s in found]
    if assignment:
        found = [(who, replace(s, assignment=assignment)) for who, s in found]
    if people and catalog is not None:
        _known_time_columns(people, catalog, Path(roster or ""))
    students = _group(found, people)
    if not students:
        _remove_unpacked(Path(extract_to), unpacked, existed)
        raise NothingToGrade(_nothing_to_grade(sources, unmatched))
    return Intake(students, unmatched, presets, people.unmatched() if people else [],
                  notes=_mostly_set_aside(students, presets))


def _known_time_columns(people: Roster, catalog, roster: Path) -> None:
    """A ``submitted_at:<slug>`` column must name an assignment, or its times would never apply."""
    slugs = {_squash(a.slug): a.slug for a in catalog.assignments}
    unknown = sorted(people.time_slugs - set(slugs) - {""})
    if unknown:
        raise IntakeError(f"roster {roster}: a submitted_at column names {unknown[0]!r}, which is no assignment; "
                          f"use submitted_at:<slug> with one of {', '.join(slugs.values())}")


def _mostly_set_aside(students: list[StudentWork], presets: dict[str, str]) -> list[str]:
    """A line for each source most of whose notebooks were set aside as older attempts."""
    notes = []
    for source, preset in presets.items():
        kept = sum(s.source == source for w in students for s in w.submissions)
        old = sum(s.source == source for w in students for s in w.superseded)
        if old <= kept:
            continue
        owners = sum(any(s.source == source for s in w.superseded) for w in students)
        instead = ("--preset flat (one student per file)" if preset != "flat" else
                   "--pattern '(?P<student>[^/]+)\\.ipynb$' (the whole file name is the student)")
        notes.append(f"{source}: {old} of {old + kept} notebooks were set aside as older attempts of "
                     f"{owners} student{'s' * (owners != 1)} (read as {preset}); if each file is a "
                     f"different student, grade it with {instead}")
    return notes


def _nothing_to_grade(sources: list[Path], unmatched: list[Unmatched]) -> str:
    where = ", ".join(str(s) for s in sources)
    if not unmatched:
        return f"nothing to grade: {where} holds no files"
    first = unmatched[0]
    more = f"; {len(unmatched) - 1} more listed with -v" if len(unmatched) > 1 else ""
    return (f"nothing to grade: {where} holds {len(unmatched)} file{'s' * (len(unmatched) != 1)} but no "
            f"student's notebook ({Path(first.path).name}: {first.reason}{more})")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _remove_unpacked(extract_to: Path, names: set[str], existed: Path) -> None:
    """Undo what this intake unpacked, and the folders it created for it."""
    for name in names:
        shutil.rmtree(extract_to / name, ignore_errors=True)
    folder = extract_to
    while folder != existed and folder.is_relative_to(existed):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break
        folder = folder.parent


def compile_pattern(pattern: str) -> re.Pattern:
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise IntakeError(f"--pattern is not a valid regular expression: {exc}") from None
    if "student" not in regex.groupindex:
        raise IntakeError("--pattern needs a named group for the student, e.g. (?P<student>[^/]+)")
    unknown = set(regex.groupindex) - {"student", "id", "assignment", "attempt", "late"}
    if unknown:
        raise IntakeError(f"--pattern has groups the grader does not know: {', '.join(sorted(unknown))} "
                          "(known: student, id, assignment, attempt, late)")
    return regex


# --- files out of folders and zips --------------------------------------------------------------

def _files_of(source: Path, extract_to: Path, unpacked: set[str]) -> tuple[list[Path], Path, list[Unmatched]]:
    """The files of one source and the folder their LMS names are relative to."""
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file()), source, []
    if not source.exists():
        raise IntakeError(f"{source}: no such file or folder")
    if source.suffix.lower() == ".zip":
        root = _free_folder(extract_to, source.stem, unpacked)
        problems = extract_zip(source, root)
        return sorted(p for p in root.rglob("*") if p.is_file()), root, problems
    return [source], source.parent, []


def _free_folder(parent: Path, stem: str, taken: set[str]) -> Path:
    """``parent/<stem>``: the same for later runs of the same zip, so paths stay the same."""
    from grader.core.files import safe_file_name

    name = safe_file_name(stem)
    name = next(n for n in (name, *(f"{name}-{i}" for i in range(2, len(taken) + 3))) if n not in taken)
    taken.add(name)
    folder = parent / name
    if folder.exists():
        shutil.rmtree(folder)  # ours from an earlier run: unpack afresh
    folder.mkdir(parents=True)
    return folder


def extract_zip(archive: Path, into: Path) -> list[Unmatched]:
    """Unpack ``archive`` into ``into``; members that would escape it or are too big are listed."""
    problems: list[Unmatched] = []
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"{archive}: not a readable zip file ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise IntakeError(f"{archive}: holds {len(members)} files, more than the {MAX_MEMBERS} allowed")
        written = 0
        for info in members:
            shown = f"{archive}!{info.filename}"
            if info.is_dir():
                continue
            relative = _safe_member_path(info)
            if relative is None:
                problems.append(Unmatched(shown, "unsafe path in the zip (absolute or leading outside it)"))
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                problems.append(Unmatched(shown, "a symbolic link in the zip, not unpacked"))
                continue
            if info.flag_bits & 0x1:
                problems.append(Unmatched(shown, "encrypted in the zip, cannot be read"))
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                problems.append(Unmatched(shown, f"larger than {MAX_MEMBER_BYTES // 2**20} MB, not unpacked"))
                continue
            if written + info.file_size > MAX_TOTAL_BYTES:
                problems.append(Unmatched(shown, f"the zip unpacks to more than {MAX_TOTAL_BYTES // 2**30} GB; "
                                                 "the rest was not unpacked"))
                continue
            target = into.joinpath(*relative.parts)
            try:
                written += _copy_member(zf, info, target)
            except _TooBig:
                problems.append(Unmatched(shown, f"unpacks to more than {MAX_MEMBER_BYTES // 2**20} MB, "
                                                 "not unpacked"))
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)
                problems.append(Unmatched(shown, f"could not be unpacked ({type(exc).__name__}: {exc})"))
    return problems


class _TooBig(Exception):
    pass


def _safe_member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> int:
    """Stream one member out, trusting its actual size rather than the size it declares."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with zf.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > MAX_MEMBER_BYTES:
                dst.close()
                target.unlink(missing_ok=True)
                raise _TooBig
            dst.write(chunk)
    stamp = _zip_time(info)
    if stamp is not None:
        os.utime(target, (stamp, stamp))  # later attempts sort after earlier ones by time too
    return size


def _zip_time(info: zipfile.ZipInfo) -> float | None:
    try:
        # Zips store no time zone; the LMS servers that write them keep UTC.
        return datetime.datetime(*info.date_time, tzinfo=datetime.timezone.utc).timestamp()
    except (ValueError, OverflowError):
        return None


# --- whose file is it ----------------------------------------------------------------------------

def _detect(files: list[Path], root: Path, catalog=None) -> str:
    names = [f.name for f in files]
    parts = {part for f in files for part in f.relative_to(root).parts}
    if any(MOODLE_PREFIX.match(p) for p in parts):
        return "moodle"
    if any(CANVAS_NAME.match(n) and n.lower().endswith(".ipynb") for n in names):
        return "canvas"
    notebooks = [f for f in files if f.name.lower().endswith(".ipynb") and not f.name.startswith(".")]
    if notebooks and all(f.parent == root for f in notebooks) and not _one_students_work(notebooks, catalog):
        return "flat"
    return "folders"


def _one_students_work(notebooks: list[Path], catalog) -> bool:
    """Notebooks named after the assignments, one name per assignment (attempts aside): a
    student's own folder (``alice/Initialization.ipynb``, ``Optimization_methods (1).ipynb``)."""
    if catalog is None:
        return False
    names: dict[str, set[str]] = {}
    for path in notebooks:
        guess = catalog.guess_from_name(path.name)
        if guess is None:
            return False
        names.setdefault(guess.slug, set()).add(_attempt(path.name, "flat")[0])
    return all(len(own) == 1 for own in names.values())


def _match(files: list[Path], root: Path, preset: str, regex: re.Pattern | None, catalog,
           source: str) -> tuple[list[tuple[Student, Submission]], list[Unmatched]]:
    found, missed = [], []
    for path in files:
        relative = path.relative_to(root).as_posix()
        skip = next((why for part, why in SYSTEM_PARTS.items() if part in PurePosixPath(relative).parts), None)
        if skip or path.name.startswith("._") or path.name == ".DS_Store":
            missed.append(Unmatched(str(path), skip or "system file"))
            continue
        fields, why = _fields(path, relative, preset, regex)
        if fields is None:
            missed.append(Unmatched(str(path), why))
            continue
        if not path.name.lower().endswith(".ipynb"):
            what = "a zip inside the download: unpack it first" if path.suffix.lower() == ".zip" else \
                f"not a notebook ({path.suffix or 'no extension'})"
            missed.append(Unmatched(str(path), what))
            continue
        slug, why = _assignment_of(fields, catalog)
        if why:
            missed.append(Unmatched(str(path), why))
            continue
        own, attempt = _attempt(fields["file"], preset)
        found.append((_student_from(fields, preset), Submission(
            path=path, name=relative, assignment=slug, attempt=max(attempt, fields["attempt"]),
            late=fields["late"], own_name=own, source=source, submitted=_file_time(path))))
    return _split_moodle_namesakes(found), missed


def _file_time(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return ""
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(timespec="seconds")


def _fields(path: Path, relative: str, preset: str, regex: re.Pattern | None) -> tuple[dict | None, str]:
    """student, id, assignment, attempt, late and the student's own file name, or why not."""
    if preset == "pattern":
        assert regex is not None  # the pattern preset comes with its regular expression
        m = regex.search(relative)
        if not m or not m.group("student"):
            return None, "does not match --pattern"
        groups = m.groupdict()
        attempt = groups.get("attempt") or "0"
        if not attempt.isdigit():
            return None, f"--pattern's attempt group matched {attempt!r}, not a number"
        return {"student": groups["student"], "id": groups.get("id") or "", "assignment": groups.get("assignment"),
                "attempt": int(attempt), "late": bool(groups.get("late")), "file": path.name}, ""
    if preset == "canvas":
        m = CANVAS_NAME.match(path.name)
        if not m:
            return None, "name does not follow Canvas's login_userid_submissionid_file pattern"
        return {"student": m["student"], "id": m["id"], "assignment": None, "attempt": 0,
                "late": bool(m["late"]), "file": m["file"]}, ""
    if preset == "moodle":
        for part in PurePosixPath(relative).parts:
            m = MOODLE_PREFIX.match(part)
            if m:
                own = m["rest"] if part == path.name else path.name  # flat layout: prefix on the file
                return {"student": m["student"], "id": m["id"], "assignment": None, "attempt": 0,
                        "late": False, "file": own or path.name}, ""
        return None, "path has no Moodle 'Full Name_id_assignsubmission_file_' part"
    if preset == "flat":
        return {"student": _without_attempt(path.stem, preset)[0], "id": "", "assignment": None, "attempt": 0,
                "late": False, "file": path.name}, ""
    return {"student": path.parent.name, "id": "", "assignment": None, "attempt": 0, "late": False,
            "file": path.name}, ""


def _attempt(file_name: str, preset: str) -> tuple[str, int]:
    """The student's file name without a later attempt's suffix, and the attempt number.

    'Lab-2.ipynb' (Canvas, or a flat folder) -> ('lab.ipynb', 2); 'Lab (1).ipynb' (a browser's
    copy) -> ('lab.ipynb', 1).
    """
    path = PurePosixPath(file_name)
    stem, attempt = _without_attempt(path.stem, preset)
    return (stem + path.suffix).lower(), attempt


def _without_attempt(stem: str, preset: str) -> tuple[str, int]:
    """'Lab-2' -> ('Lab', 2) where the preset's LMS numbers attempts so; 'Lab (1)' -> ('Lab', 1)."""
    attempt = 0
    for rule in ((CANVAS_ATTEMPT, COPY_SUFFIX) if preset in ("canvas", "flat") else (COPY_SUFFIX,)):
        m = rule.match(stem)
        if m:
            stem, attempt = m["base"], max(attempt, int(m["attempt"]))
    return stem, attempt


def _assignment_of(fields: dict, catalog) -> tuple[str | None, str]:
    named = fields.get("assignment")
    if catalog is None:
        return None, ""
    if named:
        try:
            return catalog.get(named).slug, ""
        except KeyError:
            guess = catalog.guess_from_name(named)
            if guess is None:
                known = ", ".join(a.slug for a in catalog.assignments)
                return None, f"assignment {named!r} from --pattern is none of: {known}"
            return guess.slug, ""
    guess = catalog.guess_from_name(fields["file"])
    return (guess.slug if guess else None), ""


def _student_from(fields: dict, preset: str) -> Student:
    name = fields["student"]
    if preset == "moodle":  # Moodle's number differs per assignment: the name is the identity
        return Student(key=name, name=name)
    if fields["id"]:
        return Student(key=fields["id"], name=name, lms_id=fields["id"])
    return Student(key=name, name=name)


def _split_moodle_namesakes(found: list[tuple[Student, Submission]]) -> list[tuple[Student, Submission]]:
    """Two participants of one Moodle download with the same name stay two students."""
    ids: dict[str, set[str]] = {}
    for who, sub in found:
        m = _moodle_id(sub)
        if m:
            ids.setdefault(who.key, set()).add(m)
    shared = {key for key, numbers in ids.items() if len(numbers) > 1}
    return [(replace(who, key=f"{who.key}_{_moodle_id(sub)}") if who.key in shared else who, sub)
            for who, sub in found]


def _moodle_id(sub: Submission) -> str:
    for part in PurePosixPath(sub.name).parts:
        m = MOODLE_PREFIX.match(part)
        if m:
            return m["id"]
    return ""


# --- one notebook per student and assignment ---------------------------------------------------

def _group(found: list[tuple[Student, Submission]], people: Roster | None) -> list[StudentWork]:
    by_key: dict[str, StudentWork] = {}
    for who, sub in found:
        if people:
            stated = people.submitted_at(who, sub.assignment)
            who = people.enrich(who)
            if stated:  # the instructor's column beats any time the files carry
                sub = replace(sub, submitted=stated)
        work = by_key.setdefault(who.key, StudentWork(who))
        work.submissions.append(sub)
    for work in by_key.values():
        slots: dict[str, list[Submission]] = {}
        for sub in sorted(work.submissions, key=_age):
            # Unknown assignment: attempts share a file name within one source (an LMS
            # download is one assignment, so equal names in two downloads are two assignments).
            slots.setdefault(sub.assignment or f"{sub.source}\0{sub.own_name}", []).append(sub)
        latest = []
        for attempts in slots.values():
            numbered = [replace(s, number=n, of=len(attempts)) for n, s in enumerate(attempts, start=1)]
            latest.append(numbered[-1])
            work.superseded += [replace(s, replaced_by=numbered[-1].name) for s in numbered[:-1]]
        work.submissions = sorted(latest, key=lambda s: (s.assignment or "~", s.name))
    return sorted(by_key.values(), key=lambda w: w.student.sort_key)


def _age(sub: Submission) -> tuple:
    try:
        mtime = sub.path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return (sub.attempt, mtime, sub.name)


# --- the roster ----------------------------------------------------------------------------------

@dataclass
class Roster:
    everyone: list[Student]
    used: set[int] = field(default_factory=set)  # rows some file was matched to
    times: dict[int, dict[str, str]] = field(default_factory=dict)  # row -> {slug or "": ISO time in UTC}
    time_slugs: set[str] = field(default_factory=set)  # the assignments its submitted_at:<slug> columns name

    def submitted_at(self, who: Student, slug: str | None) -> str:
        """When the roster says ``who`` handed ``slug`` in (its own column before the general one), or ''."""
        row = self.find(who)
        stated = self.times.get(id(row), {}) if row is not None else {}
        return stated.get(_squash(slug or ""), "") if slug and _squash(slug) in stated else stated.get("", "")

    def enrich(self, who: Student) -> Student:
        """``who`` with the roster's details; the key stays what the files say."""
        row = self.find(who)
        if row is None:
            return who
        self.used.add(id(row))
        return Student(key=who.key, **{f: getattr(row, f) or getattr(who, f) for f in ROSTER_COLUMNS})

    def unmatched(self) -> list[Student]:
        return [p for p in self.everyone if id(p) not in self.used]

    def find(self, who: Student) -> Student | None:
        if who.lms_id:
            hit = next((p for p in self.everyone if p.lms_id == who.lms_id), None)
            if hit:
                return hit
        wanted = who.name.casefold()
        return next((p for p in self.everyone
                     if wanted and wanted in {p.name.casefold(), p.username.casefold(), p.sis_login.casefold(),
                                              p.email.casefold()}), None)


def read_roster(path: Path) -> Roster:
    """A CSV with a header naming some of: name, lms_id, sis_id, sis_login, section, email, username.

    The LMS's own exports work as they come: Canvas's gradebook export (Student, ID, SIS User
    ID, SIS Login ID, Section; its 'Points Possible' row is skipped), Moodle's participants
    export (First name, Last name or Surname, Email address, Groups) and Moodle's grades
    export (First name, Last name, ID number, Email address; grade columns are ignored).

    An instructor may add when each student handed their work in: a ``submitted_at`` column
    (every assignment) or ``submitted_at:<slug>`` (one assignment), ISO 8601 times with or
    without a zone (none: UTC); an empty cell leaves the file's own time.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise IntakeError(f"roster {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IntakeError(f"roster {path}: cannot be read ({exc})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise IntakeError(f"roster {path}: empty; expected a header line such as name,lms_id,section,email")
    columns = _roster_columns(header)
    time_columns = _time_columns(header)
    given, family = _name_parts(header)
    if "name" not in columns and "lms_id" not in columns and given is None:
        raise IntakeError(f"roster {path}: no 'name', 'lms_id' or 'First name' and 'Last name' column "
                          f"(found: {', '.join(header)})")
    people: list[Student] = []
    times: dict[int, dict[str, str]] = {}
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        values = {f: row[i].strip() if i < len(row) else "" for f, i in columns.items()}
        if "name" not in columns and given is not None:  # Moodle: the full name as its downloads spell it
            parts = [row[i].strip() for i in (given, family) if i is not None and i < len(row)]
            values["name"] = " ".join(p for p in parts if p)
        if not values.get("name") and not values.get("lms_id"):
            continue
        if values.get("name", "").strip().lower() == "points possible":
            continue
        if values.get("lms_id"):
            if values["lms_id"] in seen:
                raise IntakeError(f"roster {path}: lms_id {values['lms_id']} on lines {seen[values['lms_id']]} "
                                  f"and {line}")
            seen[values["lms_id"]] = line
        key = values.get("lms_id") or values.get("name") or ""
        people.append(Student(key=key, **values))
        stated = _row_times(path, line, header, row, time_columns)
        if stated:
            times[id(people[-1])] = stated
    return Roster(people, times=times, time_slugs=set(time_columns.values()))


def _squash(text: str) -> str:
    """A header or slug compared without case, spaces, '_' or '-'."""
    return re.sub(r"[\s_-]+", "", text.lower())


SUBMITTED_AT = ("submittedat", "submitted", "submissiontime")  # header spellings, squashed


def _time_columns(header: list[str]) -> dict[int, str]:
    """Column index -> the slug its submission times are for ('' for every assignment)."""
    found = {}
    for index, name in enumerate(header):
        head, _, slug = name.partition(":")
        if _squash(head) in SUBMITTED_AT:
            found[index] = _squash(slug)
    return found


def _row_times(path: Path, line: int, header: list[str], row: list[str], columns: dict[int, str]) -> dict[str, str]:
    """The submission times one roster line states, as ISO in UTC; a malformed one is an error."""
    stated = {}
    for index, slug in columns.items():
        text = row[index].strip() if index < len(row) else ""
        if not text:
            continue
        moment = parse_time(text)
        if moment is None:
            raise IntakeError(f"roster {path}, line {line}: {header[index].strip()} is {text!r}, not an ISO 8601 "
                              "time such as 2024-03-01T23:59:00Z or 2024-03-01 23:59+01:00")
        stated[slug] = moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")
    return stated


def _name_parts(header: list[str]) -> tuple[int | None, int | None]:
    """Where Moodle's 'First name' and 'Last name' (or 'Surname') columns are."""
    squashed = [re.sub(r"[\s_]+", "", h.lower()) for h in header]
    given = next((squashed.index(s) for s in ("firstname", "givenname") if s in squashed), None)
    family = next((squashed.index(s) for s in ("lastname", "surname", "familyname") if s in squashed), None)
    return given, family


def _roster_columns(header: list[str]) -> dict[str, int]:
    squashed = [re.sub(r"[\s_]+", "", h.lower()) for h in header]
    columns = {}
    for ours, spellings in ROSTER_COLUMNS.items():
        for spelling in spellings:
            wanted = spelling.replace("_", "")
            if wanted in squashed:
                columns[ours] = squashed.index(wanted)
                break
    return columns
