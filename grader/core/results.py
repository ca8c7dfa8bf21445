"""The result model: what grading one notebook produced, typed and frozen.

A ``NotebookResult`` holds ``FunctionResult``s, which hold ``CheckResult``s. Totals are
properties, never stored twice; statuses are enums that say what each status means (does it
count as a grade, is it graded again on the next run, how is it shown), so no other module
keeps its own list of status words. ``to_dict()`` is the versioned JSON every report and
export is rendered from (schema in docs/architecture.md); ``from_dict()`` reads it back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from grader.core.files import write_text_atomic

SCHEMA = "nbautograde.result/1"


class NotebookStatus(str, Enum):
    """How a whole submission ended."""

    GRADED = "graded"
    UNREADABLE = "unreadable"  # not a notebook we can read: a result with the reason, 0 points
    UNRECOGNISED = "unrecognised"  # a notebook, but of no known assignment (or the wrong one)
    CRASHED = "crashed"  # the grader's worker died: not the student's doing
    KERNEL_ERROR = "kernel_error"  # no kernel could be started for it: not the student's doing

    @property
    def label(self) -> str:
        return _NOTEBOOK_LABELS[self]

    @property
    def counts(self) -> bool:
        """The score is a grade (possibly 0 with a reason); exports write it."""
        return self not in (NotebookStatus.CRASHED, NotebookStatus.KERNEL_ERROR)

    @property
    def retried(self) -> bool:
        """The grader failed, so the next run grades the submission again."""
        return not self.counts

    @property
    def unreadable(self) -> bool:
        """The file itself is the problem (the student's to fix)."""
        return self in (NotebookStatus.UNREADABLE, NotebookStatus.UNRECOGNISED)


_NOTEBOOK_LABELS = {
    NotebookStatus.GRADED: "graded", NotebookStatus.UNREADABLE: "unreadable",
    NotebookStatus.UNRECOGNISED: "not recognised", NotebookStatus.CRASHED: "crashed",
    NotebookStatus.KERNEL_ERROR: "kernel failed",
}


class FunctionStatus(str, Enum):
    """How a graded function was found in the submission."""

    OK = "ok"
    FALLBACK = "fallback"  # no definition kept its markers: the whole definition was graded
    NOT_ATTEMPTED = "not_attempted"
    MISSING = "missing"
    REGION_ERROR = "region_error"
    SYNTAX_ERROR = "syntax_error"

    @property
    def label(self) -> str:
        return _FUNCTION_LABELS[self]

    @property
    def runnable(self) -> bool:
        return self in (FunctionStatus.OK, FunctionStatus.FALLBACK)

    @property
    def skipped_check_status(self) -> CheckStatus:
        """What each check of a function that cannot run is marked."""
        if self in (FunctionStatus.MISSING, FunctionStatus.NOT_ATTEMPTED):
            return CheckStatus.NOT_ATTEMPTED
        return CheckStatus.ERROR


_FUNCTION_LABELS = {
    FunctionStatus.OK: "graded", FunctionStatus.FALLBACK: "markers missing, whole definition graded",
    FunctionStatus.NOT_ATTEMPTED: "not attempted", FunctionStatus.MISSING: "function missing",
    FunctionStatus.REGION_ERROR: "region error", FunctionStatus.SYNTAX_ERROR: "syntax error",
}


class CheckStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NOT_ATTEMPTED = "not_attempted"
    TIMEOUT = "timeout"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def passed(self) -> bool:
        return self is CheckStatus.PASSED


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    points: float
    max_points: float
    message: str = ""
    hidden: bool = False
    description: str = ""
    rtol: float = 0.0
    atol: float = 0.0
    hint: str | None = None
    traceback: tuple[dict, ...] = ()
    details: tuple[dict, ...] = ()
    seconds: float | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "hidden": self.hidden, "description": self.description,
            "points": self.points, "max_points": self.max_points, "status": self.status.value,
            "message": self.message, "rtol": self.rtol, "atol": self.atol, "hint": self.hint,
            "traceback": list(self.traceback), "details": list(self.details),
            "seconds": None if self.seconds is None else round(float(self.seconds), 4),
        }

    @classmethod
    def from_dict(cls, data: dict) -> CheckResult:
        return cls(
            name=data["name"], status=CheckStatus(data["status"]), points=float(data["points"]),
            max_points=float(data["max_points"]), message=data.get("message", ""),
            hidden=bool(data.get("hidden")), description=data.get("description", ""),
            rtol=data.get("rtol", 0.0), atol=data.get("atol", 0.0), hint=data.get("hint"),
            traceback=tuple(data.get("traceback") or ()), details=tuple(data.get("details") or ()),
            seconds=data.get("seconds"),
        )


class ReviewPolicy(str, Enum):
    """Which score a function gets when its second opinion (the student's whole definition)
    scores higher than its regions."""

    REGIONS = "regions"  # the regions' score, flagged for review (the default)
    BEST = "best"  # the higher of the two, flagged for review
    STRICT = "strict"  # the regions' score; no second opinion is run


class Kept(str, Enum):
    """Which of the two grades a function's checks (and so its score) come from."""

    REGIONS = "regions"
    DEFINITION = "definition"  # the student's whole definition (review policy "best")


