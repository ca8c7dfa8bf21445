"""What every page shares: the Jinja2 environment and coercions of untrusted result data.

Result files are read back from disk and may have been edited or truncated, so the view
models never index blindly: these helpers return the expected type or a default.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from grader.core.files import format_number

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a view-model slip fails loudly in tests
        trim_blocks=True,
        lstrip_blocks=True,
    )


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def as_number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value) if math.isfinite(value) else default


def format_points(value: float) -> str:
    """57.5 -> '57.5', 30.0 -> '30'; at most two decimals."""
    return format_number(value, 2)


def attempt_line(attempt: Any) -> str:
    """'attempt 2 of 2; attempt 1 set aside', or '' when the student handed in one attempt."""
    attempt = as_dict(attempt)
    if as_number(attempt.get("of"), 1) <= 1:
        return ""
    aside = [str(int(n)) for n in as_list(attempt.get("set_aside"))]
    text = f"attempt {int(as_number(attempt.get('number')))} of {int(as_number(attempt.get('of')))}"
    if aside:
        names = aside[0] if len(aside) == 1 else ", ".join(aside[:-1]) + " and " + aside[-1]
        text += f"; attempt{'s' * (len(aside) > 1)} {names} set aside"
    return text


def review_line(function: dict) -> str:
    """A function's needs-review line (both scores and the reason); empty when none is needed."""
    from grader.core.results import Review

    raw = function.get("review")
    if not raw:
        return ""
    try:
        review = Review.from_dict(raw)
    except (KeyError, ValueError, TypeError, AttributeError):  # an edited file: show what is there
        return as_text(as_dict(raw).get("reason"), "needs review")
    return review.line(as_number(function.get("score")), as_number(function.get("max_score")))
