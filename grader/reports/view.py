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
        auto_reload=False,  # templates are part of the package: no stat of each file at every include
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


def review_list(records) -> list[dict]:
    """What needs a person, from the class as exports see it (``ClassRecord``s whose results carry
    ``adjustments``): functions the second opinion flagged and not overridden since, notebooks
    that could not be read or recognised, the grader's own failures, and overrides made for an
    earlier submission. ``grader review`` and the overview both show this list.

    Each item: ``student``, ``key``, ``assignment`` (slug), ``title``, ``function``, ``what``,
    ``detail``, ``score`` (what counts now), ``other`` (what the grader would give instead,
    None when there is no other score) and ``command`` (how to decide).
    """
    from grader.core.results import NotebookStatus, status_of

    items = []
    for record in records:
        for slug, result in record.results.items():
            result = as_dict(result)
            adjustments = as_dict(result.get("adjustments"))
            title = as_text(as_dict(result.get("assignment")).get("title"), slug)

            def add(function: str, what: str, detail: str, score: float, other: float | None, command: str,
                    slug=slug, title=title, record=record) -> None:
                items.append({"student": record.student.display_name, "key": record.student.key,
                              "assignment": slug, "title": title, "function": function, "what": what,
                              "detail": detail, "score": score, "other": other, "command": command})

            status = status_of(result)
            decide = _override_command(record.student.key, slug)
            if status is not NotebookStatus.GRADED:
                command = decide + ' --points N --reason "..."' if status.counts else \
                    "grader grade again: the next run grades it again"
                add("", status.label, as_text(result.get("message")), as_number(result.get("score")), None, command)
            overridden = {as_text(o.get("function")) for o in map(as_dict, as_list(adjustments.get("overrides")))}
            for f in map(as_dict, as_list(result.get("functions"))):
                review, name = as_dict(f.get("review")), as_text(f.get("name"))
                if review and name not in overridden and "" not in overridden:
                    other = as_number(review.get("other_score"))
                    add(name, "needs review", review_line(f), as_number(f.get("score")), other,
                        f'{decide} {_quoted(name)} --accept --reason "..."  (or --points N)')
            for o in map(as_dict, as_list(adjustments.get("stale_overrides"))):
                function = as_text(o.get("function"))
                graded = next((as_number(f.get("score")) for f in map(as_dict, as_list(result.get("functions")))
                               if as_text(f.get("name")) == function), as_number(adjustments.get("raw_score")))
                add(function, "override outdated",
                    f"{format_points(as_number(o.get('points')))} set by {as_text(o.get('who'))} on "
                    f"{as_text(o.get('made_at'))[:10]} ({as_text(o.get('reason'))}) was for an earlier "
                    "submission; grade it again", graded, as_number(o.get("points")),
                    f'{decide}{" " + _quoted(function) if function else ""} --points N --reason "..."')
    return sorted(items, key=lambda i: (i["student"].casefold(), i["key"], i["assignment"], i["function"]))


def _override_command(key: str, slug: str) -> str:
    return f"grader override {_quoted(key)} {_quoted(slug)}"


def _quoted(word: str) -> str:
    import shlex

    return shlex.quote(word)
