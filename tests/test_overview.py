"""The class overview page, read as HTML without a browser.

Pass rates are checked on a hand-made class whose numbers can be counted by
eye; the rest uses the result fixtures of tests/fixtures/results.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from grader.checks.spec import Assignment, Check
from grader.core.records import ClassRecord, Student
from grader.reports.overview import overview_model, render_overview, score_chart_svg, write_overview
from grader.reports.render import write_student_report

FIXTURES = Path(__file__).parent / "fixtures" / "results"
XSS = "<script>alert('x')</script>"


class Page(HTMLParser):
    """The page's visible text, its links, and the rows of each table by id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: dict[str, str] = {}  # link text -> href
        self.rows: dict[str, list[list[str]]] = {}
        self.row_classes: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._link: tuple[str, list[str]] | None = None
        self._in_script = False
        self.feed(html)
        self.visible = " ".join("".join(self.text).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
        if tag == "table":
            self._table = attrs.get("id") or "(no id)"
            self.rows[self._table], self.row_classes[self._table] = [], []
        if tag == "tr" and self._table:
            self.rows[self._table].append([])
            self.row_classes[self._table].append(attrs.get("class") or "")
        if tag in ("td", "th") and self._table:
            self._cell = []
        if tag == "a":
            self._link = (attrs.get("href") or "", [])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag == "table":
            self._table = None
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.rows[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "a" and self._link:
            self.links[" ".join("".join(self._link[1]).split())] = self._link[0]
            self._link = None
        if tag in ("p", "div", "td", "th", "tr", "li", "dd", "dt", "h1", "h2"):
            self.text.append(" ")

    def handle_data(self, data):
        if self._in_script:
            return
        self.text.append(data)
        for sink in (self._cell, self._link[1] if self._link else None):
            if sink is not None:
                sink.append(data)

    def body_rows(self, table: str) -> list[list[str]]:
        return self.rows[table][1:]  # the first row is the heading


# ---- a class small enough to count by eye --------------------------------------

LAB = Assignment(slug="lab", title="Lab", notebook="Lab.ipynb", points=10, checks=(
    Check("easy_one", "first", points=4, inputs="cases:one", rtol=0, atol=0),
    Check("tricky_one", "first", points=2, inputs="cases:two", rtol=0, atol=0),
    Check("hidden_edge", "second", points=4, inputs=lambda: {}, rtol=0, atol=0, hidden=True),
))


def lab_result(student: str, passed: set[str], *, status: str = "graded", message: str = "") -> dict:
    functions = []
    for function in LAB.functions:
        checks = [{"name": c.name, "hidden": c.hidden, "max_points": c.points,
                   "points": c.points if c.name in passed else 0.0,
                   "status": "passed" if c.name in passed else "failed", "message": ""}
                  for c in LAB.checks_for(function)]
        functions.append({"name": function, "checks": checks, "score": sum(c["points"] for c in checks),
                          "max_score": sum(c["max_points"] for c in checks)})
    if status != "graded":
        functions = []
    return {"assignment": {"slug": "lab", "title": "Lab", "max_score": 10}, "student": student,
            "source": {"path": f"class/{student}/Lab.ipynb"}, "status": status, "message": message,
            "score": sum(f["score"] for f in functions), "max_score": 10, "functions": functions}


def lab_class() -> list[ClassRecord]:
    """Four graded students and one unreadable notebook."""
    passes = {
        "ann": {"easy_one", "tricky_one", "hidden_edge"},  # 10
        "bo": {"easy_one", "hidden_edge"},                  # 8
        "cat": {"easy_one"},                                # 4
        "dan": {"easy_one", "hidden_edge"},                 # 8
    }
    records = [ClassRecord(Student(key), {"lab": lab_result(key, passed)}) for key, passed in passes.items()]
    broken = lab_result("eli", set(), status="unreadable", message="Not a notebook: the file is empty.")
    records.append(ClassRecord(Student("eli"), {"lab": broken}))
    return records


def test_pass_rates_count_graded_submissions_and_put_the_hardest_first():
    page = Page(render_overview(lab_class(), assignments=[LAB]))
    rows = page.body_rows("hardest-checks")
    # check, assignment, function, visibility, passed, rate
    assert [(r[0], r[4]) for r in rows] == [("tricky_one", "1 of 4"), ("hidden_edge", "3 of 4"), ("easy_one", "4 of 4")]
    assert [r[5].split()[0] for r in rows] == ["25%", "75%", "100%"]
    assert page.row_classes["hardest-checks"][1:] == ["level-hard", "level-medium", "level-easy"]
    assert "hard" in rows[0][5] and "hard" not in rows[1][5]
    assert rows[1][3] == "hidden" and rows[0][3] == "public"


def test_function_rates_count_submissions_with_every_check_passed():
    rows = {r[0]: r for r in Page(render_overview(lab_class(), assignments=[LAB])).body_rows("function-rates")}
    assert rows["first"][2] == "1 of 4"  # only ann passes both checks of `first`
    assert rows["second"][2] == "3 of 4"
    # Points earned in `first`: 6 + 4 + 4 + 4 of 4 * 6.
    assert rows["first"][4] == f"{round(100 * 18 / 24)}%"


def test_class_size_average_and_distribution():
    records = lab_class()
    model = overview_model(records, assignments=[LAB])
    assert model["size"] == 5
    assert model["average"] == "6"  # (10 + 8 + 4 + 8 + 0) / 5
    assert model["median"] == "8"
    chart = str(model["chart"])
    # Tenths of 10 points: 0 → first bar, 4 → fifth, 8 → ninth (two students), 10 → last.
    assert "0–10%: 1; 40–50%: 1; 80–90%: 2; 90–100%: 1" in chart
    page = Page(render_overview(records, assignments=[LAB]))
    assert "Students 5" in page.visible and "Average total 6 / 10 (60%)" in page.visible


def test_chart_bar_heights_follow_the_counts_and_clamp_out_of_range_scores():
    chart = str(score_chart_svg([0.95, 1.0, 1.7, 0.05, -0.2]))
    heights = [float(h) for h in re.findall(r'<rect class="bar-\d+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', chart)]
    assert len(heights) == 10
    assert heights[9] > 0 and abs(heights[0] - heights[9] * 2 / 3) < 0.1  # three at the top, two at the bottom
    assert heights[1:9] == [0.0] * 8
    assert "<script" not in chart


def test_unreadable_submission_is_listed_with_its_reason_and_not_in_the_rates():
    page = Page(render_overview(lab_class(), assignments=[LAB]))
    problems = page.body_rows("problems")
    assert problems == [["eli", "class/eli/Lab.ipynb", "unreadable", "Not a notebook: the file is empty."]]
    assert Page(render_overview(lab_class()[:4], assignments=[LAB])).rows.get("problems") is None


def test_problems_from_the_run_and_timeouts_in_results_are_listed_once():
    timeout = json.loads((FIXTURES / "not_attempted_timeout.json").read_text(encoding="utf-8"))
    erin = ClassRecord(Student("erin", name="Erin"), {"optimization": timeout})
    given = [
        {"path": "download/stray.ipynb", "student": "", "status": "unmatched", "message": "no student in the file name"},
        {"path": "download/erin/x.ipynb", "student": "erin", "status": "timeout", "message": "grading took over 300 s"},
        {"path": "download/erin/x.ipynb", "student": "erin", "status": "timeout", "message": "grading took over 300 s"},
    ]
    rows = Page(render_overview([erin], assignments=[], problems=given)).body_rows("problems")
    assert ["(no student)", "download/stray.ipynb", "not matched", "no student in the file name"] in rows
    assert ["Erin", "download/erin/x.ipynb", "timed out", "grading took over 300 s"] in rows
    check_timeouts = [r for r in rows if r[1] == timeout["source"]["path"]]
    assert len(check_timeouts) == 1 and check_timeouts[0][2] == "timed out"
    assert "did not return within 30 seconds" in check_timeouts[0][3]
    assert len(rows) == 3


def test_untrusted_names_and_messages_are_escaped():
    hostile = lab_result(XSS, {"easy_one"}, status="crashed", message=f"kernel said {XSS}")
    record = ClassRecord(Student(XSS, name=f'"><img src=x onerror=alert(1)>{XSS}', section=XSS), {"lab": hostile})
    html = render_overview([record], assignments=[LAB],
                           problems=[{"path": XSS, "student": XSS, "status": XSS, "message": XSS}])
    assert "<script>alert" not in html and "<img src=x" not in html
    page = Page(html)
    assert f'"><img src=x onerror=alert(1)>{XSS}' in page.visible
    assert f"kernel said {XSS}" in page.visible
    href = page.links[f'"><img src=x onerror=alert(1)>{XSS}']
    assert re.fullmatch(r"[\w%.-]+/report\.html", href)


def test_links_reach_the_reports_written_for_each_student(tmp_path):
    keys = ["ann", "Zoë Ünal", "../../etc/passwd", "a b/c"]
    records = [ClassRecord(Student(k), {"lab": lab_result(k, {"easy_one"})}) for k in keys]
    for record in records:
        write_student_report(list(record.results.values()), tmp_path, student=record.student.key)
    index = write_overview(records, tmp_path, assignments=[LAB])
    assert index == tmp_path / "index.html"
    links = Page(index.read_text(encoding="utf-8")).links
    for key in keys:
        target = (tmp_path / unquote(links[key])).resolve()
        assert target.is_file() and target.parent.parent == tmp_path.resolve()
        assert f"Grading report for {key}" in target.read_text(encoding="utf-8").replace("&#39;", "'")


def test_students_in_name_order_with_scores_per_assignment_and_total():
    results = {name: json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
               for name in ("full_marks", "partly_wrong", "fallback", "unreadable")}
    bob = ClassRecord(Student("bob", name="bob"), {"optimization": results["partly_wrong"]})
    alice = ClassRecord(Student("alice", name="Alice", section="S1"), {"initialization": results["full_marks"],
                                                                       "gradient_checking": results["fallback"]})
    carol = ClassRecord(Student("carol", name="carol"), {"gradient_checking": results["unreadable"]})
    page = Page(render_overview([bob, carol, alice], assignments=[]))
    header, *rows = page.rows["students"]
    assert header == ["Student", "Section", "Initialization", "Gradient Checking", "Optimization methods", "Total"]
    assert [r[0] for r in rows] == ["Alice alice", "bob", "carol"]  # the key shows where it differs
    assert rows[0][2:] == ["30", "22", "—", "52 / 100"]
    assert rows[1][2:] == ["—", "—", "24.5", "24.5 / 100"]
    assert rows[2][3] == "0 unreadable"


def test_page_needs_no_network_and_keeps_its_script_inline():
    html = render_overview(lab_class(), assignments=[LAB])
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html
    assert html.count("<svg") == 1


def test_malformed_results_and_an_empty_class_still_render():
    odd = ClassRecord(Student("odd"), {"lab": {"score": "ten", "functions": "none", "status": None},
                                       "mystery": ["not", "a", "dict"]})
    page = Page(render_overview([odd], assignments=[LAB]))
    assert "odd" in page.links
    empty = Page(render_overview([], assignments=[LAB]))
    assert "No students yet." in empty.visible and "Students 0" in empty.visible


# ---- the whole class, as the gradebook hands it over --------------------------------------

def test_the_class_as_the_roster_sees_it_with_one_review_list(tmp_path):
    """No submission, late work (before penalty, penalty, final), section averages and one review
    list, grader review's, with what the grader would give otherwise and the command; questions first."""
    import datetime

    from grader.classrun.gradebook import Gradebook, Item
    from grader.classrun.late import LatePolicy
    from grader.core import results as r

    def hand_in(book, student, passed, *, submitted="", review=None):
        functions = tuple(r.FunctionResult(function, r.FunctionStatus.OK, tuple(
            r.CheckResult(c.name, r.CheckStatus.PASSED if c.name in passed else r.CheckStatus.FAILED,
                          c.points if c.name in passed else 0.0, c.points, hidden=c.hidden)
            for c in LAB.checks_for(function)), review=review if function == "second" else None)
            for function in LAB.functions)
        result = r.NotebookResult(student=student.key, source={"path": f"{student.key}/Lab.ipynb", "sha256": "?"},
                                  status=r.NotebookStatus.GRADED, max_score=10, functions=functions,
                                  assignment=r.AssignmentInfo("lab", "Lab", "v1", 10))
        run = book.start_run({})
        book.record_student(run, student, [Item(path=f"{student.key}/Lab.ipynb", name="Lab.ipynb", sha256=student.key,
                                                requested=None, result=result, version="v1", submitted=submitted)])
        book.finish_run(run, "finished", {})

    due = datetime.datetime(2024, 3, 1, 10, tzinfo=datetime.timezone.utc)
    ann, bo, cat = Student("ann", "Ann", section="A"), Student("bo", "Bo", section="B"), Student("cat", "Cat", section="B")
    with Gradebook(tmp_path / "gradebook.sqlite") as book:
        hand_in(book, ann, {"easy_one", "tricky_one", "hidden_edge"}, submitted="2024-03-02T12:00:00+00:00")
        hand_in(book, bo, {"easy_one"}, review=r.Review("its own definition differs", 4))
        book.record_roster([cat])
        records = book.class_records(LatePolicy(due={"lab": due}, per_day=10))
        review = book.review_items(LatePolicy(due={"lab": due}, per_day=10))
    page = Page(render_overview(records, assignments=[LAB]))

    assert page.visible.index("Questions (graded functions)") < page.visible.index("Needs review")
    assert "Cat (B): no submission" in page.visible
    assert page.body_rows("late-work") == [["Ann", "Lab", "late by 1.1 days: -20%", "10", "−2", "8"]]
    assert page.body_rows("sections") == [["A", "1", "8 / 10 (80%)"], ["B", "2", "2 / 10 (20%)"]]
    (row,) = page.body_rows("to-review")
    assert row[:6] == ["Bo", "Lab", "second", "needs review", "0", "4"]
    assert "its own definition differs" in row[6]
    assert row[7] == 'grader override bo lab second --accept --reason "..." (or --points N)'
    assert [(i["key"], i["function"], i["command"]) for i in review] == \
        [("bo", "second", 'grader override bo lab second --accept --reason "..."  (or --points N)')]
    assert "reviews" not in page.rows  # one list, not two
