"""The result model: statuses say what they mean, totals are derived, the JSON is the documented one."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.core.results import (
    SCHEMA,
    AssignmentInfo,
    CheckResult,
    CheckStatus,
    FunctionResult,
    FunctionStatus,
    NotebookResult,
    NotebookStatus,
    Review,
    status_of,
)

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def documented_example() -> dict:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("## Result JSON"):]
    return json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))


def sample() -> NotebookResult:
    checks = (
        CheckResult(name="b", status=CheckStatus.FAILED, points=0.0, max_points=3, message="differs",
                    hidden=True, details=({"path": "x", "message": "m", "expected": 1, "got": 2,
                                           "differs": [], "truncated": False},)),
        CheckResult(name="a", status=CheckStatus.PASSED, points=2.0, max_points=2, hidden=False,
                    description="public", rtol=1e-7, atol=1e-10, seconds=0.0012345),
    )
    function = FunctionResult(name="f", status=FunctionStatus.OK, checks=checks,
                              regions=({"index": 1, "code": "y = 1", "where": "code cell 2, line 3"},),
                              review=Review(reason="your code sits above the START marker", other_score=5.0))
    return NotebookResult(
        student="ada", source={"path": "ada/A.ipynb", "sha256": "00"}, status=NotebookStatus.GRADED,
        max_score=5, assignment=AssignmentInfo("a", "A", "v1", 5), functions=(function,),
        notes=("n",), flags=("f",), timing={"total": 1.0, "execute": 0.5, "overhead": 0.1},
        containment={"active": [], "inactive": {}}, grader_version="0.1.0",
    )


def keys(node) -> object:
    """The shape of a JSON value: nested key sets, lists by their first element."""
    if isinstance(node, dict):
        # values, and the protection names under containment, vary; the keys around them do not
        return {k: None if k in ("expected", "got", "differs", "inactive") else keys(v) for k, v in node.items()}
    if isinstance(node, list) and node and isinstance(node[0], dict):
        return [keys(node[0])]
    return None


def test_documented_schema_is_what_to_dict_writes():
    documented, written = documented_example(), sample().to_dict()
    documented["functions"][0]["review"] = {"reason": "", "other_score": 0, "kept": ""}  # the doc shows the usual null
    assert keys(written) == keys(documented)
    assert written["schema"] == documented["schema"] == SCHEMA


def test_totals_are_derived_from_the_checks():
    result = sample()
    assert result.score == 2.0
    assert result.functions[0].max_score == 5
    assert result.checks[0].name == "b"
    assert result.to_dict()["functions"][0]["score"] == 2.0
    assert [f.name for f in result.needs_review] == ["f"]


def test_round_trip_through_json_keeps_everything():
    result = sample()
    again = NotebookResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.to_dict() == result.to_dict()
    assert again.functions[0].checks[0].status is CheckStatus.FAILED


def test_results_are_frozen():
    with pytest.raises(AttributeError):
        sample().status = NotebookStatus.CRASHED  # type: ignore[misc]


def test_statuses_say_what_they_mean():
    assert [s.value for s in NotebookStatus if s.retried] == ["crashed", "kernel_error"]
    assert [s.value for s in NotebookStatus if s.unreadable] == ["unreadable", "unrecognised"]
    assert all(s.counts != s.retried for s in NotebookStatus)
    assert [s.value for s in FunctionStatus if s.runnable] == ["ok", "fallback"]
    assert FunctionStatus.MISSING.skipped_check_status is CheckStatus.NOT_ATTEMPTED
    assert FunctionStatus.SYNTAX_ERROR.skipped_check_status is CheckStatus.ERROR
    assert NotebookStatus.KERNEL_ERROR.label == "kernel failed"


def test_an_unknown_status_word_is_graded_again():
    assert status_of({"status": "from a newer grader"}).retried
    assert status_of({"status": "graded"}) is NotebookStatus.GRADED


def test_from_dict_refuses_another_schema():
    with pytest.raises(ValueError, match="schema"):
        NotebookResult.from_dict({"schema": "something/2"})


@pytest.mark.parametrize("fixture", sorted((Path(__file__).parent / "fixtures" / "results").glob("*.json")),
                         ids=lambda p: p.stem)
def test_result_fixtures_hold_exactly_what_the_engine_writes(fixture):
    data = json.loads(fixture.read_text(encoding="utf-8"))
    assert NotebookResult.from_dict(data).to_dict() == data
