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

from browser import ARTIFACTS, chromium, chromium_path
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook
from grader.reports.overview import write_overview
from grader.core.records import ClassRecord, Student
from grader.core.files import safe_file_name
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
        for scenario in scenarios:
            path = truncated_notebook(work) if scenario == "TRUNCATED" else SUBMISSIONS / f"{scenario}.ipynb"
            result = grade_notebook(path, catalog, student=key).to_dict()
            record.results[result["assignment"]["slug"]] = result
        write_student_report(list(record.results.values()), out, student=key)
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