@dataclass(frozen=True)
class Review:
    """Why a person should look at a function's grade, and what it would score otherwise.

    ``kept`` says which grade the function's checks hold; ``other_score`` is the other one's.
    """

    reason: str
    other_score: float
    kept: Kept = Kept.REGIONS

    def line(self, score: float, max_score: float) -> str:
        """Both scores and the reason, in one line for reports and the overview."""
        regions, whole = (score, self.other_score) if self.kept is Kept.REGIONS else (self.other_score, score)
        counted = "the regions count" if self.kept is Kept.REGIONS else "the whole definition counts"
        return (f"regions {regions:g}/{max_score:g}, whole definition {whole:g}/{max_score:g} ({counted}): "
                f"{self.reason}")

    def to_dict(self) -> dict:
        return {"reason": self.reason, "other_score": self.other_score, "kept": self.kept.value}

    @classmethod
    def from_dict(cls, data: dict) -> Review:
        return cls(reason=data["reason"], other_score=float(data["other_score"]),
                   kept=Kept(data.get("kept", Kept.REGIONS.value)))


@dataclass(frozen=True)
class FunctionResult:
    name: str
    status: FunctionStatus
    checks: tuple[CheckResult, ...] = ()
    message: str = ""
    regions: tuple[dict, ...] = ()
    review: Review | None = None

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    @property
    def review_line(self) -> str:
        """Empty when no review is needed."""
        return self.review.line(self.score, self.max_score) if self.review else ""

    def to_dict(self) -> dict:
        return {
            "name": self.name, "status": self.status.value, "message": self.message,
            "score": self.score, "max_score": self.max_score, "regions": list(self.regions),
            "checks": [c.to_dict() for c in self.checks],
            "review": self.review.to_dict() if self.review else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FunctionResult:
        return cls(
            name=data["name"], status=FunctionStatus(data["status"]),
            checks=tuple(CheckResult.from_dict(c) for c in data.get("checks", ())),
            message=data.get("message", ""), regions=tuple(data.get("regions") or ()),
            review=Review.from_dict(data["review"]) if data.get("review") else None,
        )


@dataclass(frozen=True)
class AssignmentInfo:
    slug: str
    title: str
    version: str
    max_score: float  # the assignment's full worth, whatever mode it was graded in

    def to_dict(self) -> dict:
        return {"slug": self.slug, "title": self.title, "version": self.version, "max_score": self.max_score}

    @classmethod
    def from_dict(cls, data: dict) -> AssignmentInfo:
        return cls(slug=data["slug"], title=data["title"], version=data.get("version", ""),
                   max_score=float(data.get("max_score") or 0))


@dataclass(frozen=True)
class NotebookResult:
    """One submission's result. ``max_score`` is what the checks that ran are worth
    (the public points alone in student mode), or the assignment's when nothing ran."""

    student: str
    source: dict  # {"path": ..., "sha256": ...}
    status: NotebookStatus
    max_score: float
    assignment: AssignmentInfo | None = None
    mode: str = "instructor"
    message: str = ""
    functions: tuple[FunctionResult, ...] = ()
    notes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    timing: dict = field(default_factory=dict)
    containment: dict | None = None
    grader_version: str = ""
    review_policy: ReviewPolicy = ReviewPolicy.REGIONS
    attempt: dict | None = None  # of several attempts: {"number", "of", "set_aside": [numbers]}

    @property
    def score(self) -> float:
        return sum(f.score for f in self.functions)

    @property
    def checks(self) -> list[CheckResult]:
        return [c for f in self.functions for c in f.checks]

    @property
    def needs_review(self) -> list[FunctionResult]:
        return [f for f in self.functions if f.review is not None]

    def with_status(self, status: NotebookStatus, message: str) -> NotebookResult:
        return replace(self, status=status, message=message)

    def to_dict(self) -> dict:
        data = {
            "schema": SCHEMA, "grader_version": self.grader_version,
            "assignment": self.assignment.to_dict() if self.assignment else None,
            "student": self.student, "source": dict(self.source), "mode": self.mode,
            "review_policy": self.review_policy.value, "status": self.status.value, "message": self.message,
            "score": self.score, "max_score": self.max_score,
            "functions": [f.to_dict() for f in self.functions],
            "notes": list(self.notes), "flags": list(self.flags), "timing": dict(self.timing),
        }
        if self.containment is not None:
            data["containment"] = self.containment
        if self.attempt is not None:
            data["attempt"] = dict(self.attempt)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NotebookResult:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a result of schema {SCHEMA}: {data.get('schema')!r}")
        return cls(
            student=data["student"], source=dict(data.get("source") or {}),
            status=NotebookStatus(data["status"]), max_score=float(data.get("max_score") or 0),
            assignment=AssignmentInfo.from_dict(data["assignment"]) if data.get("assignment") else None,
            mode=data.get("mode", "instructor"), message=data.get("message", ""),
            functions=tuple(FunctionResult.from_dict(f) for f in data.get("functions", ())),
            notes=tuple(data.get("notes", ())), flags=tuple(data.get("flags", ())),
            timing=dict(data.get("timing") or {}), containment=data.get("containment"),
            grader_version=data.get("grader_version", ""),
            review_policy=ReviewPolicy(data.get("review_policy", ReviewPolicy.REGIONS.value)),
            attempt=data.get("attempt"),
        )


def status_of(data: dict) -> NotebookStatus:
    """The status of a result dict read from disk or the gradebook.

    A word this version does not know is read as ``CRASHED``: not a grade, graded again.
    """
    try:
        return NotebookStatus(data.get("status"))
    except ValueError:
        return NotebookStatus.CRASHED



def write_result(result: NotebookResult, path: Path) -> Path:
    """The result's JSON at ``path``, written atomically."""
    return write_text_atomic(path, json.dumps(result.to_dict(), indent=1, default=str))
