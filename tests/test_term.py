"""Whole terms run with the README's instructor commands, taken from README.md as written.

The commands are read from the README's instructor block (``readme_commands``), not copied
here, so a README that changes changes what runs. Between them the test does what an
instructor does by hand: fills in grader.toml after ``grader init``, overrides two more
functions, and adds a student's resubmission to the downloads.

The downloads are written the way the LMSes deliver them, from scenario notebooks whose
grades are known (tests/submissions/scenarios.json):

* Canvas, "Download Submissions": one flat ``submissions.zip`` per assignment (the browser
  keeps the second as ``submissions (1).zip``), members named
  ``<sortable name, lower case, letters only>[_LATE]_<user id>_<attachment id>_<the student's
  file name>``, a resubmission of the same file name with ``-1``, every member dated with its
  upload time; the roster is Canvas's gradebook export as it comes (``Student`` as
  "Doe, Jane", ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, one column per
  assignment, the score columns, the ``Points Possible`` row), with one column the
  instructor added: ``submitted_at:optimization``, for a notebook that came by e-mail.
* Moodle, "Download all submissions" with "Download submissions in folders": one zip per
  assignment holding ``<Full name>_<participant number>_assignsubmission_file_/<file>``
  folders (and ``…_assignsubmission_onlinetext_/`` for online text); the roster is the
  participants page's "Download table data as CSV" (``First name``, ``Last name``,
  ``Email address``, ``Roles``, ``Groups``, ``Last access to course``).
"""
from __future__ import annotations

import csv
import io
import shlex
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
README_BLOCK = "## Instructors: from the LMS download to grades back in the LMS"


def readme_commands() -> dict[str, list[str]]:
    """The README's instructor commands as argument lists, by what they do ('grader grade',
    'grader export canvas', …); the one line that is not a grader command is 'open'."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(README_BLOCK, 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands: dict[str, list[str]] = {}
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            name = " ".join(argv[:3] if argv[1:2] == ["export"] else argv[:2])
            commands[name] = argv
    return commands


def run(course: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """``argv`` typed in the course folder, a glob expanded as a shell would (kept as it is when it
    matches nothing)."""
    words = []
    for word in argv:
        matches = sorted(str(p.relative_to(course)) for p in course.glob(word)) if "*" in word else []
        words += matches or [word]
    assert words[0] == "grader"
    done = subprocess.run([GRADER, *words[1:]], capture_output=True, text=True, cwd=course, timeout=900)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def rows(path: Path, key: str) -> dict[str, dict]:
    return {row[key]: row for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def number(value: float) -> str:
    from grader.lms.export import number as exported

    return exported(value)


def score(scenario: str, catalog: Catalog) -> float:
    return lms_class.expected_score(lms_class.Hand("", scenario), catalog)


def function_holding(book: Gradebook, student: str, slug: str, check: str) -> dict:
    """The function of ``student``'s result for ``slug`` that holds ``check``."""
    result = book.class_records_for(student)[slug]
    return next(f for f in result["functions"] if any(c["name"] == check for c in f["checks"]))


