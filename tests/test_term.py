"""A whole term from the README's instructor commands, run as written in a course folder.

The course folder holds grader.toml (solutions, roster, Canvas ids, a due date for
Optimization, 10% per started day late, one student with a day's extension), the roster
and the Canvas downloads of lms_class.SMALL_CLASS plus Zoe Quiet, who hands in nothing.
Every file gets a result, so grading exits 0. The instructor reviews, overrides two of
Omar's functions, Omar resubmits Gradient Checking, the class is graded again, and the
grades go to Canvas and Moodle. Each student's expected score is known from the scenario
each notebook is (tests/submissions/scenarios.json).
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import lms_class
import pytest

from grader.classrun.gradebook import Gradebook
from grader.grading.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
GRADER = str(Path(sys.executable).parent / "grader")
ZOE = lms_class.Member("Zoe Quiet", "199", section="B")
CLASS = lms_class.SMALL_CLASS + (ZOE,)

CONFIG = f'''\
[course]
solutions = "{ROOT / "solutions"}"
roster = "roster.csv"

[canvas]
initialization = 1234
gradient_checking = 1235
optimization = 1236

[due]
optimization = 2024-03-01T10:00:00Z   # every Optimization file is dated 2024-03-01 12:00 or later

[late]
per_day = 10

[extensions]
"101" = 1                            # Jane Doe: one day more
'''


def grader(course: Path, *argv: str) -> subprocess.CompletedProcess:
    """``grader ARGV`` typed in the course folder."""
    done = subprocess.run([GRADER, *argv], capture_output=True, text=True, cwd=course, timeout=900)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def rows(path: Path, key: str) -> dict[str, dict]:
    return {row[key]: row for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def function_losing(book: Gradebook, student: str, slug: str, check: str) -> dict:
    """The function of ``student``'s result for ``slug`` that holds ``check``."""
    result = book.class_records_for(student)[slug]
    return next(f for f in result["functions"] if any(c["name"] == check for c in f["checks"]))


