"""Feedback for students: the hidden checks' inputs and expected values never leave the instructor.

The sample class is graded once; every hidden check's expected output and input, written the
ways a report writes numbers, is then looked for in each student's feedback page and JSON.
The instructor's reports of the same run must show some of them, or the search proves nothing.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from grader import api
from grader.grading.catalog import Catalog
from grader.grading.pipeline import make_call
from grader.reports.feedback import redact

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


def leaves(value):
    """Every float inside ``value`` (arrays, dicts, tuples and lists walked)."""
    if isinstance(value, np.ndarray):
        yield from (float(x) for x in value.ravel()[:2000] if value.dtype.kind == "f")
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, (float, np.floating)):
        yield float(value)


def significant_digits(text: str) -> int:
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def printed(values) -> set[str]:
    """Numbers as a report prints them, when specific enough to be evidence ('0.0001' is not)."""
    return {text for x in values for text in (f"{x:.6g}", repr(x)) if significant_digits(text) >= 4}


def needles(catalog: Catalog) -> set[str]:
    """Hidden checks' expected values and inputs, less what the public checks show anyway."""
    hidden, public = set(), set()
    for assignment in catalog.assignments:
        expected = catalog.expected(assignment)
        for check in assignment.checks:
            values = list(leaves(expected[check.name].value)) + list(leaves(make_call(assignment, check).kwargs))
            (hidden if check.hidden else public).update(printed(values))
    return hidden - public


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("feedback_run")
    api.grade_class([ROOT / "sample_class"], solutions=SOLUTIONS, out=out / "reports", workers=2)
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("reveal", ["none", "message", None])
def test_feedback_shows_no_hidden_input_or_expected_value(graded, reveal):
    catalog = Catalog(SOLUTIONS)
    secret = needles(catalog)
    assert len(secret) > 50
    instructor = "".join(p.read_text(encoding="utf-8") for p in (graded / "reports").glob("*/report.html"))
    assert any(n in instructor for n in secret), "the instructor's reports show hidden values (else this proves nothing)"

    out = graded / f"feedback-{reveal}"
    pages = api.feedback(solutions=SOLUTIONS, gradebook=graded / "reports" / "gradebook.sqlite", out=out,
                         reveal=reveal)
    assert len(pages) == 5
    without_hidden = _without_hidden_checks(graded / "reports" / "gradebook.sqlite")
    for page in pages:
        # A student's own output on public inputs may happen to equal a hidden value: that is theirs.
        own = without_hidden[page.parent.name]
        annotated = sorted(page.parent.glob("*.annotated.html"))
        assert annotated and all(f'href="{a.name}"' in page.read_text(encoding="utf-8") for a in annotated)
        for path in (page, page.with_name("feedback.json"), *annotated):
            text = path.read_text(encoding="utf-8")
            leaked = sorted(n for n in secret if n in text and n not in own)
            assert not leaked, f"{path} shows hidden values: {leaked[:5]}"


@functools.lru_cache(maxsize=1)  # one gradebook for every reveal level: render its pages once
def _without_hidden_checks(gradebook: Path) -> dict[str, str]:
    """Per student folder: their report and JSON with every hidden check taken out."""
    from grader.core.files import safe_file_name
    from grader.lms.export import records_from_gradebook
    from grader.reports.annotated import render_annotated_notebook
    from grader.reports.render import render_student_report

    texts = {}
    for record in records_from_gradebook(gradebook):
        results = [dict(r, functions=[dict(f, checks=[c for c in f["checks"] if not c["hidden"]])
                                      for f in r.get("functions", [])]) for r in record.results.values()]
        # The annotated notebook shows the student's own cells and saved outputs: theirs too.
        notebooks = [render_annotated_notebook(Path(r["source"]["path"]), r) or "" for r in results
                     if Path(r.get("source", {}).get("path", "")).is_file()]
        texts[safe_file_name(record.student.key)] = (json.dumps(results, default=str)
                                                      + render_student_report(results, student=record.student.key)
                                                      + "".join(notebooks))
    return texts


@pytest.mark.kernel
def test_full_reveal_is_the_instructor_report(graded):
    out = graded / "feedback-full"
    pages = api.feedback(solutions=SOLUTIONS, gradebook=graded / "reports" / "gradebook.sqlite", out=out,
                         reveal="full")
    secret = needles(Catalog(SOLUTIONS))
    own = _without_hidden_checks(graded / "reports" / "gradebook.sqlite")
    # The same search as above finds hidden values here: it can fail.
    assert any(n in p.read_text(encoding="utf-8") and n not in own[p.parent.name] for p in pages for n in secret)


def _result(hidden_status: str, message: str) -> dict:
    check = {"name": "scale_negative", "hidden": True, "description": "factor -2 on x = [0.123456789]",
             "points": 0.0, "max_points": 2, "status": hidden_status, "message": message, "rtol": 1e-7,
             "atol": 0.0, "hint": "you add instead of multiplying", "traceback": ["in scale, line 3: y = x[7]"],
             "details": [{"path": "result", "message": message, "expected": [-0.246913578], "got": [0.1],
                          "differs": [[0]], "truncated": False}], "seconds": 0.01}
    public = {**check, "name": "scale_public", "hidden": False, "status": "passed", "points": 1.0, "max_points": 1}
    return {"schema": "nbautograde.result/1", "assignment": {"slug": "tiny"}, "status": "graded",
            "functions": [{"name": "scale", "checks": [public, check]}]}


@pytest.mark.parametrize("status, message, plain", [
    ("failed", "result is -0.246914, expected 0.1", "the output differs"),
    ("error", "IndexError: index 7 is out of bounds for axis 0 with size 1", "raised IndexError"),
    ("timeout", "scale did not finish within 2 s", "did not finish in time"),
])
def test_message_level_keeps_status_and_points_and_drops_the_rest(status, message, plain):
    shown = redact(_result(status, message), "message")["functions"][0]["checks"]
    public, hidden = shown
    assert public["details"] and public["hint"]  # public checks stay whole
    assert hidden["status"] == status and hidden["max_points"] == 2
    assert plain in hidden["message"]
    assert not hidden["details"] and not hidden["hint"] and not hidden["traceback"] and not hidden["description"]
    assert "0.2469" not in json.dumps(hidden) and "7" not in hidden["message"]


def test_none_level_sums_a_functions_hidden_checks_in_one_line():
    shown = redact(_result("failed", "result is -0.246914"), "none")["functions"][0]["checks"]
    assert [c["name"] for c in shown] == ["scale_public", "hidden checks"]
    assert shown[1]["message"] == "0 of 1 hidden checks pass" and shown[1]["max_points"] == 2


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="reveal"):
        redact(_result("failed", "x"), "some")
