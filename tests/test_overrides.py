"""The instructor's hand on the gradebook: overrides, the review list, the late policy and
grader.toml, read back as reports and exports see them (no kernel)."""
from __future__ import annotations

import datetime
import json
import re

import pytest

from grader.classrun.gradebook import Gradebook, GradebookError, Item
from grader.classrun.late import LatePolicy, policy_from
from grader.cli import main
from grader.core.config import FILE_NAME, load_config
from grader.core.errors import UsageError
from grader.core.records import Student
from grader.core.results import (
    AssignmentInfo,
    CheckResult,
    CheckStatus,
    FunctionResult,
    FunctionStatus,
    NotebookResult,
    NotebookStatus,
    Review,
)
from grader.lms.export import assignment_columns, canvas_csv, moodle_csv

UTC = datetime.timezone.utc
DUE = datetime.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def lab_result(student: str, *, he_points: float, review: Review | None = None, status: str = "graded") -> NotebookResult:
    """A 'lab' result worth 10: zeros (4 points, passed) and he (6 points, ``he_points`` of them)."""
    zeros = FunctionResult("zeros", FunctionStatus.OK, (CheckResult("zeros_shape", CheckStatus.PASSED, 4, 4),))
    he = FunctionResult("he", FunctionStatus.OK, (
        CheckResult("he_scale", CheckStatus.PASSED if he_points == 6 else CheckStatus.FAILED, he_points, 6),),
        review=review)
    return NotebookResult(student=student, source={"path": f"{student}/Lab.ipynb", "sha256": "?"},
                          status=NotebookStatus(status), max_score=10, assignment=AssignmentInfo("lab", "Lab", "v1", 10),
                          functions=(zeros, he))


def hand_in(book: Gradebook, student: Student, sha: str, result: NotebookResult, submitted: str = "") -> None:
    run = book.start_run({})
    book.record_student(run, student, [Item(path=f"{student.key}/Lab.ipynb", name="Lab.ipynb", sha256=sha,
                                            requested=None, result=result, version="v1", submitted=submitted)])
    book.finish_run(run, "finished", {})


@pytest.fixture
def book(tmp_path):
    with Gradebook(tmp_path / "gradebook.sqlite") as gb:
        yield gb


ADA = Student("ada", "Ada Lovelace", email="ada@example.edu", section="A")
BEN = Student("ben", "Ben Ode", email="ben@example.edu", section="B")


# --- overrides --------------------------------------------------------------------------------

def test_a_function_override_sets_the_final_score_and_keeps_the_raw_one(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0))
    book.add_override(ADA, "lab", function="he", points=5, reason="right idea, wrong constant", who="prof")
    (record,) = book.class_records()
    lab = record.results["lab"]
    assert lab["score"] == pytest.approx(9)  # 4 + 5
    assert lab["adjustments"]["raw_score"] == pytest.approx(4)
    (applied,) = lab["adjustments"]["overrides"]
    assert (applied["function"], applied["points"], applied["who"], applied["reason"]) == \
        ("he", 5, "prof", "right idea, wrong constant")
    assert [h["score"] for h in book.history("ada", "lab")] == [pytest.approx(4)]  # the result itself unchanged


def test_check_and_notebook_overrides_and_the_latest_of_one_target_wins(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0))
    book.add_override(ADA, "lab", function="he", check="he_scale", points=2, reason="partly", who="ta")
    book.add_override(ADA, "lab", function="he", check="he_scale", points=3, reason="on second look", who="prof")
    assert book.class_records()[0].results["lab"]["score"] == pytest.approx(7)
    book.add_override(ADA, "lab", points=10, reason="oral exam instead", who="prof")
    assert book.class_records()[0].results["lab"]["score"] == pytest.approx(10)
    assert len(book.overrides("ada")) == 3  # every one kept


def test_an_override_survives_an_unchanged_regrade_but_not_a_new_submission(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0))
    book.add_override(ADA, "lab", function="he", points=6, reason="accepted by email", who="prof")
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0))  # the same bytes graded again
    assert book.class_records()[0].results["lab"]["score"] == pytest.approx(10)
    assert book.review_items() == []

    hand_in(book, ADA, "h2", lab_result("ada", he_points=3))  # a resubmission
    lab = book.class_records()[0].results["lab"]
    assert lab["score"] == pytest.approx(7)  # the new grade, the override no longer applies
    assert [o["reason"] for o in lab["adjustments"]["stale_overrides"]] == ["accepted by email"]
    assert any("earlier submission" in flag for flag in lab["flags"])
    (item,) = book.review_items()
    assert (item["student"], item["function"], item["what"]) == ("Ada Lovelace", "he", "override outdated")
    assert len(book.overrides()) == 1  # still in the history


