"""The HTML report, judged by what a reader of the page sees.

Expected numbers and texts come from the fixtures themselves, so changing a
fixture changes what is asserted rather than breaking a hard-coded copy.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.core.files import safe_file_name
from grader.reports.render import render_student_report, write_student_report

FIXTURES = Path(__file__).parent / "fixtures" / "results"
XSS = "<script>alert(1)</script>"
BLOCKS = {"p", "div", "li", "td", "th", "tr", "pre", "caption", "summary", "h1", "h2", "h3", "h4"}


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def points(value: float) -> str:
    return f"{value:g}"


def checks(result: dict) -> list[dict]:
    return [c for f in result["functions"] for c in f["checks"]]


class Page(HTMLParser):
    """Collects the page's visible text, its value tables and its badges."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tables: list[dict] = []  # per value table: all cell indices, marked indices
        self.badges: list[str] = []
        self.pre: list[str] = []
        self._stack: list[tuple[str, dict]] = []
        self.feed(html)
        self.visible = " ".join("".join(self.text).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "table" and "values" in classes:
            self.tables.append({"cells": [], "differs": []})
        if tag == "td" and "data-index" in attrs and self.tables:
            self.tables[-1]["cells"].append(attrs["data-index"])
            if "differs" in classes:
                self.tables[-1]["differs"].append(attrs["data-index"])
        if tag == "span" and "badge" in classes:
            self.badges.append("")
        if tag == "pre":
            self.pre.append("")
        if tag in BLOCKS:
            self.text.append(" ")  # as a browser would break between blocks
        self._stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        open_tags = [(t, (a.get("class") or "").split()) for t, a in self._stack]
        if any(t in ("style", "title") for t, _ in open_tags):
            return
        self.text.append(data)
        if any(t == "span" and "badge" in c for t, c in open_tags):
            self.badges[-1] += data
        if any(t == "pre" for t, _ in open_tags):
            self.pre[-1] += data


def render(*names: str, student: str = "alice") -> tuple[str, Page]:
    html = render_student_report([load(n) for n in names], student=student)
    return html, Page(html)


# ---- totals and scores ------------------------------------------------------

def test_total_over_all_three_assignments_is_out_of_100():
    names = ("full_marks", "fallback", "partly_wrong")
    results = [load(n) for n in names]
    assert sorted(r["assignment"]["slug"] for r in results) == [
        "gradient_checking", "initialization", "optimization"]
    _, page = render(*names)
    total = sum(r["score"] for r in results)
    assert f"Total score: {points(total)} / 100" in page.visible
    for r in results:
        title, score, top = r["assignment"]["title"], r["score"], r["max_score"]
        assert f"{title}: {points(score)} / {points(top)}" in page.visible


def test_one_assignment_is_scored_out_of_its_own_max():
    result = load("full_marks")
    _, page = render("full_marks")
    assert f"Total score: {points(result['score'])} / {points(result['max_score'])}" in page.visible
    assert "/ 100" not in page.visible
    for function in result["functions"]:
        assert f"{function['name']}: {points(function['score'])} / {points(function['max_score'])}" in page.visible


def test_every_check_has_a_badge_with_its_status_in_words():
    result = load("partly_wrong")
    _, page = render("partly_wrong")
    words = {"passed": "passed", "failed": "failed", "error": "error"}
    check_badges = [b for b in page.badges if b in words.values()]
    assert check_badges == [words[c["status"]] for c in checks(result)]


# ---- failures: messages, hints, tracebacks, arrays --------------------------

def test_failing_checks_show_message_hint_and_traceback():
    result = load("partly_wrong")
    _, page = render("partly_wrong")
    failing = [c for c in checks(result) if c["status"] != "passed"]
    assert failing
    for check in failing:
        assert check["message"] in page.visible
        if check["hint"]:
            assert check["hint"] in page.visible
    last_lines = [c["traceback"][-1] for c in failing if c["traceback"]]
    assert last_lines and all(any(line in pre for pre in page.pre) for line in last_lines)
    assert not any("\x1b" in pre for pre in page.pre)  # colour codes are stripped


def test_differing_cells_are_marked_exactly_at_the_listed_indices():
    result = load("partly_wrong")
    _, page = render("partly_wrong")
    arrays = [d for c in checks(result) for d in c["details"] if isinstance(d["expected"], list)]
    assert arrays and len(page.tables) == 2 * len(arrays)  # expected and got, side by side
    for detail, (expected, got) in zip(arrays, zip(page.tables[::2], page.tables[1::2])):
        listed = sorted(",".join(map(str, i)) for i in detail["differs"])
        cells = len(detail["expected"]) * (len(detail["expected"][0]) if isinstance(detail["expected"][0], list) else 1)
        for table in (expected, got):
            assert sorted(table["differs"]) == listed
            assert len(table["cells"]) == cells


def test_nan_and_infinity_are_shown_as_text():
    _, page = render("partly_wrong")
    got = [t for t in page.tables if t["differs"]]
    assert got
    assert "nan" in page.visible.split() and "inf" in page.visible.split()


def test_scalar_difference_shows_both_values():
    result = load("fallback")
    html, page = render("fallback")
    (detail,) = [d for c in checks(result) for d in c["details"]]
    assert f"Expected ≠differs: {detail['expected']:.6g}" in page.visible
    assert f"Got ≠differs: {detail['got']:.6g}" in page.visible
    assert html.count('class="scalar differs"') == 2


def test_engine_style_values_nan_strings_and_scalars_without_indices():
    # The engine writes NaN as the string "nan" and lists no index for a scalar.
    result = load("partly_wrong")
    check = checks(result)[2]
    check["details"] = [
        {"path": "W", "expected": [0.5, 1.5], "got": ["nan", "-inf"], "differs": [[0], [1]]},
        {"path": "cost", "expected": 0.25, "got": 0.75, "differs": []},
    ]
    html = render_student_report([result], student="bob")
    page = Page(html)
    assert "≠differs: nan ≠differs: -inf" in page.visible
    assert "'nan'" not in page.visible
    assert html.count('class="scalar differs"') == 2


def test_deep_or_truncated_values_are_shown_as_text():
    result = load("partly_wrong")
    check = checks(result)[2]
    check["details"] = [
        {"path": "cube", "expected": [[[1, 2], [3, 4]]], "got": [[[1, 2], [3, 5]]], "differs": [[0, 1, 1]]},
        {"path": "cut", "expected": [1, 2, 3], "got": [1, 2, 4], "differs": [[2]], "truncated": True},
    ]
    page = Page(render_student_report([result], student="bob"))
    assert "[[[1, 2], [3, 5]]]" in page.pre
    assert "[1, 2, 4]" in page.pre
    assert "shortened" in page.visible


# ---- statuses other than graded ---------------------------------------------

def test_unreadable_notebook_shows_reason_and_zero():
    result = load("unreadable")
    _, page = render("unreadable")
    assert result["message"] in page.visible
    assert "unreadable" in page.badges
    assert f"{result['assignment']['title']}: 0 / {points(result['max_score'])}" in page.visible
    assert f"Total score: 0 / {points(result['max_score'])}" in page.visible


def test_unrecognised_submission_is_named_by_its_file():
    result = load("unreadable")
    result.update(assignment=None, status="unrecognised", max_score=0.0,
                  message="No graded function of a known assignment was found.")
    page = Page(render_student_report([result], student="carol"))
    file_name = result["source"]["path"].rsplit("/", 1)[-1]
    assert f"Unknown assignment ({file_name}): 0 / 0" in page.visible
    assert result["message"] in page.visible
    assert "not recognised" in page.badges


def test_fallback_function_flags_and_notes_are_shown():
    result = load("fallback")
    _, page = render("fallback")
    for line in result["flags"] + result["notes"]:
        assert line in page.visible
    fallback = [f for f in result["functions"] if f["status"] == "fallback"]
    assert fallback and all(f["message"] in page.visible for f in fallback)
    assert "markers missing, whole definition graded" in page.badges


def test_regions_show_where_they_are():
    result = load("partly_wrong")
    _, page = render("partly_wrong")
    for region in result["functions"][1]["regions"]:
        assert f"Your code, region {region['index']} ({region['where']})" in page.visible
    # the engine's form: a described place, and index 0 for a whole definition
    result["functions"][1]["regions"] = [{"index": 0, "code": "def f():\n    return 1\n",
                                          "where": "code cell 7, line 1"}]
    assert "Your code (code cell 7, line 1)" in Page(render_student_report([result], student="b")).visible


def test_not_attempted_and_timeout_checks_are_named_in_words():
    result = load("not_attempted_timeout")
    _, page = render("not_attempted_timeout")
    statuses = [c["status"] for c in checks(result)]
    assert page.badges.count("timeout") == statuses.count("timeout") > 0
    # "not attempted" labels functions as well as checks
    functions = sum(f["status"] == "not_attempted" for f in result["functions"])
    assert page.badges.count("not attempted") == statuses.count("not_attempted") + functions
    assert "(empty region)" in page.visible


# ---- safety ------------------------------------------------------------------

def test_student_code_is_escaped():
    result = load("partly_wrong")
    assert any(XSS in r["code"] for f in result["functions"] for r in f["regions"])
    html, page = render("partly_wrong")
    assert "<script" not in html
    assert XSS in page.visible  # shown as text


def test_every_text_field_is_escaped():
    result = load("partly_wrong")
    result["assignment"]["title"] = XSS
    result["notes"].append(XSS)
    result["flags"].append(XSS)
    result["functions"][0]["name"] = XSS
    check = checks(result)[2]
    check.update(name=XSS, message=XSS, hint=XSS, traceback=[XSS])
    check["details"][0]["path"] = XSS
    check["details"][0]["got"][0] = XSS
    html = render_student_report([result], student=XSS)
    assert "<script" not in html
    assert Page(html).visible.count(XSS) >= 8


@pytest.mark.parametrize("names", [("full_marks",), ("partly_wrong", "fallback", "unreadable", "not_attempted_timeout")])
def test_page_is_self_contained(names):
    html, _ = render(*names)
    lowered = html.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "<link" not in lowered and " src=" not in lowered
    assert "<style>" in lowered


# ---- robustness ---------------------------------------------------------------

MALFORMED = [
    {},
    {"status": "crashed", "message": None, "score": "n/a", "max_score": None},
    {"assignment": "initialization", "functions": "none", "notes": None, "flags": [None, 3]},
    {"score": float("nan"), "max_score": float("inf"), "functions": [None, 7, {"checks": None}]},
    {"functions": [{"name": None, "regions": [None, {"code": None, "line": "x"}, {"code": 5, "line": -1}],
                    "checks": [None, {"status": 3, "rtol": "tight", "traceback": "boom\n",
                                      "details": [None, {}, {"expected": [[1, [2]]], "got": [1, None],
                                                             "differs": "all"},
                                                  {"expected": [[1, 2], [3]], "got": {"a": [1.5]},
                                                   "differs": [[0, "x"], 1, None, True]},
                                                  {"expected": [float("-inf")], "got": [], "differs": [[5]]}]}]}]},
]


@pytest.mark.parametrize("result", MALFORMED)
def test_malformed_results_still_render(result):
    html = render_student_report([copy.deepcopy(result)], student="zoe")
    assert "zoe" in Page(html).visible


def test_odd_inputs_render():
    assert "Total score: 0 / 0" in Page(render_student_report([], student="x")).visible
    assert "-inf" in Page(render_student_report(MALFORMED[-1:], student="x")).visible


def test_importing_render_leaves_numpy_alone():
    code = "import sys, grader.reports.render; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, check=True)
    assert out.stdout.strip() == "False"


# ---- writing -------------------------------------------------------------------

def test_write_student_report_writes_under_the_students_folder(tmp_path):
    results = [load("full_marks")]
    path = write_student_report(results, tmp_path, student="alice")
    assert path == tmp_path / "alice" / "report.html"
    assert path.read_text(encoding="utf-8") == render_student_report(results, student="alice")


@pytest.mark.parametrize("name", ["../../etc", "a/b\\c", "..", "", "Zoë Ng"])
def test_student_names_become_one_safe_folder(tmp_path, name):
    path = write_student_report([load("unreadable")], tmp_path, student=name)
    assert path.parent.parent == tmp_path
    assert path.parent.name == safe_file_name(name)
    assert path.parent.name not in {"", ".", ".."} and "/" not in path.parent.name
    assert path.is_file()


# ---- leading with what to fix ------------------------------------------------

def function_blocks(html: str) -> list[tuple[str, bool]]:
    """Each function's block on the page, in order: (its opening tag, whether it starts open)."""
    import re

    return [(m.group(0), " open" in m.group(0)) for m in re.finditer(r'<details class="function [^"]*"[^>]*>', html)]


def test_failing_functions_are_open_and_passing_ones_closed():
    result = load("partly_wrong")
    html, _ = render("partly_wrong")
    blocks = function_blocks(html)
    assert len(blocks) == len(result["functions"])
    for (tag, is_open), function in zip(blocks, result["functions"]):
        failed = any(c["status"] != "passed" for c in function["checks"])
        assert is_open == failed, (function["name"], tag)


def test_passed_checks_sit_in_a_closed_box_after_the_failures():
    result = load("partly_wrong")
    html, _ = render("partly_wrong")
    adam = next(f for f in result["functions"] if f["name"] == "update_parameters_with_adam")
    failed = next(c["name"] for c in adam["checks"] if c["status"] == "failed")
    passed = next(c["name"] for c in adam["checks"] if c["status"] == "passed")
    passes_box = html.index('<details class="passes">', html.index(f"<code>{failed}</code>"))
    assert html.index(f"<code>{failed}</code>") < passes_box < html.index(f"<code>{passed}</code>")


def test_summary_names_the_first_thing_to_fix_and_points_per_question():
    result = load("partly_wrong")
    _, page = render("partly_wrong")
    to_fix = [f for f in result["functions"] if any(c["status"] != "passed" for c in f["checks"])]
    summary = page.visible[: page.visible.index("Points per question")]
    assert f"Start here: {to_fix[0]['name']} in {result['assignment']['title']}" in summary
    assert [summary.index(f["name"]) for f in to_fix] == sorted(summary.index(f["name"]) for f in to_fix)
    for function in result["functions"]:
        assert f"{function['name']} {result['assignment']['title']} {points(function['score'])} / " \
               f"{points(function['max_score'])}" in page.visible


def test_all_passing_student_is_told_nothing_needs_fixing():
    html, page = render("full_marks")
    assert "Nothing to fix" in page.visible
    assert not any(is_open for _, is_open in function_blocks(html))


def test_a_message_repeated_by_its_detail_and_a_shared_hint_show_once():
    result = copy.deepcopy(load("partly_wrong"))
    momentum = next(f for f in result["functions"] if f["name"] == "update_parameters_with_momentum")
    for check in momentum["checks"]:
        check["hint"] = "beta is spelt betta"
    adam = next(f for f in result["functions"] if f["name"] == "update_parameters_with_adam")
    failed = next(c for c in adam["checks"] if c["status"] == "failed")
    detail = failed["details"][0]
    failed["message"] = f"{detail['path']}: {detail['message']} (and 1 more difference)"
    page = Page(render_student_report([result], student="alice"))
    assert page.visible.count(detail["message"]) == 1
    assert "(and 1 more difference)" not in page.visible
    assert page.visible.count("beta is spelt betta") == 1


def test_tolerances_are_in_plain_words():
    result = load("full_marks")
    _, page = render("full_marks")
    assert "rtol" not in page.visible and "atol" not in page.visible
    random = next(c for c in checks(result) if c["rtol"] and c["atol"])
    assert f"within {random['atol']:g} + {random['rtol']:g} × the expected value" in page.visible
    assert "must match exactly" in page.visible


def test_report_links_the_annotated_notebook_when_given():
    html = render_student_report([load("partly_wrong")], student="alice", annotated=["Optimization.annotated.html"])
    assert 'href="Optimization.annotated.html"' in html
    assert "annotated.html" not in render_student_report([load("partly_wrong")], student="alice")