def write_zip(path: Path, members: list[tuple[str, bytes, tuple]]) -> Path:
    """A zip as an LMS writes it: files only (no folder entries), each dated with its upload time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in members:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def nb(scenario: str) -> bytes:
    return lms_class.notebook_bytes(scenario)


MARCH_1_NOON, MARCH_2_NOON = (2024, 3, 1, 12, 0, 0), (2024, 3, 2, 12, 0, 0)

def test_the_readme_instructor_block_is_what_the_terms_run():
    assert set(readme_commands()) == {
        "grader init", "grader list", "grader grade", "open reports/index.html", "grader review",
        "grader override", "grader export canvas", "grader export moodle"}
    assert readme_commands()["grader grade"] == ["grader", "grade", "downloads/*.zip", "--roster", "roster.csv"]


# --- Canvas -------------------------------------------------------------------------------------

CANVAS_DOWNLOADS = {  # zip -> its members: (name as Canvas writes it, notebook, upload time)
    "submissions.zip": [  # Initialization
        ("doejane_101_883301_Initialization.ipynb", nb("init_reference_code"), MARCH_1_NOON),
        ("faroukomar_102_883302_Initialization.ipynb", nb("init_xavier_scale"), MARCH_1_NOON),
        ("weili_103_883303_my init work.ipynb", nb("init_released_untouched"), MARCH_1_NOON),
        ("weili_103_883304_notes.txt", b"my notes\n", MARCH_1_NOON),
        ("souzaana_104_883305_Initialization.ipynb", nb(lms_class.TRUNCATED), MARCH_1_NOON),
    ],
    "submissions (1).zip": [  # Gradient Checking
        ("doejane_101_884401_Gradient_Checking.ipynb", nb("gc_reference_code"), MARCH_1_NOON),
        ("faroukomar_102_884402_Gradient_Checking.ipynb", nb("gc_divides_by_epsilon"), MARCH_1_NOON),
        ("souzaana_104_884405_Gradient_Checking.ipynb", nb("gc_seed_student"), MARCH_1_NOON),
    ],
    "submissions (2).zip": [  # Optimization, due 2024-03-01 10:00 UTC
        ("doejane_101_885501_Optimization_methods.ipynb", nb("opt_reference_code"), MARCH_1_NOON),
        ("faroukomar_LATE_102_885502_Optimization_methods.ipynb", nb("opt_adam_no_bias_correction"), MARCH_1_NOON),
        ("weili_103_885503_Optimization_methods.ipynb", nb("opt_released_untouched"), (2024, 3, 1, 9, 0, 0)),
        ("weili_LATE_103_885513_Optimization_methods-1.ipynb", nb("opt_written_differently"), MARCH_2_NOON),
    ],
}
CANVAS_ROSTER = '''\
Student,ID,SIS User ID,SIS Login ID,Section,Initialization (1234),Gradient Checking (1235),\
Optimization methods (1236),Current Score,Unposted Current Score,Final Score,Unposted Final Score,\
submitted_at:optimization
    Points Possible,,,,,30.00,30.00,40.00,(read only),(read only),(read only),(read only),
"Doe, Jane",101,S101,jdoe,Section A,,,,,,,,2024-03-03T09:00:00+01:00
"Farouk, Omar",102,S102,ofarouk,Section B,,,,,,,,
"Wei, Li",103,S103,lwei,Section A,,,,,,,,
"Souza, Ana",104,S104,asouza,Section B,,,,,,,,
"Quiet, Zoe",199,S199,zquiet,Section B,,,,,,,,
'''
CANVAS_CONFIG = f'''\
[course]
solutions = "{ROOT / "solutions"}"
roster = "roster.csv"

[canvas]
initialization = 1234
gradient_checking = 1235
optimization = 1236

[due]
optimization = 2024-03-01T10:00:00Z

[late]
per_day = 10

[extensions]
"101" = 1                            # Jane Doe: one day more
'''


@pytest.mark.kernel
def test_a_canvas_term_from_the_readme(tmp_path):
    catalog = Catalog(ROOT / "solutions")
    readme = readme_commands()
    course = tmp_path / "course"
    for name, members in CANVAS_DOWNLOADS.items():
        write_zip(course / "downloads" / name, members)
    (course / "roster.csv").write_text(CANVAS_ROSTER, encoding="utf-8")

    made = run(course, readme["grader init"])
    assert made.returncode == 0 and "[course]" in (course / "grader.toml").read_text(encoding="utf-8")
    (course / "grader.toml").write_text(CANVAS_CONFIG, encoding="utf-8")  # the instructor fills it in
    listed = run(course, readme["grader list"])
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == \
        ["gradient_checking", "initialization", "optimization"]
    assert listed.stdout.splitlines()[4].split()[-1] == "1236"  # optimization's Canvas id, from [canvas]

    first = run(course, readme["grader grade"])
    assert first.returncode == 0, first.stderr  # Ana's truncated notebook is a result: 0 with its reason
    gradebook = course / "reports" / "gradebook.sqlite"
    assert (course / readme["open reports/index.html"][1]).is_file()

    review = run(course, readme["grader review"])
    assert review.returncode == 0
    unreadable = [line for line in review.stdout.splitlines() if "unreadable" in line]
    assert len(unreadable) == 1 and "Souza, Ana" in unreadable[0] and "initialization" in unreadable[0]
    assert 'grader override 104 initialization --points N --reason "..."' in review.stdout

    override = run(course, readme["grader override"])  # "Jane Doe": the roster says "Doe, Jane"
    assert override.returncode == 0, override.stderr
    with Gradebook(gradebook, create=False) as book:
        he = function_holding(book, "102", "initialization", "he_2_4_1")
        gc = function_holding(book, "102", "gradient_checking", "gradient_check_n_step")
    for function, slug, why in ((he, "initialization", "sqrt(2 / n) in the comment; a typo in one line"),
                                (gc, "gradient_checking", "explained the 2 * epsilon in office hours")):
        done = run(course, ["grader", "override", "Omar Farouk", slug, function["name"], "--points",
                            str(function["max_score"]), "--reason", why, "--by", "prof"])
        assert done.returncode == 0, done.stderr
    assert "Score adjusted" in (course / "reports" / "102" / "report.html").read_text(encoding="utf-8")

    write_zip(course / "downloads" / "submissions (3).zip", [  # Omar's second attempt: the reference code
        ("faroukomar_102_884412_Gradient_Checking-1.ipynb", nb("gc_reference_code"), (2024, 3, 4, 9, 0, 0))])
    again = run(course, readme["grader grade"])
    assert again.returncode == 0, again.stderr
    assert "graded now 1," in again.stdout  # only the resubmission
    review = run(course, readme["grader review"])
    outdated = [line for line in review.stdout.splitlines() if "override outdated" in line]
    assert len(outdated) == 1 and "Farouk, Omar" in outdated[0] and gc["name"] in outdated[0]

    canvas = run(course, readme["grader export canvas"])
    assert canvas.returncode == 0, canvas.stderr
    init, gcheck, opt = "Initialization (1234)", "Gradient Checking (1235)", "Optimization methods (1236)"
    by_id = rows(course / readme["grader export canvas"][4], "ID")
    assert set(by_id) == {"", "101", "102", "103", "104", "199"}  # "" is the Points Possible row
    expected = {  # student -> (initialization, gradient checking, optimization) as exported
        # README's override: adam 8 of 10; the roster's time is 22 h past the extended due date: -10%
        "101": ("30", "30", number(40 - 2 - 4)),
        "102": ("30", "30", number(score("opt_adam_no_bias_correction", catalog) - 4)),  # overrides; 2 h late
        "103": ("0", "", "32"),                          # attempt 2 is 26 h late: -20% of 40
        "104": ("0", number(score("gc_seed_student", catalog)), ""),
        "199": ("", "", ""),                             # on the roster, nothing handed in
    }
    assert {k: (by_id[k][init], by_id[k][gcheck], by_id[k][opt]) for k in expected} == expected

    # Canvas's gradebook export has no e-mail: the README's Moodle line says in one line what would.
    moodle = run(course, readme["grader export moodle"])
    assert moodle.returncode == 2
    assert moodle.stderr.strip().splitlines() == [
        "error: no student here has an email address: grade again with --roster naming Moodle's participants "
        "export ('Email address') or grades export, or --identifier idnumber (known for some students)"]

    with Gradebook(gradebook, create=False) as book:  # the raw scores stay in the history
        history = {(key, slug): [h["score"] for h in book.history(key, slug)]
                   for key, slug in (("101", "optimization"), ("102", "initialization"),
                                     ("102", "gradient_checking"), ("103", "optimization"))}
        overrides = [(o["student_key"], o["assignment"], o["who"]) for o in book.overrides()]
    assert history == {("101", "optimization"): [pytest.approx(40)],
                       ("102", "initialization"): [pytest.approx(score("init_xavier_scale", catalog))],
                       ("102", "gradient_checking"): [pytest.approx(score("gc_divides_by_epsilon", catalog)),
                                                      pytest.approx(30)],
                       ("103", "optimization"): [pytest.approx(40)]}
    assert overrides[1:] == [("102", "initialization", "prof"), ("102", "gradient_checking", "prof")]
    assert overrides[0][:2] == ("101", "optimization")

    page = (course / "reports" / "index.html").read_text(encoding="utf-8")
    for text in ("Quiet, Zoe (Section B): no submission", "Late work", "Needs review", "override outdated",
                 "late by 22.0 hours (after a 1-day extension): -10%"):
        assert text in page, text
    zeros = run(course, ["grader", "export", "csv", "--missing", "zero", "--out", "plain.csv"])
    assert zeros.returncode == 0
    assert rows(course / "plain.csv", "lms_id")["199"]["optimization"] == "0"


# --- Moodle -------------------------------------------------------------------------------------

def moodle_folder(name: str, participant: int, plugin: str = "file") -> str:
    return f"{name}_{participant}_assignsubmission_{plugin}_"


MOODLE_DOWNLOADS = {  # Moodle names the zip course-assignment-module id
    "ML101-Initialization-4711.zip": [
        (f"{moodle_folder('Jane Doe', 40012)}/Initialization.ipynb", nb("init_reference_code"), MARCH_1_NOON),
        (f"{moodle_folder('Omar Farouk', 40013)}/Initialization.ipynb", nb("init_xavier_scale"), MARCH_1_NOON),
        (f"{moodle_folder('Omar Farouk', 40013, 'onlinetext')}/onlinetext.html", b"<p>see the notebook</p>",
         MARCH_1_NOON),
    ],
    "ML101-Optimization methods-4713.zip": [  # due 2024-03-01 10:00 UTC
        (f"{moodle_folder('Jane Doe', 40089)}/Optimization_methods.ipynb", nb("opt_reference_code"), MARCH_2_NOON),
        (f"{moodle_folder('Omar Farouk', 40090)}/Optimization_methods.ipynb", nb("opt_adam_no_bias_correction"),
         (2024, 3, 1, 9, 30, 0)),
    ],
}
MOODLE_ROSTER = '''\
First name,Last name,Email address,Roles,Groups,Last access to course
Jane,Doe,jdoe@example.edu,Student,Group A,2 days 3 hours
Omar,Farouk,ofarouk@example.edu,Student,Group B,1 day
Li,Wei,lwei@example.edu,Student,Group A,Never
'''
MOODLE_CONFIG = f'''\
[course]
solutions = "{ROOT / "solutions"}"
roster = "roster.csv"

[due]
optimization = 2024-03-01T10:00:00Z

[late]
per_day = 10
'''


@pytest.mark.kernel
def test_a_moodle_term_from_the_readme(tmp_path):
    """The README's grade, review, override and Moodle export lines on a Moodle folder download."""
    catalog = Catalog(ROOT / "solutions")
    readme = readme_commands()
    course = tmp_path / "course"
    for name, members in MOODLE_DOWNLOADS.items():
        write_zip(course / "downloads" / name, members)
    (course / "roster.csv").write_text(MOODLE_ROSTER, encoding="utf-8")
    (course / "grader.toml").write_text(MOODLE_CONFIG, encoding="utf-8")

    graded = run(course, readme["grader grade"])
    assert graded.returncode == 0, graded.stderr
    assert run(course, readme["grader review"]).returncode == 0
    override = run(course, readme["grader override"])
    assert override.returncode == 0, override.stderr
    assert override.stdout.startswith("Jane Doe, optimization / update_parameters_with_adam: 8 points")

    moodle = run(course, readme["grader export moodle"])
    assert moodle.returncode == 0, moodle.stderr
    by_email = rows(course / readme["grader export moodle"][-1], "Email address")
    assert set(by_email) == {"jdoe@example.edu", "ofarouk@example.edu", "lwei@example.edu"}
    jane, omar, li = by_email["jdoe@example.edu"], by_email["ofarouk@example.edu"], by_email["lwei@example.edu"]
    assert (jane["Initialization"], jane["Optimization methods"]) == ("30", number(40 - 2 - 8))  # 26 h late: -20%
    assert "late by 1.1 days: -20%" in jane["Feedback"] and "update_parameters_with_adam set to 8" in jane["Feedback"]
    assert (omar["Initialization"], omar["Optimization methods"]) == \
        (number(score("init_xavier_scale", catalog)), number(score("opt_adam_no_bias_correction", catalog)))
    assert li["Optimization methods"] == "" and "no submission" in li["Feedback"]
    with Gradebook(course / "reports" / "gradebook.sqlite", create=False) as book:
        assert [h["score"] for h in book.history("Jane Doe", "optimization")] == [pytest.approx(40)]
    page = (course / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Li Wei (Group A): no submission" in page
