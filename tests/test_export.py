"""Grades back to the LMS (grader/export.py): Canvas, Moodle, plain CSV and JSON Lines.

The class is built from the result fixtures in tests/fixtures/results, so every figure
the tests compare against comes from a result file, never from the exporter.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from grader.cli import main
from grader.core.records import ClassRecord, Student
from grader.lms.export import (
    CANVAS_IDENTITY,
    assignment_columns,
    canvas_csv,
    jsonl,
    moodle_csv,
    number,
    plain_csv,
    records_from_results,
)

RESULTS = Path(__file__).parent / "fixtures" / "results"


def result(scenario: str) -> dict:
    return json.loads((RESULTS / f"{scenario}.json").read_text(encoding="utf-8"))


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
def klass() -> list[ClassRecord]:
    """Four students; names with a comma, quotes and accents; one without an email."""
    return [
        ClassRecord(Student(key="u1", name='Doe, Jane "JD"', lms_id="101", sis_id="S-1", sis_login="jdoe",
                            section="Section A", email="jane@example.org", username="jdoe"),
                    {"initialization": result("full_marks"), "optimization": result("partly_wrong")}),
        ClassRecord(Student(key="u2", name="Zoë Ångström", lms_id="102", sis_id="S-2", sis_login="zangstrom",
                            section="Section B", email="zoe@example.org", username="zoe"),
                    {"gradient_checking": result("fallback"), "optimization": result("not_attempted_timeout")}),
        ClassRecord(Student(key="u3", name="Carl Broken", lms_id="103", sis_id="S-3", sis_login="cbroken",
                            email="carl@example.org", username="carl"),
                    {"gradient_checking": result("unreadable")}),
        ClassRecord(Student(key="u4", name="Ann Noemail", lms_id="104", sis_id="", username="ann"),
                    {"initialization": result("full_marks")}),
    ]


def test_number_keeps_scores_exact_to_four_decimals():
    assert number(24.5) == "24.5"
    assert number(30.0) == "30"
    assert number(0.0) == "0"
    assert number(2 / 3) == "0.6667"
    assert number(-0.00001) == "0"


def test_columns_come_from_the_results_ordered_by_title_or_as_asked(klass):
    columns = assignment_columns(klass)
    assert [c.title for c in columns] == ["Gradient Checking", "Initialization", "Optimization methods"]
    assert [c.max_score for c in columns] == [30, 30, 40]
    assert [c.slug for c in assignment_columns(klass, ["optimization", "initialization"])] == \
        ["optimization", "initialization"]
    with pytest.raises(ValueError, match="no results for assignment 'nope'"):
        assignment_columns(klass, ["nope"])


# --- Canvas ----------------------------------------------------------------------------------

def test_canvas_csv_header_points_row_and_scores(klass):
    columns = assignment_columns(klass)
    ids = {"initialization": "1234", "gradient_checking": "1235", "optimization": "1236"}
    export = canvas_csv(klass, columns, canvas_ids=ids)
    rows = rows_of(export.text)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Gradient Checking (1235)", "Initialization (1234)", "Optimization methods (1236)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "30", "30", "40"]
    body = {row[1]: row for row in rows[2:]}
    assert len(body) == len(klass)
    for record in klass:
        row = body[record.student.lms_id]
        assert row[:5] == [record.student.display_name, record.student.lms_id, record.student.sis_id,
                           record.student.sis_login, record.student.section]
        for cell, column in zip(row[5:], columns):
            if column.slug in record.results:
                assert float(cell) == record.results[column.slug]["score"]
            else:
                assert cell == "", "a missing submission is an empty cell, not 0"
    assert body["101"][7] == "24.5"
    assert body["103"][5] == "0", "an unreadable submission is a submission: 0 points"
    assert not export.warnings


def test_canvas_quotes_names_with_commas_and_quotes(klass):
    text = canvas_csv(klass, assignment_columns(klass)).text
    assert '"Doe, Jane ""JD"""' in text
    assert 'Doe, Jane "JD"' in [row[0] for row in rows_of(text)]


def test_canvas_without_ids_or_points_row_and_with_zero_for_missing(klass):
    columns = assignment_columns(klass)
    export = canvas_csv(klass, columns, points_possible=False, missing="zero")
    rows = rows_of(export.text)
    assert rows[0] == [*CANVAS_IDENTITY, "Gradient Checking", "Initialization", "Optimization methods"]
    assert [row[0] for row in rows[1:]] == ["Ann Noemail", "Carl Broken", 'Doe, Jane "JD"', "Zoë Ångström"], \
        "no Points Possible row; students sorted by name"
    assert rows[3][5] == "0", "Jane did not submit Gradient Checking: 0 when asked for"
    assert any("new assignment" in w for w in export.warnings)