def test_review_lists_flagged_functions_and_unreadable_files_and_accept_takes_the_other_score(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0, review=Review("own definition differs", 6)))
    hand_in(book, BEN, "h2", lab_result("ben", he_points=0, status="unreadable"))
    items = book.review_items()
    assert [(i["key"], i["function"], i["what"]) for i in items] == \
        [("ada", "he", "needs review"), ("ben", "", "unreadable")]
    assert "whole definition 6/6" in items[0]["detail"]
    assert (items[0]["score"], items[0]["other"]) == (pytest.approx(0), pytest.approx(6))  # now, and otherwise
    assert items[0]["command"].startswith("grader override ada lab he --accept")
    assert items[1]["command"] == 'grader override ben lab --points N --reason "..."'
    book.add_override(ADA, "lab", function="he", accept_other=True, reason="second opinion is right", who="prof")
    assert book.class_records()[0].results["lab"]["score"] == pytest.approx(10)
    assert [i["key"] for i in book.review_items()] == ["ben"]


@pytest.mark.parametrize("kwargs, message", [
    ({"function": "nope", "points": 1}, "no graded function 'nope'; it has: zeros, he"),
    ({"function": "he", "check": "nope", "points": 1}, "no check 'nope'"),
    ({"function": "he", "points": 7}, "between 0 and 6"),
    ({"points": -1}, "between 0 and 10"),
    ({"function": "he", "accept_other": True}, "no second opinion to accept"),
    ({"function": "he", "points": 1, "reason": " "}, "needs a reason"),
])
def test_bad_overrides_are_one_line_errors_and_record_nothing(book, kwargs, message):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0))
    with pytest.raises(GradebookError, match=message):
        book.add_override(ADA, "lab", **{"reason": "why", "who": "prof", **kwargs})
    assert book.overrides() == []


def test_roster_students_without_a_submission_are_in_the_class_and_the_exports(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=6))
    book.record_roster([BEN])
    records = book.class_records()
    assert [r.student.key for r in records] == ["ada", "ben"]
    columns = assignment_columns(records)
    blank = canvas_csv(records, columns).text.splitlines()
    assert blank[-1].startswith("Ben Ode,") and blank[-1].endswith(",")  # an empty cell
    zero = moodle_csv(records, columns, missing="zero").text.splitlines()
    assert zero[-1].startswith("ben@example.edu,Ben Ode,0,")
    assert "Lab: no submission" in zero[-1]


def test_a_student_is_found_by_key_or_by_name_in_either_order(book):
    """Canvas's gradebook export writes 'Doe, Jane'; an instructor types 'Jane Doe'."""
    jane = Student("101", "Doe, Jane")
    hand_in(book, jane, "h1", lab_result("101", he_points=0))
    assert book.find_student("jane doe").key == "101"
    assert book.find_student("Doe,  Jane").key == "101" and book.find_student("101").key == "101"
    with pytest.raises(GradebookError, match="no student 'Jane Roe'"):
        book.find_student("Jane Roe")


# --- the late policy ------------------------------------------------------------------------

def test_late_penalty_per_started_day_with_grace_cap_extension_and_no_credit_after():
    policy = LatePolicy(due={"lab": DUE}, per_day=10, grace_minutes=15, cap=30, no_credit_after_days=7,
                        extensions={"ben": 2, "Ada Lovelace": {"other": 5}})
    hours = datetime.timedelta(hours=1)
    assert policy.assess("lab", DUE + datetime.timedelta(minutes=10), 10) is None  # within the grace
    assert policy.assess("lab", DUE + 2 * hours, 10).percent == 10
    assert policy.assess("lab", DUE + 26 * hours, 10).penalty == pytest.approx(2)
    assert policy.assess("lab", DUE + 100 * hours, 10).percent == 30  # the cap
    assert policy.assess("lab", DUE + 8 * 24 * hours, 10).percent == 100  # no credit after 7 days
    assert policy.assess("lab", DUE + 26 * hours, 10, ("ben", "Ben Ode")) is None  # two days' extension
    assert policy.assess("lab", DUE + 26 * hours, 10, ("ada", "Ada Lovelace")).percent == 20  # other assignment's
    assert policy.assess("lab", None, 10) is None and policy.assess("other", DUE + 50 * hours, 10) is None
    per_hour = LatePolicy(due={"lab": DUE}, per_hour=1)
    assert per_hour.assess("lab", DUE + 5.5 * hours, 10).percent == 6


