"""What a run shows on the terminal: a progress line while it grades, a summary table at the end.

The progress line goes to stderr and only when stderr is a terminal, so logs, pipes and CI
jobs see none of it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from grader.core.files import format_number


class Progress:
    """One line on a terminal: students done of all, notebooks failed so far, time left. Silent elsewhere."""

    def __init__(self, stream=None, *, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = self.done = self.failed = 0
        self.started = time.monotonic()
        self.shown = False

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        self._draw()

    def update(self, done: int, failed: int) -> None:
        self.done, self.failed = done, failed
        self._draw()

    def clear(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def redraw(self) -> None:
        self._draw()

    def close(self) -> None:
        self.clear()
        self.total = 0

    def line(self) -> str:
        width = 24
        filled = round(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        text = f"grading [{bar}] {self.done}/{self.total} students"
        if self.failed:
            text += f", {self.failed} notebook{'s' * (self.failed != 1)} failed"
        return text + f", {self._left()}"

    def _left(self) -> str:
        if not self.done:
            return "time left: estimating"
        seconds = (time.monotonic() - self.started) / self.done * (self.total - self.done)
        return f"about {_duration(seconds)} left" if self.done < self.total else "done"

    def _draw(self) -> None:
        if not self.enabled or not self.total:
            return
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()
        self.shown = True


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# --- the summary table -----------------------------------------------------------------------------

def format_summary(summary, *, out: Path, gradebook: Path) -> str:
    """The table printed at the end of a run; problem rows only when there is something to say."""
    rows = [("students", str(summary.students)),
            ("notebooks", f"{summary.notebooks}  (graded now {summary.graded}, unchanged {summary.unchanged})")]
    optional = [("failed to read", summary.failed_to_read, "unreadable or not an assignment's notebook"),
                ("crashed", summary.crashed, "graded again on the next run"),
                ("kernel failed", summary.kernel_errors, "graded again on the next run"),
                ("timed out", summary.timed_out, "graded; some checks hit the time limit"),
                ("files not matched", summary.unmatched, "listed with -v and in the class overview"),
                ("older attempts", summary.superseded, "not graded: a later attempt was"),
                ("on roster, no file", summary.not_submitted, ""),
                ("needs review", len(summary.needs_review),
                 f"functions whose whole definition scores higher; review policy {summary.review_policy}")]
    rows += [(label, f"{count}  ({why})" if why else str(count)) for label, count, why in optional if count]
    if summary.average is not None:
        parts = [f"{title} {_number(avg)} / {_number(top)}" for title, (avg, top) in summary.averages.items()]
        rows.append(("average score", f"{_number(summary.average)} / {_number(summary.max_total)}"
                                      + (f"  ({', '.join(parts)})" if parts else "")))
    width = max(len(label) for label, _ in rows)
    head = f"run {summary.run_id} {summary.status} in {_duration(summary.seconds)}"
    head += f" with {summary.workers} worker{'s' * (summary.workers != 1)}" if summary.workers else ""
    lines = [head] + [f"  {label:<{width}}  {value}" for label, value in rows]
    where = f"reports under {out}/, gradebook {gradebook}"
    if summary.overview:
        where += f", class overview {summary.overview}"
    return "\n".join(lines + [where])


def _number(value: float) -> str:
    return format_number(value, 1)
