"""Late work: due dates, per-student extensions and the penalty a late submission costs.

The policy comes from ``grader.toml`` (``[due]``, ``[late]``, ``[extensions]``). A penalty is
a percentage of the assignment's points, taken per started day (or hour) after the due
date plus any extension and grace period, never more than the cap, and all of it after
``no_credit_after_days``; the score never drops below 0. The raw score stays in the
gradebook: the penalty is applied when the class is read for reports and exports.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

from grader.core.config import Config
from grader.core.errors import UsageError

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Late:
    """How late one submission was and what it costs."""

    by: datetime.timedelta      # after the due date plus extension
    percent: float              # of the assignment's points
    penalty: float              # points taken off
    extension_days: float = 0.0

    def describe(self) -> str:
        hours = self.by / HOUR
        when = f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours"
        extended = f" (after a {self.extension_days:g}-day extension)" if self.extension_days else ""
        return f"late by {when}{extended}: -{self.percent:g}%"


@dataclass(frozen=True)
class LatePolicy:
    due: dict = field(default_factory=dict)         # slug -> aware datetime
    per_day: float = 0.0
    per_hour: float = 0.0
    grace_minutes: float = 0.0
    cap: float = 100.0
    no_credit_after_days: float | None = None
    extensions: dict = field(default_factory=dict)  # student key or name -> days, or {slug: days}

    @property
    def active(self) -> bool:
        return bool(self.due)

    def extension(self, student_keys: tuple[str, ...], slug: str) -> float:
        for who in student_keys:
            value = self.extensions.get(who)
            if isinstance(value, dict):
                value = value.get(slug)
            if value is not None:
                return float(value)
        return 0.0

    def assess(self, slug: str, submitted: datetime.datetime | None, max_score: float,
               student_keys: tuple[str, ...] = ()) -> Late | None:
        """What lateness costs; None when the assignment has no due date, the time is not
        known, or the work came in on time."""
        due = self.due.get(slug)
        if due is None or submitted is None:
            return None
        days = self.extension(student_keys, slug)
        by = submitted - (due + days * DAY)
        if by <= datetime.timedelta(minutes=self.grace_minutes):
            return None
        if self.no_credit_after_days is not None and by > self.no_credit_after_days * DAY:
            percent = 100.0
        else:
            steps = math.ceil(by / DAY) * self.per_day + math.ceil(by / HOUR) * self.per_hour
            percent = min(self.cap, steps)
        return Late(by=by, percent=percent, penalty=round(max_score * percent / 100, 4), extension_days=days)


def policy_from(config: Config) -> LatePolicy:
    """The late policy ``grader.toml`` describes (none: an inactive policy)."""
    late = config.late
    known = {"per_day", "per_hour", "grace_minutes", "cap", "no_credit_after_days"}
    unknown = sorted(set(late) - known)
    if unknown:
        raise UsageError(f"{config.path}: [late] has no setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    try:
        numbers = {k: float(v) for k, v in late.items()}
    except (TypeError, ValueError):
        raise UsageError(f"{config.path}: every [late] setting is a number of percent, minutes or days") from None
    if numbers.get("per_day") and numbers.get("per_hour"):
        raise UsageError(f"{config.path}: [late] takes per_day or per_hour, not both")
    return LatePolicy(due=dict(config.due), extensions=dict(config.extensions), **numbers)