def test_canvas_warns_about_students_it_cannot_match(klass):
    klass.append(ClassRecord(Student(key="folder-name"), {"initialization": result("full_marks")}))
    export = canvas_csv(klass, assignment_columns(klass), canvas_ids={"initialization": "1"})
    assert any("1 student has no Canvas ID" in w and "folder-name" in w for w in export.warnings)
    assert export.rows == 5, "the row is still written; Canvas lets the instructor match it by hand"


@pytest.mark.parametrize("status", ["crashed", "kernel_error"])
def test_a_submission_the_grader_failed_on_is_exported_without_a_grade(klass, status):
    failed = {**result("unreadable"), "status": status, "message": "the worker process died"}
    klass[2].results["gradient_checking"] = failed  # Carl
    columns = assignment_columns(klass)
    canvas = canvas_csv(klass, columns, missing="zero")
    carl = next(row for row in rows_of(canvas.text) if row[0] == "Carl Broken")
    assert carl[5] == "", "not the student's fault: no 0, even with --missing zero"
    assert any("1 student has a submission the grader failed on" in w and "Carl Broken" in w
               for w in canvas.warnings)
    moodle = moodle_csv(klass, columns, identifier="username")
    carl = next(row for row in rows_of(moodle.text) if row[0] == "carl")
    assert carl[2] == ""
    assert carl[5].startswith("Gradient Checking: not graded yet (the worker process died)")
    assert any("grader failed on" in w for w in moodle.warnings)


# --- Moodle ----------------------------------------------------------------------------------

@pytest.mark.parametrize("identifier, title, values", [
    ("email", "Email address", {"jane@example.org", "zoe@example.org", "carl@example.org"}),
    ("username", "Username", {"jdoe", "zoe", "carl", "ann"}),
    ("idnumber", "ID number", {"S-1", "S-2", "S-3"}),
])
def test_moodle_identifier_column(klass, identifier, title, values):
    export = moodle_csv(klass, assignment_columns(klass), identifier=identifier)
    rows = rows_of(export.text)
    assert rows[0] == [title, "Full name", "Gradient Checking", "Initialization", "Optimization methods", "Feedback"]
    assert {row[0] for row in rows[1:]} == values
    left_out = len(klass) - len(values)
    assert export.rows == len(values)
    assert len(export.left_out) == left_out
    if left_out:
        assert export.warnings == [f"1 student has no {title.lower()} and was left out: Ann Noemail"]


def test_moodle_grades_and_feedback(klass):
    rows = rows_of(moodle_csv(klass, assignment_columns(klass), identifier="username").text)
    by_user = {row[0]: row for row in rows[1:]}
    jane = by_user["jdoe"]
    assert jane[2:5] == ["", "30", "24.5"]
    assert jane[5] == ("Gradient Checking: no submission; Initialization 30/30; Optimization methods 24.5/40, "
                       "failed: mini_batches_shuffled_together, momentum_two_layers, momentum_beta_zero, "
                       "adam_two_layer_t2")
    carl = by_user["carl"]
    assert carl[2] == "0"
    assert "Gradient Checking 0/30, not graded: Not a notebook: the file is not valid JSON" in carl[5]


def test_moodle_feedback_per_assignment(klass):
    rows = rows_of(moodle_csv(klass, assignment_columns(klass, ["optimization"]), identifier="email",
                              feedback="per-assignment").text)
    assert rows[0] == ["Email address", "Full name", "Optimization methods", "Feedback: Optimization methods"]
    zoe = next(row for row in rows if row[0] == "zoe@example.org")
    assert zoe[2] == "10"
    failed = [c["name"] for f in result("not_attempted_timeout")["functions"] for c in f["checks"]
              if c["status"] != "passed"]
    assert len(failed) == 7
    assert zoe[3] == f"Optimization methods 10/40, failed: {', '.join(failed)}"


def test_moodle_feedback_names_at_most_eight_failed_checks():
    many = result("not_attempted_timeout")
    many["functions"] = many["functions"] * 2  # 14 failed checks
    record = ClassRecord(Student(key="x", email="x@example.org"), {"optimization": many})
    rows = rows_of(moodle_csv([record], assignment_columns([record])).text)
    failed = [c["name"] for f in many["functions"] for c in f["checks"] if c["status"] != "passed"]
    assert rows[1][-1] == f"Optimization methods 10/40, failed: {', '.join(failed[:8])} and 6 more"