def test_the_penalty_is_applied_on_reading_after_overrides_and_shown_in_moodle_feedback(book):
    hand_in(book, ADA, "h1", lab_result("ada", he_points=0), submitted="2024-03-02T12:00:00+00:00")  # 26 h late
    book.add_override(ADA, "lab", function="he", points=6, reason="regraded by hand", who="prof")
    policy = LatePolicy(due={"lab": DUE}, per_day=10)
    lab = book.class_records(policy)[0].results["lab"]
    assert lab["score"] == pytest.approx(8)  # 10 after the override, minus 20% of 10
    assert lab["adjustments"]["late"]["penalty"] == pytest.approx(2)
    assert book.class_records()[0].results["lab"]["score"] == pytest.approx(10)  # no policy: no penalty
    records = book.class_records(policy)
    feedback = moodle_csv(records, assignment_columns(records)).text
    assert "Lab 8/10 (graded 4; he set to 6 by the instructor: regraded by hand; late by 1.1 days: -20%)" in feedback


def test_a_submission_time_given_later_replaces_the_stored_one_without_a_regrade(book):
    """A roster column added after grading: the next run records the new time for the same bytes."""
    policy = LatePolicy(due={"lab": DUE}, per_day=10)
    hand_in(book, ADA, "h1", lab_result("ada", he_points=6), submitted="2024-03-01T09:00:00+00:00")
    assert book.class_records(policy)[0].results["lab"]["adjustments"]["late"] is None
    hand_in(book, ADA, "h1", lab_result("ada", he_points=6), submitted="2024-03-02T12:00:00+00:00")
    late = book.class_records(policy)[0].results["lab"]["adjustments"]["late"]
    assert late["percent"] == pytest.approx(20) and late["penalty"] == pytest.approx(2)
    hand_in(book, ADA, "h1", lab_result("ada", he_points=6), submitted="")  # no time known: the stored one stays
    assert book.class_records(policy)[0].results["lab"]["adjustments"]["late"]["percent"] == pytest.approx(20)


# --- grader.toml ----------------------------------------------------------------------------

def test_config_is_found_upwards_and_read_as_a_policy(tmp_path, monkeypatch):
    (tmp_path / FILE_NAME).write_text(
        '[course]\nsolutions = "sol"\n[due]\nlab = 2024-03-01T10:00:00Z\n[late]\nper_day = 10\n'
        '[extensions]\n"ben" = 2\n', encoding="utf-8")
    deeper = tmp_path / "week1" / "downloads"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    config = load_config()
    assert config.path == tmp_path / FILE_NAME
    assert config.course_path("solutions") == tmp_path / "sol"
    policy = policy_from(config)
    assert policy.due == {"lab": DUE} and policy.per_day == 10 and policy.extensions == {"ben": 2}


@pytest.mark.parametrize("text, message", [
    ("[course\n", "not valid TOML"),
    ("[grading]\n", "unknown section [grading]"),
    ("[due]\nlab = 'next friday'\n", "not a date-time"),
])
def test_bad_config_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / FILE_NAME
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(message)):
        load_config(path)


def test_late_settings_are_checked(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text("[late]\nper_week = 1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no setting 'per_week'"):
        policy_from(load_config(path))


# --- the commands -------------------------------------------------------------------------------

def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_a_starter_that_loads_and_never_replaces_one(capsys, tmp_path):
    code, out, _ = run(capsys, "init", tmp_path)
    assert code == 0 and FILE_NAME in out
    assert load_config(tmp_path / FILE_NAME).course["solutions"] == "solutions"
    (tmp_path / FILE_NAME).write_text("# mine\n", encoding="utf-8")
    code, _, err = run(capsys, "init", tmp_path)
    assert code == 2 and "exists already" in err
    assert (tmp_path / FILE_NAME).read_text(encoding="utf-8") == "# mine\n"


def test_outside_a_course_folder_the_error_names_solutions_and_the_config_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "list")
    assert code == 2
    assert err.startswith("error: no solutions folder solutions: pass --solutions FOLDER") and FILE_NAME in err
    assert len(err.strip().splitlines()) == 1


def test_list_shows_slugs_points_checks_and_canvas_ids(capsys, tiny_folder, tmp_path, monkeypatch):
    (tmp_path / FILE_NAME).write_text(f'[course]\nsolutions = "{tiny_folder}"\n[canvas]\ntiny = 77\n',
                                      encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "list")
    assert code == 0
    header, rule, row = out.splitlines()
    assert header.split() == ["slug", "title", "notebook", "points", "checks", "canvas", "id"]
    assert row.split()[0] == "tiny" and row.split()[-1] == "77" and "hidden" in row


