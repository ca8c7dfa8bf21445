"""A student report and the class overview, opened in a real headless Chromium.

The class is graded here from scenario notebooks (tests/submissions), so the pages
show real results. Each page must load without console errors, failed requests or
requests leaving its folder, and show the figures a reader looks for. Screenshots
go to tests/artifacts/ (the path is printed).
"""
from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from browser import ARTIFACTS, Visit, chromium, chromium_path
from test_annotated import hostile_notebook

from grader.core.files import safe_file_name, sha256_of
from grader.core.records import ClassRecord, Student
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook
from grader.reports.annotated import write_annotated_notebook
from grader.reports.overview import write_overview
from grader.reports.render import write_student_report

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
HOSTILE_NAME = '<img src=x onerror="console.error(\'name not escaped\')">'

# key -> (display name, scenario notebooks); "TRUNCATED" is an Optimization notebook cut in half.
CLASS = {
    "ada": ("Ada", ["init_reference_code", "gc_reference_code", "opt_reference_code"]),
    "ben": ("Ben", ["init_xavier_scale", "opt_adam_no_bias_correction"]),
    "cy": ("Cy", ["gc_syntax_error", "TRUNCATED"]),
    "dee": (HOSTILE_NAME, ["init_transposed_shapes"]),
    "eve": ("Eve", ["gc_divides_by_epsilon"]),  # with Cy's, gradient_check's checks pass 1 in 3
}


def points(value: float) -> str:
    """How the pages write a score: at most two decimals, no trailing zeros."""
    return f"{value + 0.0:.2f}".rstrip("0").rstrip(".")


def truncated_notebook(folder: Path) -> Path:
    text = (SUBMISSIONS / "opt_reference_code.ipynb").read_text(encoding="utf-8")
    path = folder / "Optimization_methods.ipynb"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the class, write every student's report and the overview; return (out, records)."""
    chromium_path()  # no browser: stop here rather than after grading
    catalog = Catalog(ROOT / "solutions")
    work, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("reports")
    records = []
    for key, (name, scenarios) in CLASS.items():
        record = ClassRecord(Student(key, name=name))
        links = []
        for scenario in scenarios:
            path = truncated_notebook(work) if scenario == "TRUNCATED" else SUBMISSIONS / f"{scenario}.ipynb"
            result = grade_notebook(path, catalog, student=key).to_dict()
            record.results[result["assignment"]["slug"]] = result
            page = write_annotated_notebook(path, result, out, student=key, stem=path.stem)
            links.append(page.name if page else None)
        write_student_report(list(record.results.values()), out, student=key, annotated=links)
        records.append(record)
    write_overview(records, out, assignments=catalog.assignments)
    return out, records


@pytest.fixture(scope="module")
def browser(graded_class):
    # Grading comes first: while Playwright's sync API is open, this thread has a running
    # event loop, and the engine's kernels need to start their own.
    with chromium() as opened:
        yield opened


@pytest.fixture
def show_artifacts(capsys):
    yield
    with capsys.disabled():
        print(f"\nscreenshots in {ARTIFACTS}")


def assert_clean(visit) -> None:
    assert visit.problems == [], "\n".join(visit.problems)


def pass_rates(records: list[ClassRecord]) -> dict[str, float]:
    """Check name -> share of the graded submissions of its assignment that pass it."""
    passed, seen = {}, {}
    for record in records:
        for result in record.results.values():
            if result["status"] != "graded":
                continue
            for function in result["functions"]:
                for check in function["checks"]:
                    seen[check["name"]] = seen.get(check["name"], 0) + 1
                    passed[check["name"]] = passed.get(check["name"], 0) + (check["status"] == "passed")
    return {name: passed[name] / seen[name] for name in seen}


@pytest.mark.kernel
def test_student_report_renders_with_total_and_failed_check(graded_class, browser, show_artifacts):
    out, records = graded_class
    ben = next(r for r in records if r.student.key == "ben")
    visit = browser.open(out / safe_file_name("ben") / "report.html")
    text = visit.text()
    visit.screenshot("student_report")
    assert_clean(visit)

    maximum = sum(r["max_score"] for r in ben.results.values())
    assert f"Total score: {points(ben.score)} / {points(maximum)}" in text
    failed = [c for r in ben.results.values() for f in r["functions"] for c in f["checks"] if c["status"] == "failed"]
    assert failed, "the scenario notebooks were chosen to fail some checks"
    for check in failed:
        assert check["name"] in text
    assert ben.score < maximum


