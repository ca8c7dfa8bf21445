"""The student package: the checker and the released assignments in one installable wheel.

``grader release`` writes it into the released folder; a student installs it with
``%pip install`` from the notebook's first cell. Inside the wheel the released folder
(public checks, notebooks, support modules) sits in the package as ``grader/released/``,
so ``grader.check`` and ``grader check`` find the public checks wherever a notebook is.

The wheel is written with :mod:`zipfile` rather than a build backend, so that it is the
same bytes on every run: entries in sorted order, one fixed timestamp and fixed
permissions, nothing taken from the machine but the files themselves.
"""
from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from importlib import metadata
from pathlib import Path

import grader
from grader.grading.catalog import RELEASED_CHECKS_DIR

DISTRIBUTION = "nbautograde_student"
BUNDLE_DIR = "released"  # the released folder's place inside the installed package
WHEEL_PATTERN = re.compile(rf"^{DISTRIBUTION}-.+-py3-none-any\.whl$")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build clock in the file
PACKAGE_FILES = (".py", ".j2")  # with py.typed, everything the grader package needs at run time


def bundled_folder() -> Path | None:
    """The installed student package's copy of the released folder, if there is one."""
    folder = Path(grader.__file__).resolve().parent / BUNDLE_DIR
    return folder if (folder / RELEASED_CHECKS_DIR).is_dir() else None


def package_version(assignment_versions: list[str]) -> str:
    """The grader's version, plus a local label that changes with any assignment's version,
    so that pip replaces an installed package when the checks change."""
    digest = hashlib.sha256("\n".join(sorted(assignment_versions)).encode()).hexdigest()[:10]
    return f"{grader.__version__}+{digest}"


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION}-{version}-py3-none-any.whl"


def build_wheel(released: Path, version: str, *, summary: str) -> Path:
    """Write the student wheel into ``released`` (the folder ``grader release`` just wrote)
    and remove older student wheels there; return its path."""
    members: dict[str, bytes] = {}
    package = Path(grader.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        inside = path.relative_to(package)
        if not path.is_file() or "__pycache__" in inside.parts or inside.parts[0] == BUNDLE_DIR:
            continue
        if path.suffix in PACKAGE_FILES or path.name == "py.typed":
            members[f"grader/{inside.as_posix()}"] = path.read_bytes()
    for path in sorted(released.rglob("*")):
        inside = path.relative_to(released)
        if path.is_file() and "__pycache__" not in inside.parts and not WHEEL_PATTERN.match(path.name):
            members[f"grader/{BUNDLE_DIR}/{inside.as_posix()}"] = path.read_bytes()
    info = f"{DISTRIBUTION}-{version}.dist-info"
    members[f"{info}/METADATA"] = _metadata(version, summary).encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: nbautograde (grader release)\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    members[f"{info}/entry_points.txt"] = b"[console_scripts]\ngrader = grader.cli:main\n"
    members[f"{info}/top_level.txt"] = b"grader\n"
    members[f"{info}/RECORD"] = _record(members, f"{info}/RECORD").encode()

    path = released / wheel_name(version)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name in sorted(members, key=lambda n: (n.startswith(info), n)):  # dist-info last
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, members[name], compresslevel=9)
    for old in released.glob(f"{DISTRIBUTION}-*.whl"):
        if old.name != path.name and WHEEL_PATTERN.match(old.name):
            old.unlink()
    path.write_bytes(buffer.getvalue())
    return path


def _metadata(version: str, summary: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}",
             f"Summary: {summary}", "Requires-Python: >=3.10"]
    lines += [f"Requires-Dist: {requirement}" for requirement in _runtime_requirements()]
    return "\n".join(lines) + "\n"


def _runtime_requirements() -> list[str]:
    """What the grader itself needs to run (never its test or benchmark extras)."""
    for name in ("nbautograde", DISTRIBUTION):  # the instructor's install, or a student's
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        return sorted(r for r in requires if "extra ==" not in r)
    raise RuntimeError("the grader's own package metadata is missing: install it with pip install -e .")


def _record(members: dict[str, bytes], record_name: str) -> str:
    rows = []
    for name in sorted(members):
        digest = base64.urlsafe_b64encode(hashlib.sha256(members[name]).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(members[name])}")
    rows.append(f"{record_name},,")
    return "\n".join(rows) + "\n"