@pytest.mark.kernel
def test_a_whole_term_from_the_readme(tmp_path):
    catalog = Catalog(ROOT / "solutions")
    course = tmp_path / "course"
    downloads = course / "downloads"
    lms_class.canvas_zips(downloads, CLASS, strays=())
    lms_class.roster_csv(course / "roster.csv", CLASS)
    (course / "grader.toml").write_text(CONFIG, encoding="utf-8")
    zips = sorted(str(p.relative_to(course)) for p in downloads.glob("*.zip"))  # what the shell makes of *.zip

    first = grader(course, "grade", *zips, "--roster", "roster.csv")
    assert first.returncode == 0, first.stderr  # Ana's truncated notebook is a result: 0 with its reason
    gradebook = course / "reports" / "gradebook.sqlite"

    review = grader(course, "review")
    assert review.returncode == 0
    assert [line.split()[:3] for line in review.stdout.splitlines() if "unreadable" in line] == \
        [["Ana", "Souza", "initialization"]]

    with Gradebook(gradebook, create=False) as book:
        he = function_losing(book, "102", "initialization", "he_2_4_1")
        gc = function_losing(book, "102", "gradient_checking", "gradient_check_n_step")
    raw_omar = lms_class.expected_scores(CLASS[1], catalog)
    for function, slug, why in ((he, "initialization", "sqrt(2 / n) in the comment; a typo in one line"),
                                (gc, "gradient_checking", "explained the 2 * epsilon in office hours")):
        done = grader(course, "override", "Omar Farouk", slug, function["name"], "--points",
                      str(function["max_score"]), "--reason", why, "--by", "prof")
        assert done.returncode == 0, done.stderr
    assert "Score adjusted" in (course / "reports" / "102" / "report.html").read_text(encoding="utf-8")

    resubmission = downloads / "canvas_gradient_checking_resubmission.zip"
    with zipfile.ZipFile(resubmission, "w") as zf:  # Omar's second attempt: the reference code
        info = zipfile.ZipInfo("faroukomar_102_5301_Gradient_Checking-1.ipynb", date_time=(2024, 3, 4, 9, 0, 0))
        zf.writestr(info, lms_class.notebook_bytes("gc_reference_code"))
    zips.append(str(resubmission.relative_to(course)))
    again = grader(course, "grade", *zips, "--roster", "roster.csv")
    assert again.returncode == 0, again.stderr
    assert "graded now 1," in again.stdout  # only the resubmission

    review = grader(course, "review")
    outdated = [line for line in review.stdout.splitlines() if "override outdated" in line]
    assert len(outdated) == 1 and outdated[0].startswith("Omar Farouk") and gc["name"] in outdated[0]

    canvas = grader(course, "export", "canvas", "--out", "canvas.csv", "--canvas-id", "initialization=1234",
                    "--canvas-id", "gradient_checking=1235", "--canvas-id", "optimization=1236")
    moodle = grader(course, "export", "moodle", "--identifier", "email", "--out", "moodle.csv")
    assert canvas.returncode == 0 and moodle.returncode == 0, canvas.stderr + moodle.stderr

    init, gcheck, opt = "Initialization (1234)", "Gradient Checking (1235)", "Optimization methods (1236)"
    by_id = rows(course / "canvas.csv", "ID")
    assert set(by_id) == {"", "101", "102", "103", "104", "199"}  # "" is the Points Possible row
    expected = {  # student -> (initialization, gradient checking, optimization) as exported
        "101": ("30", "30", "40"),                         # 2 h late on a one-day extension: no penalty
        "102": ("30", "30", _number(raw_omar["optimization"] - 4)),  # override; resubmission; 2 h late: -10%
        "103": ("0", "", "32"),                            # attempt 2 is 26 h late: -20% of 40
        "104": ("0", _number(lms_class.expected_scores(CLASS[3], catalog)["gradient_checking"]), ""),
        "199": ("", "", ""),                               # on the roster, nothing handed in
    }
    assert {k: (by_id[k][init], by_id[k][gcheck], by_id[k][opt]) for k in expected} == expected

    by_email = rows(course / "moodle.csv", "Email address")
    assert by_email["faroukomar@example.edu"]["Initialization"] == "30"
    assert by_email["weili@example.edu"]["Optimization methods"] == "32"
    assert "late by 1.1 days: -20%" in by_email["weili@example.edu"]["Feedback"]
    assert by_email["quietzoe@example.edu"]["Optimization methods"] == ""
    assert "no submission" in by_email["quietzoe@example.edu"]["Feedback"]

    with Gradebook(gradebook, create=False) as book:  # the raw scores stay in the history
        init_history = [h["score"] for h in book.history("102", "initialization")]
        gc_history = [h["score"] for h in book.history("102", "gradient_checking")]
        opt_history = [h["score"] for h in book.history("103", "optimization")]
        overrides = book.overrides("102")
    assert init_history == [pytest.approx(raw_omar["initialization"])]
    assert gc_history == [pytest.approx(raw_omar["gradient_checking"]), pytest.approx(30)]
    assert opt_history == [pytest.approx(40)]
    assert [(o["assignment"], o["who"]) for o in overrides] == [("initialization", "prof"),
                                                                ("gradient_checking", "prof")]

    page = (course / "reports" / "index.html").read_text(encoding="utf-8")
    for text in ("Zoe Quiet (B): no submission", "Late work", "Needs review", "override outdated"):
        assert text in page, text
    zeros = grader(course, "export", "csv", "--missing", "zero", "--out", "plain.csv")
    assert zeros.returncode == 0
    assert rows(course / "plain.csv", "lms_id")["199"]["optimization"] == "0"


def _number(value: float) -> str:
    from grader.lms.export import number

    return number(value)


def test_the_readme_names_the_term_commands():
    """The commands this test types are the README's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("grader grade downloads/*.zip --roster roster.csv", "grader review",
                    "grader override", "grader export canvas --out canvas.csv --canvas-id initialization=1234",
                    "grader export moodle --identifier email --out moodle.csv", "grader init", "grader list"):
        assert command in readme, command