@pytest.mark.kernel
def test_overview_renders_class_figures_and_hardest_check(graded_class, browser, show_artifacts):
    out, records = graded_class
    visit = browser.open(out / "index.html")
    text = visit.text()
    visit.screenshot("class_overview")
    assert_clean(visit)

    average = statistics.fmean(r.score for r in records)
    assert visit.page.inner_text("#class-size") == str(len(records))
    assert f"{points(average)} / 100" in visit.page.inner_text("#class-average")

    rates = pass_rates(records)
    hardest_shown = visit.page.locator("#hardest-checks tbody tr th").first.inner_text()
    assert rates[hardest_shown] == min(rates.values())
    assert rates[hardest_shown] < 0.5
    assert visit.page.locator("#hardest-checks tbody tr").first.get_attribute("class") == "level-hard"

    # The truncated notebook is listed with its reason; the hostile name shows as text.
    problems = visit.page.inner_text("#problems")
    assert "Cy" in problems and "Optimization_methods.ipynb" in problems and "unreadable" in problems
    assert HOSTILE_NAME in text
    assert visit.page.locator("svg.chart rect").count() == 10

    # One review list, grader review's: Cy's unreadable notebook with what it gets and the command to decide.
    assert visit.page.locator("#to-review").count() == 1 and visit.page.locator("#reviews").count() == 0
    cy = visit.page.locator("#to-review tbody tr", has_text="Cy").first.inner_text()
    assert "unreadable" in cy and 'grader override cy optimization --points N --reason "..."' in cy


@pytest.mark.kernel
def test_overview_sorts_students_by_total_on_header_click(graded_class, browser, show_artifacts):
    out, records = graded_class
    visit = browser.open(out / "index.html")
    rows = visit.page.locator("#students tbody tr")
    names = lambda: [n.strip() for n in rows.locator("th a").all_inner_texts()]  # noqa: E731
    totals = {r.student.display_name: r.score for r in records}
    in_name_order = names()
    assert in_name_order == sorted(in_name_order, key=str.casefold)

    visit.page.get_by_role("button", name="Total").click()
    best_first = names()
    assert best_first == sorted(in_name_order, key=lambda n: -totals[n])
    assert best_first != in_name_order
    visit.screenshot("class_overview_sorted_by_total")

    visit.page.get_by_role("button", name="Total").click()
    assert names() == sorted(in_name_order, key=lambda n: totals[n])
    assert_clean(visit)


@pytest.mark.kernel
def test_overview_links_open_each_students_report(graded_class, browser):
    out, records = graded_class
    visit = browser.open(out / "index.html")
    visit.page.get_by_role("link", name="Ada").first.click()
    visit.page.wait_for_load_state("load")
    assert visit.page.url.endswith("/ada/report.html")
    assert "Grading report for ada" in visit.text()
    assert_clean(visit)


@pytest.mark.kernel
def test_overview_without_javascript_keeps_name_order(graded_class, browser, show_artifacts):
    out, records = graded_class
    visit = browser.open(out / "index.html", javascript=False)
    names = [n.strip() for n in visit.page.locator("#students tbody tr th a").all_inner_texts()]
    assert names == sorted((r.student.display_name for r in records), key=str.casefold)
    assert visit.page.get_by_role("button").count() == 0
    visit.screenshot("class_overview_no_javascript")
    assert_clean(visit)


# ---- reports that lead with what to fix, at desktop and phone widths ------------------

WIDTHS = {"desktop": 1280, "phone": 390}
# An all-passing student's page, everything folded: measured 1806 px (desktop) and 2834 px
# (phone) for three assignments; before the redesign 7419 and 10005 px.
ALL_PASSING_HEIGHT_LIMIT = {"desktop": 2400, "phone": 3600}


def open_at(browser, path: Path, width: int):
    page = browser.new_page(width=width, height=900)
    visit_ = Visit(page)
    browser.watch(visit_)
    page.goto(path.resolve().as_uri(), wait_until="load")
    return visit_


def page_size(visit_) -> tuple[int, int]:
    return visit_.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")