def test_version_and_a_wrong_option_prints_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("grader ")
    with pytest.raises(SystemExit) as exit_:
        main(["review", "--colour"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("usage: grader review") and "unrecognized arguments: --colour" in err


@pytest.mark.parametrize("argv, usage", [
    (["grade", "class", "--colour"], "usage: grader grade"),
    (["export", "canvas", "--colour"], "usage: grader export canvas"),
    (["export", "moodle", "--identifier", "nickname"], "usage: grader export moodle"),
    (["override", "ada", "lab", "--points", "1", "--reason", "x", "--colour"], "usage: grader override"),
    (["list", "--colour"], "usage: grader list"),
    (["init", "--colour"], "usage: grader init"),
    (["feedback", "--colour"], "usage: grader feedback"),
    (["check", "nb.ipynb", "--colour"], "usage: grader check"),
])
def test_a_wrong_option_prints_that_subcommands_usage_and_exits_2(capsys, argv, usage):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(usage), err
    assert "Traceback" not in err


def test_every_option_of_every_command_has_help():
    import argparse

    from grader.cli import parser

    def walk(p: argparse.ArgumentParser, path: str):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from walk(child, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction):
                yield path, action
    missing = [f"{path} {action.dest}" for path, action in walk(parser(), "grader") if not action.help]
    assert missing == []


def test_override_and_review_commands_on_a_gradebook(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Gradebook(tmp_path / "reports" / "gradebook.sqlite") as gb:
        hand_in(gb, ADA, "h1", lab_result("ada", he_points=0, review=Review("own definition differs", 6)))
    code, out, _ = run(capsys, "review")
    assert code == 0
    assert "Ada Lovelace" in out and "needs review" in out and "\x1b[" not in out  # piped: no colour
    assert '  1. grader override ada lab he --accept --reason "..."  (or --points N)' in out.splitlines()
    code, out, err = run(capsys, "override", "ada lovelace", "lab", "he", "--accept", "--reason", "fair", "--by", "prof")
    assert code == 0, err
    assert out.startswith("Ada Lovelace, lab / he: 6 points, set by prof (fair); lab now 10 (graded 4)")
    code, out, _ = run(capsys, "review", "--json")
    assert json.loads(out) == []
    code, _, err = run(capsys, "override", "nobody", "lab", "--points", "1", "--reason", "x")
    assert code == 2 and err.startswith("error: no student 'nobody'") and len(err.strip().splitlines()) == 1


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    from grader.core import terminal

    class Tty:
        def isatty(self) -> bool:
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.paint("unreadable", "red", Tty()) == "\x1b[31munreadable\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.paint("unreadable", "red", Tty()) == "unreadable"


def test_tables_fit_the_width_they_are_given(monkeypatch):
    from grader.core.terminal import table

    monkeypatch.delenv("COLUMNS", raising=False)
    detail = " ".join(f"word{i}" for i in range(40))
    rows = [("student", "detail"), ("Ada", detail)]
    lines = table(rows, columns=60).splitlines()
    assert all(len(line) <= 60 for line in lines) and len(lines) > 3
    assert " ".join(line.split(maxsplit=1)[-1] if i == 2 else line.strip() for i, line in enumerate(lines[2:], 2)) \
        == detail  # wrapped, nothing lost
    assert table(rows).splitlines()[2].endswith(detail)  # piped (no COLUMNS): whole lines


def test_feedback_reads_the_course_file_and_hands_out_final_scores(capsys, tmp_path, monkeypatch):
    """grader feedback in a course folder: the gradebook in [course] out, pages beside it, the late penalty applied."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    (tmp_path / FILE_NAME).write_text(f'[course]\nsolutions = "{root / "solutions"}"\nout = "marks"\n'
                                      '[due]\nlab = 2024-03-01T10:00:00Z\n[late]\nper_day = 10\n', encoding="utf-8")
    with Gradebook(tmp_path / "marks" / "gradebook.sqlite") as gb:
        hand_in(gb, ADA, "h1", lab_result("ada", he_points=6), submitted="2024-03-02T12:00:00+00:00")  # 26 h late
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "feedback")
    assert code == 0, err
    assert out.strip() == f"1 feedback pages in {tmp_path / 'marks' / 'feedback'}"
    page = json.loads((tmp_path / "marks" / "feedback" / "ada" / "feedback.json").read_text(encoding="utf-8"))
    assert [r["score"] for r in page] == [pytest.approx(8)]  # 10 less 20%


def test_feedback_without_a_gradebook_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    (tmp_path / FILE_NAME).write_text(f'[course]\nsolutions = "{root / "solutions"}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "feedback")
    assert code == 2 and out == ""
    assert err.startswith("error: no gradebook at reports/gradebook.sqlite") and len(err.strip().splitlines()) == 1
