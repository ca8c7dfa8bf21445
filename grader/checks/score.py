"""Points from verdicts: pure functions, no I/O."""
from __future__ import annotations

from grader.checks.compare import Verdict


def check_points(max_points: float, verdict: Verdict, *, partial: bool) -> float:
    if verdict.passed:
        return float(max_points)
    if not partial or verdict.leaves == 0:
        return 0.0
    fraction = (verdict.leaves - verdict.failed_leaves) / verdict.leaves
    return round(max_points * fraction, 2)


def total(items: list[dict], key: str = "points") -> float:
    return round(sum(float(i.get(key, 0) or 0) for i in items), 2)