@pytest.mark.kernel
@pytest.mark.parametrize("device", WIDTHS)
def test_failures_come_before_any_pass_without_overflow(graded_class, browser, device, show_artifacts):
    out, _ = graded_class
    visit_ = open_at(browser, out / "ben" / "report.html", WIDTHS[device])
    visit_.screenshot(f"student_report_failing_{device}")
    assert_clean(visit_)
    width, _ = page_size(visit_)
    assert width <= WIDTHS[device], f"the page is {width} px wide in a {WIDTHS[device]} px window"
    page = visit_.page
    assert page.locator("#to-fix .first-fix").bounding_box()["y"] < 900, "the first thing to fix is on the first screen"
    first_failure = page.locator("li.check-failed").first
    assert first_failure.is_visible()
    failure_top = first_failure.bounding_box()["y"]
    passes_above = [b for b in (c.bounding_box() for c in page.locator("li.check-passed").all() if c.is_visible())
                    if b["y"] < failure_top]
    assert passes_above == [], "a passed check is shown before the first failure"
    assert page.locator("li.check-passed").count() > 0 and not page.locator("li.check-passed").first.is_visible()


@pytest.mark.kernel
@pytest.mark.parametrize("device", WIDTHS)
def test_all_passing_students_page_is_short(graded_class, browser, device):
    out, _ = graded_class
    visit_ = open_at(browser, out / "ada" / "report.html", WIDTHS[device])
    assert_clean(visit_)
    width, height = page_size(visit_)
    assert width <= WIDTHS[device]
    assert height <= ALL_PASSING_HEIGHT_LIMIT[device], f"{height} px tall at {WIDTHS[device]} px"
    assert "Nothing to fix" in visit_.text()


@pytest.mark.kernel
@pytest.mark.parametrize("device", WIDTHS)
def test_overview_questions_before_checks_and_no_overflow(graded_class, browser, device, show_artifacts):
    out, _ = graded_class
    visit_ = open_at(browser, out / "index.html", WIDTHS[device])
    visit_.screenshot(f"class_overview_{device}")
    assert_clean(visit_)
    width, _ = page_size(visit_)
    assert width <= WIDTHS[device], f"the overview is {width} px wide in a {WIDTHS[device]} px window"
    page = visit_.page
    assert page.locator("#function-rates").bounding_box()["y"] < page.locator("#hardest-checks").bounding_box()["y"]
    if device == "desktop":  # the check names wrap: the 45-row table fits without scrolling sideways
        fits = page.evaluate("(() => { const box = document.querySelector('#hardest-checks').parentElement;"
                             " return box.scrollWidth <= box.clientWidth; })()")
        assert fits


@pytest.mark.kernel
def test_annotated_notebook_shows_the_graders_boxes_after_the_cells(graded_class, browser, show_artifacts):
    out, records = graded_class
    ben = next(r for r in records if r.student.key == "ben")
    report = browser.open(out / "ben" / "report.html")
    report.page.locator("a.annotated-link").first.click()
    report.page.wait_for_load_state("load")
    assert report.page.url.endswith(".annotated.html")
    visit_ = browser.open(Path(report.page.url.removeprefix("file://")))
    visit_.screenshot("annotated_notebook")
    assert_clean(visit_)
    boxes = visit_.page.locator("aside.grader-note")
    first = next(iter(ben.results.values()))
    assert boxes.count() == len(first["functions"])
    for function in first["functions"]:
        box = visit_.page.locator(f'aside[aria-label="Grader\'s feedback on {function["name"]}"]')
        assert box.is_visible()
        assert f"{points(function['score'])} / {points(function['max_score'])}" in box.inner_text()
        # The box follows the cell that defines the function.
        cell = visit_.page.locator(".jp-CodeCell", has_text=f"def {function['name']}(").last
        assert cell.bounding_box()["y"] < box.bounding_box()["y"]
    assert visit_.page.locator(".grader-note-fix").count() >= 1  # Ben's He initialisation fails


@pytest.mark.kernel
def test_no_script_of_a_hostile_notebook_runs_in_its_annotated_page(graded_class, browser, tmp_path):
    out, records = graded_class
    ben = next(r for r in records if r.student.key == "ben")
    result = next(r for r in ben.results.values() if r["assignment"]["slug"] == "optimization")
    hostile = hostile_notebook(tmp_path)
    as_graded = {**result, "source": {"path": str(hostile), "sha256": sha256_of(hostile)}}  # the page is of what was graded
    page = write_annotated_notebook(hostile, as_graded, tmp_path, student="ben", stem="hostile")
    visit_ = browser.open(page)
    # Each of the notebook's scripts would log "... ran"; the image it names (x) is simply missing.
    assert [m for m in visit_.console_errors if " ran" in m] == [], "a script from the notebook ran"
    assert visit_.console_errors, "the broken image's failed load shows the console was watched"
    assert visit_.page.locator("script").count() == 0
    assert "saved output kept" in visit_.text()