# --- plain CSV and JSON Lines ----------------------------------------------------------------

def test_plain_csv_identity_scores_and_totals(klass):
    rows = rows_of(plain_csv(klass, assignment_columns(klass)).text)
    assert rows[0] == ["key", "name", "lms_id", "sis_id", "sis_login", "section", "email", "username",
                       "gradient_checking", "initialization", "optimization", "total", "max_total"]
    by_key = {row[0]: row for row in rows[1:]}
    for record in klass:
        row = by_key[record.student.key]
        assert float(row[11]) == sum(r["score"] for r in record.results.values())
        assert row[12] == "100"
    assert by_key["u1"][8:11] == ["", "30", "24.5"]


def test_jsonl_round_trip_holds_every_student_and_every_check(klass):
    columns = assignment_columns(klass)
    lines = jsonl(klass, columns).text.splitlines()
    assert len(lines) == len(klass)
    parsed = {obj["student"]["key"]: obj for obj in map(json.loads, lines)}
    for record in klass:
        obj = parsed[record.student.key]
        assert obj["student"]["name"] == record.student.name
        assert obj["total"] == sum(r["score"] for r in record.results.values())
        assert obj["max_total"] == 100
        entries = {a["slug"]: a for a in obj["assignments"]}
        assert set(entries) == {c.slug for c in columns}
        for slug, entry in entries.items():
            res = record.results.get(slug)
            if res is None:
                assert entry["status"] == "no_submission" and entry["score"] is None and entry["checks"] == []
                continue
            assert (entry["status"], entry["score"], entry["message"]) == (res["status"], res["score"], res["message"])
            want = [(f["name"], c["name"], c["hidden"], c["status"], c["points"], c["max_points"], c["message"])
                    for f in res["functions"] for c in f["checks"]]
            got = [(c["function"], c["name"], c["hidden"], c["status"], c["points"], c["max_points"], c["message"])
                   for c in entry["checks"]]
            assert got == want


# --- reading result files and the command ----------------------------------------------------

def write_result(folder: Path, student: str, name: str, data: dict, mtime: float | None = None) -> Path:
    path = folder / student / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**data, "student": student}), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def results_dir(tmp_path) -> Path:
    folder = tmp_path / "reports"
    write_result(folder, "ada", "Initialization", result("full_marks"), 1_000)
    write_result(folder, "ada", "Optimization_methods", {**result("not_attempted_timeout"), "mode": "instructor"},
                 1_000)
    write_result(folder, "ada", "Optimization_methods_1", result("partly_wrong"), 2_000)  # resubmitted later
    write_result(folder, "ben", "Gradient_Checking", result("unreadable"))
    write_result(folder, "ben", "Tiny", {**result("full_marks"), "mode": "student"})
    (folder / "ben" / "broken.json").write_text("{", encoding="utf-8")
    (folder / "overview.json").write_text('{"not": "a result"}', encoding="utf-8")
    return folder


def test_records_from_results_keep_the_latest_result_and_say_what_they_left_out(results_dir):
    records, warnings = records_from_results(results_dir)
    by_key = {r.student.key: r for r in records}
    assert set(by_key) == {"ada", "ben"}
    assert by_key["ada"].results["optimization"]["score"] == result("partly_wrong")["score"]
    assert set(by_key["ben"].results) == {"gradient_checking"}
    assert len(warnings) == 2
    assert any("broken.json: not readable as JSON" in w for w in warnings)
    assert any("Tiny.json: a student's self-check" in w for w in warnings)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_command_writes_a_utf8_canvas_file(capsys, results_dir, tmp_path):
    out = tmp_path / "canvas.csv"
    code, stdout, err = run(capsys, "export", "canvas", "--results", results_dir, "--out", out,
                            "--canvas-id", "optimization=77", "--assignments", "optimization,gradient_checking")
    assert code == 0
    assert "2 students, 2 assignments" in stdout
    rows = rows_of(out.read_bytes().decode("utf-8"))
    assert rows[0][5:] == ["Optimization methods (77)", "Gradient Checking"]
    assert rows[1][5:] == ["40", "30"]
    assert [row[0] for row in rows[2:]] == ["ada", "ben"]
    assert rows[2][5:] == ["24.5", ""]
    assert "warning: 2 students have no Canvas ID" in err
    assert "Traceback" not in err


def test_export_command_prints_jsonl_to_stdout(capsys, results_dir):
    code, stdout, _ = run(capsys, "export", "jsonl", "--results", results_dir)
    assert code == 0
    assert [json.loads(line)["student"]["key"] for line in stdout.splitlines()] == ["ada", "ben"]


def test_moodle_command_exits_1_when_it_leaves_students_out(capsys, monkeypatch, klass, tmp_path):
    monkeypatch.setattr("grader.lms.export.records_from_results", lambda folder: (klass, []))
    code, stdout, err = run(capsys, "export", "moodle", "--results", tmp_path, "--identifier", "idnumber")
    assert code == 1
    assert [row[0] for row in rows_of(stdout)] == ["ID number", "S-3", "S-1", "S-2"]
    assert err == "warning: 1 student has no id number and was left out: Ann Noemail\n"


@pytest.mark.parametrize("argv, message", [
    (["canvas", "--canvas-id", "optimization"], "write it as SLUG=ID"),
    (["canvas", "--canvas-id", "optimization=abc"], "a Canvas assignment id is a number"),
    (["canvas", "--canvas-id", "nope=1"], "--canvas-id names 'nope'"),
    (["csv", "--assignments", "nope"], "no results for assignment 'nope'"),
    (["moodle", "--identifier", "email"], "no student here has an email address: grade again with --roster"),
])
def test_bad_options_end_with_one_line_errors(capsys, results_dir, argv, message):
    code, stdout, err = run(capsys, "export", argv[0], "--results", results_dir, *argv[1:])
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert stdout == ""


def test_missing_gradebook_or_results_folder(capsys, tmp_path):
    code, _, err = run(capsys, "export", "canvas", "--gradebook", tmp_path / "none.sqlite")
    assert code == 2 and err.startswith("error: no gradebook at") and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "export", "csv", "--results", tmp_path / "nowhere")
    assert code == 2 and err.startswith("error: no results folder") and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "export", "csv", "--results", tmp_path / "empty")
    assert code == 2 and err.startswith("error: no graded submissions in")


def make_gradebook(path: Path, klass: list[ClassRecord]) -> Path:
    """A gradebook holding the class, written through the gradebook's own API."""
    from grader.classrun.gradebook import Gradebook, Item
    from grader.core.results import NotebookResult

    with Gradebook(path) as book:
        run_id = book.start_run({})
        for record in klass:
            items = [Item(path=f"{record.student.key}/{slug}.ipynb", name=f"{slug}.ipynb", sha256=f"{slug}-sha",
                          requested=None, result=NotebookResult.from_dict(res), version="v1")
                     for slug, res in record.results.items()]
            book.record_student(run_id, record.student, items)
        book.finish_run(run_id, "finished", {})
    return path


def test_export_reads_the_gradebook(capsys, klass, tmp_path):
    gradebook = make_gradebook(tmp_path / "gradebook.sqlite", klass)
    code, stdout, err = run(capsys, "export", "canvas", "--gradebook", gradebook, "--canvas-id", "initialization=5",
                            "--canvas-id", "gradient_checking=6", "--canvas-id", "optimization=7")
    assert code == 0, err
    rows = rows_of(stdout)
    assert rows[0][5:] == ["Gradient Checking (6)", "Initialization (5)", "Optimization methods (7)"]
    by_id = {row[1]: row for row in rows[2:]}
    assert by_id["101"] == ['Doe, Jane "JD"', "101", "S-1", "jdoe", "Section A", "", "30", "24.5"]
    assert by_id["103"][5:] == ["0", "", ""]
    assert err == ""
    code, stdout, err = run(capsys, "export", "moodle", "--gradebook", gradebook, "--identifier", "email")
    assert code == 1 and "Ann Noemail" in err
    assert {row[0] for row in rows_of(stdout)[1:]} == {"jane@example.org", "zoe@example.org", "carl@example.org"}


def test_a_file_that_is_not_a_gradebook(capsys, tmp_path):
    bogus = tmp_path / "gradebook.sqlite"
    bogus.write_text("not a database, just text " * 100, encoding="utf-8")
    code, stdout, err = run(capsys, "export", "csv", "--gradebook", bogus)
    assert code == 2 and stdout == ""
    assert err.startswith("error: ") and "gradebook" in err and len(err.strip().splitlines()) == 1
