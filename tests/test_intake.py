"""Intake: LMS downloads and folders become students with one notebook per assignment (no kernel)."""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import lms_class
import pytest

from grader.classrun.intake import IntakeError, collect, read_roster
from grader.grading.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


def by_key(intake):
    return {w.student.key: w for w in intake.students}


def slugs(work):
    return sorted(s.assignment or "?" for s in work.submissions)


def touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- Canvas -----------------------------------------------------------------------------------

def test_canvas_zips_group_each_student_by_lms_id(tmp_path, catalog):
    zips = lms_class.canvas_zips(tmp_path / "download")
    intake = collect(zips, extract_to=tmp_path / "out", catalog=catalog)
    assert set(intake.presets.values()) == {"canvas"}
    students = by_key(intake)
    assert set(students) == {"101", "102", "103", "104"}
    jane = students["101"]
    assert jane.student.name == "doejane" and jane.student.lms_id == "101"
    assert slugs(jane) == ["gradient_checking", "initialization", "optimization"]
    for sub in jane.submissions:
        assert sub.path.is_file()  # unpacked under the output folder, still there for the reports
        assert (tmp_path / "out") in sub.path.parents


def test_canvas_late_flag_and_latest_attempt_wins(tmp_path, catalog):
    intake = collect(lms_class.canvas_zips(tmp_path / "dl"), extract_to=tmp_path / "out", catalog=catalog)
    students = by_key(intake)
    omar_opt = next(s for s in students["102"].submissions if s.assignment == "optimization")
    assert omar_opt.late and omar_opt.path.name.startswith("faroukomar_LATE_102_")
    li = students["103"]
    opt = next(s for s in li.submissions if s.assignment == "optimization")
    assert opt.attempt == 1 and opt.path.name.endswith("Optimization_methods-1.ipynb")
    assert [s.path.name for s in li.superseded] == ["weili_103_5203_Optimization_methods.ipynb"]
    assert (opt.path.read_bytes() == lms_class.notebook_bytes("opt_written_differently"))


@pytest.mark.parametrize("marker", ["_LATE", "_late"])
def test_canvas_late_marker_in_either_case_on_an_unpacked_download(tmp_path, catalog, marker):
    """An unpacked Canvas download (a plain folder) reads as the zip does; the marker's case does not matter."""
    touch(tmp_path / "dl" / f"doejane{marker}_101_885501_Optimization_methods.ipynb",
          lms_class.notebook_bytes("opt_reference_code").decode())
    touch(tmp_path / "dl" / "doejane_101_883301_Initialization.ipynb",
          lms_class.notebook_bytes("init_reference_code").decode())
    intake = collect([tmp_path / "dl"], extract_to=tmp_path / "out", catalog=catalog)
    assert intake.presets == {str(tmp_path / "dl"): "canvas"}
    (jane,) = intake.students
    assert {s.assignment: s.late for s in jane.submissions} == {"initialization": False, "optimization": True}


def test_a_name_that_tells_nothing_leaves_the_assignment_to_the_content(tmp_path, catalog):
    intake = collect(lms_class.canvas_zips(tmp_path / "dl"), extract_to=tmp_path / "out", catalog=catalog)
    li = by_key(intake)["103"]
    unnamed = [s for s in li.submissions if s.assignment is None]
    assert [s.path.name for s in unnamed] == ["weili_103_5003_my init work.ipynb"]


def test_files_no_student_fits_are_listed_with_a_reason(tmp_path, catalog):
    intake = collect(lms_class.canvas_zips(tmp_path / "dl"), extract_to=tmp_path / "out", catalog=catalog)
    reasons = {Path(u.path).name: u.reason for u in intake.unmatched}
    assert set(reasons) == {"README.ipynb", "weili_103_5999_notes.txt"}
    assert "Canvas" in reasons["README.ipynb"]
    assert reasons["weili_103_5999_notes.txt"] == "not a notebook (.txt)"


def test_a_browsers_numbered_copy_counts_as_the_later_attempt(tmp_path, catalog):
    folder = tmp_path / "class" / "ada"
    old = touch(folder / "Initialization.ipynb", "old")
    new = touch(folder / "Initialization (1).ipynb", "new")
    intake = collect([tmp_path / "class"], extract_to=tmp_path / "out", catalog=catalog)
    ada = by_key(intake)["ada"]
    assert [s.path for s in ada.submissions] == [new]
    assert [s.path for s in ada.superseded] == [old]


# --- Moodle ----------------------------------------------------------------------------------

def test_moodle_zips_group_students_by_name_across_assignments(tmp_path, catalog):
    zips = lms_class.moodle_zips(tmp_path / "dl")
    intake = collect(zips, extract_to=tmp_path / "out", catalog=catalog)
    assert set(intake.presets.values()) == {"moodle"}
    students = by_key(intake)
    assert set(students) == {"Jane Doe", "Omar Farouk", "Li Wei", "Ana Souza"}
    assert slugs(students["Jane Doe"]) == ["gradient_checking", "initialization", "optimization"]
    assert students["Jane Doe"].student.lms_id == ""  # Moodle's number changes per assignment
    reasons = {Path(u.path).name: u.reason for u in intake.unmatched}
    assert set(reasons) == {"README.ipynb", "notes.txt"}


def test_moodle_flat_layout_and_namesakes_in_one_download(tmp_path, catalog):
    folder = tmp_path / "moodle"
    touch(folder / "John Smith_401_assignsubmission_file_Initialization.ipynb")
    touch(folder / "John Smith_402_assignsubmission_file_/Initialization.ipynb")
    intake = collect([folder], extract_to=tmp_path / "out", catalog=catalog)
    assert intake.presets[str(folder)] == "moodle"
    assert sorted(by_key(intake)) == ["John Smith_401", "John Smith_402"]
    assert all(slugs(w) == ["initialization"] for w in intake.students)


# --- folders and --pattern ---------------------------------------------------------------------

def test_folders_name_the_student_after_the_notebooks_folder(catalog, tmp_path):
    intake = collect([ROOT / "sample_class"], extract_to=tmp_path / "out", catalog=catalog)
    assert intake.presets[str(ROOT / "sample_class")] == "folders"
    students = by_key(intake)
    assert sorted(students) == ["ada", "ben", "chen", "dana", "eli"]
    assert slugs(students["eli"]) == ["optimization"]  # 'Optimization_methods (1).ipynb'
    assert intake.unmatched == []


def test_checkpoints_and_other_files_are_listed_not_graded(tmp_path, catalog):
    touch(tmp_path / "c" / "ada" / "Initialization.ipynb")
    touch(tmp_path / "c" / "ada" / ".ipynb_checkpoints" / "Initialization-checkpoint.ipynb")
    touch(tmp_path / "c" / "ada" / "data.csv", "1,2")
    intake = collect([tmp_path / "c"], preset="folders", extract_to=tmp_path / "out", catalog=catalog)
    assert [s.path.name for s in intake.students[0].submissions] == ["Initialization.ipynb"]
    assert sorted(u.reason for u in intake.unmatched) == ["a Jupyter checkpoint copy", "not a notebook (.csv)"]


def test_pattern_with_named_groups(tmp_path, catalog):
    touch(tmp_path / "dl" / "ada_S001-opt-v2.ipynb")
    touch(tmp_path / "dl" / "ada_S001-opt-v1.ipynb")
    touch(tmp_path / "dl" / "ben_S002-init-v1.ipynb")
    touch(tmp_path / "dl" / "cy_S003-lab9-v1.ipynb")
    touch(tmp_path / "dl" / "summary.ipynb")
    pattern = r"^(?P<student>[a-z]+)_(?P<id>S\d+)-(?P<assignment>[a-z0-9]+)-v(?P<attempt>\d+)"
    intake = collect([tmp_path / "dl"], pattern=pattern, extract_to=tmp_path / "out",
                     catalog=Catalog(_aliased_solutions(tmp_path)))
    students = by_key(intake)
    assert sorted(students) == ["S001", "S002"]
    assert (students["S001"].student.name, students["S001"].student.lms_id) == ("ada", "S001")
    assert [(s.path.name, s.assignment, s.attempt) for s in students["S001"].submissions] == \
        [("ada_S001-opt-v2.ipynb", "opt", 2)]
    assert [s.path.name for s in students["S001"].superseded] == ["ada_S001-opt-v1.ipynb"]
    reasons = {Path(u.path).name: u.reason for u in intake.unmatched}
    assert reasons["summary.ipynb"] == "does not match --pattern"
    assert "'lab9'" in reasons["cy_S003-lab9-v1.ipynb"]


def _aliased_solutions(tmp_path: Path) -> Path:
    """The tiny assignment under slugs a --pattern might capture ('opt', 'init')."""
    folder = tmp_path / "sol"
    folder.mkdir()
    spec = (ROOT / "tests" / "fixtures" / "tiny" / "Tiny.checks.py").read_text(encoding="utf-8")
    for slug in ("opt", "init"):
        (folder / f"{slug}.checks.py").write_text(
            spec.replace('slug="tiny"', f'slug="{slug}"').replace('notebook="Tiny.ipynb"', f'notebook="{slug}.ipynb"'),
            encoding="utf-8")
    return folder


@pytest.mark.parametrize("pattern, message", [
    ("(?P<student", "not a valid regular expression"),
    (r"(?P<name>\w+)", "named group for the student"),
    (r"(?P<student>\w+)_(?P<week>\d+)", "week"),
])
def test_bad_patterns_are_one_line_errors(tmp_path, pattern, message):
    with pytest.raises(IntakeError, match=message):
        collect([tmp_path], pattern=pattern, extract_to=tmp_path / "out")


# --- overrides ---------------------------------------------------------------------------------

def test_student_and_assignment_options_apply_to_every_file(tmp_path, catalog):
    path = touch(tmp_path / "x" / "whatever.ipynb")
    intake = collect([path], student="alice", assignment="optimization", extract_to=tmp_path / "out",
                     catalog=catalog)
    (work,) = intake.students
    assert work.student.key == "alice"
    assert [s.assignment for s in work.submissions] == ["optimization"]


def test_missing_source_is_an_error(tmp_path):
    with pytest.raises(IntakeError, match="no such file or folder"):
        collect([tmp_path / "nope"], extract_to=tmp_path / "out")


# --- roster ------------------------------------------------------------------------------------

def test_roster_fills_in_people_and_lists_who_handed_in_nothing(tmp_path, catalog):
    members = lms_class.SMALL_CLASS + (lms_class.Member("Zoe Quiet", "199"),)
    roster = lms_class.roster_csv(tmp_path / "roster.csv", members)
    intake = collect(lms_class.canvas_zips(tmp_path / "dl"), roster=roster, extract_to=tmp_path / "out",
                     catalog=catalog)
    jane = by_key(intake)["101"].student
    assert (jane.key, jane.name, jane.sis_id, jane.sis_login, jane.section, jane.email) == \
        ("101", "Jane Doe", "S101", "doejane", "A", "doejane@example.edu")
    assert [s.name for s in intake.not_submitted] == ["Zoe Quiet"]


def test_canvas_gradebook_export_works_as_a_roster(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lab (123)\n'
                    '    Points Possible,,,,,30\n'
                    '"Doe, Jane",101,S101,jdoe,Sec 1,\n', encoding="utf-8")
    (person,) = read_roster(path).everyone
    assert (person.name, person.lms_id, person.sis_id, person.sis_login, person.section) == \
        ("Doe, Jane", "101", "S101", "jdoe", "Sec 1")


def test_moodle_students_match_the_roster_by_name(tmp_path, catalog):
    roster = lms_class.roster_csv(tmp_path / "roster.csv")
    intake = collect(lms_class.moodle_zips(tmp_path / "dl"), roster=roster, extract_to=tmp_path / "out",
                     catalog=catalog)
    li = by_key(intake)["Li Wei"].student
    assert (li.email, li.lms_id, li.section) == ("weili@example.edu", "103", "A")


def test_moodle_participants_export_works_as_a_roster_and_joins_the_download(tmp_path, catalog):
    """Moodle's Participants page, 'Download table data as CSV', as it comes: names in two columns."""
    path = tmp_path / "courseid_7_participants.csv"
    lines = ["First name,Last name,Email address,Roles,Groups,Last access to course"]
    lines += [f"{m.name.split()[0]},{m.name.split()[1]},{m.email},Student,Group {m.section},2 days"
              for m in lms_class.SMALL_CLASS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    intake = collect(lms_class.moodle_zips(tmp_path / "dl"), roster=path, extract_to=tmp_path / "out",
                     catalog=catalog)
    omar = by_key(intake)["Omar Farouk"].student
    assert (omar.name, omar.email, omar.section) == ("Omar Farouk", "faroukomar@example.edu", "Group B")
    assert intake.not_submitted == []


def test_moodle_grades_export_with_surname_works_as_a_roster(tmp_path):
    """Moodle's grade export (older versions say 'Surname'); its grade columns are ignored."""
    path = tmp_path / "grades.csv"
    path.write_text("First name,Surname,ID number,Institution,Department,Email address,"
                    "Assignment: Initialization (Real),Last downloaded from this course\n"
                    "Jane,Doe,S101,,,jdoe@example.edu,-,1700000000\n", encoding="utf-8")
    (person,) = read_roster(path).everyone
    assert (person.key, person.name, person.sis_id, person.email) == ("Jane Doe", "Jane Doe", "S101", "jdoe@example.edu")


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("section,email\nA,a@b\n", "no 'name', 'lms_id' or 'First name' and 'Last name' column"),
    ("name,lms_id\nA,1\nB,1\n", "lms_id 1 on lines 2 and 3"),
])
def test_bad_rosters_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IntakeError, match=message):
        read_roster(path)


def submitted(intake, key: str) -> dict[str, str]:
    return {s.assignment: s.submitted for s in by_key(intake)[key].submissions}


def test_a_submitted_at_column_beats_the_times_the_download_holds(tmp_path, catalog):
    """submitted_at:<slug> for one assignment, submitted_at for the rest; an empty cell keeps the zip's time."""
    path = tmp_path / "roster.csv"
    path.write_text("name,lms_id,Submitted at,submitted_at:optimization\n"
                    "Jane Doe,101,2024-03-01 09:30+01:00,2024-03-05T08:00:00Z\n"
                    "Omar Farouk,102,,\n", encoding="utf-8")
    intake = collect(lms_class.canvas_zips(tmp_path / "dl", strays=()), roster=path, extract_to=tmp_path / "out",
                     catalog=catalog)
    assert submitted(intake, "101") == {"initialization": "2024-03-01T08:30:00+00:00",  # +01:00 read as such
                                        "gradient_checking": "2024-03-01T08:30:00+00:00",
                                        "optimization": "2024-03-05T08:00:00+00:00"}
    assert set(submitted(intake, "102").values()) == {"2024-03-01T12:00:00+00:00"}  # the zip's (lms_class._entry)


def test_a_submitted_at_time_without_a_zone_is_utc(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("name,submitted_at\nJane Doe,2024-03-01T23:59\n", encoding="utf-8")
    roster = read_roster(path)
    assert roster.submitted_at(roster.everyone[0], "lab") == "2024-03-01T23:59:00+00:00"


@pytest.mark.parametrize("text, message", [
    ("name,submitted_at\nJane Doe,2024-03-01T10:00Z\nOmar Farouk,yesterday\n",
     r"line 3: submitted_at is 'yesterday', not an ISO 8601 time such as 2024-03-01T23:59:00Z"),
    ("name,Submitted at:optimization\nJane Doe,1/3/2024 10:00\n",
     r"line 2: Submitted at:optimization is '1/3/2024 10:00', not an ISO 8601 time"),
])
def test_a_malformed_submission_time_names_its_line_and_value(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IntakeError, match=message):
        read_roster(path)


def test_a_submitted_at_column_for_no_assignment_is_an_error(tmp_path, catalog):
    path = tmp_path / "roster.csv"
    path.write_text("name,lms_id,submitted_at:optimisation\nJane Doe,101,\n", encoding="utf-8")  # even empty
    with pytest.raises(IntakeError, match="names 'optimisation', which is no assignment; use submitted_at:<slug> "
                                          "with one of gradient_checking, initialization, optimization"):
        collect(lms_class.canvas_zips(tmp_path / "dl", strays=()), roster=path, extract_to=tmp_path / "out",
                catalog=catalog)


def test_missing_roster_is_an_error(tmp_path):
    with pytest.raises(IntakeError, match="no such file"):
        read_roster(tmp_path / "nope.csv")


# --- zip safety --------------------------------------------------------------------------------

def test_zip_members_cannot_escape_the_extraction_folder(tmp_path, catalog):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.ipynb", "{}")
        zf.writestr("/etc/absolute.ipynb", "{}")
        zf.writestr("C:/windows.ipynb", "{}")
        link = zipfile.ZipInfo("ada/link.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ada/Initialization.ipynb", "{}")
    out = tmp_path / "out"
    intake = collect([archive], extract_to=out, catalog=catalog)
    assert [s.path.name for w in intake.students for s in w.submissions] == ["Initialization.ipynb"]
    reasons = sorted(u.reason for u in intake.unmatched)
    assert reasons == ["a symbolic link in the zip, not unpacked"] + ["unsafe path in the zip "
                                                                      "(absolute or leading outside it)"] * 3
    assert not (tmp_path / "escaped.ipynb").exists()
    assert all(out in p.parents for p in out.rglob("*"))


def test_zip_member_bigger_than_the_limit_is_not_unpacked(tmp_path, catalog, monkeypatch):
    import grader.classrun.intake as intake_module

    monkeypatch.setattr(intake_module, "MAX_MEMBER_BYTES", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ada/Initialization.ipynb", "x" * 5000)  # compresses far below the limit
        zf.writestr("ada/Gradient_Checking.ipynb", "{}")
    intake = collect([archive], extract_to=tmp_path / "out", catalog=catalog)
    assert [s.assignment for s in intake.students[0].submissions] == ["gradient_checking"]
    (problem,) = intake.unmatched
    assert "larger than" in problem.reason or "unpacks to more than" in problem.reason


def test_a_corrupt_zip_is_a_one_line_error(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(IntakeError, match="not a readable zip file"):
        collect([archive], extract_to=tmp_path / "out")


def test_two_zips_with_the_same_name_do_not_overwrite_each_other(tmp_path, catalog):
    for side in ("a", "b"):
        with zipfile.ZipFile(touch(tmp_path / side / "x").parent / "class.zip", "w") as zf:
            zf.writestr(f"{side}student/Initialization.ipynb", "{}")
    intake = collect([tmp_path / "a" / "class.zip", tmp_path / "b" / "class.zip"],
                     extract_to=tmp_path / "out", catalog=catalog)
    assert sorted(by_key(intake)) == ["astudent", "bstudent"]
    assert all(s.path.is_file() for w in intake.students for s in w.submissions)


# --- a flat folder of notebooks ------------------------------------------------------------------

def test_a_flat_folder_is_one_student_per_file(tmp_path, catalog):
    for name in ("ada", "ben", "dana"):  # three students, one assignment, no LMS naming
        touch(tmp_path / "nbs" / f"{name}.ipynb")
    intake = collect([tmp_path / "nbs"], extract_to=tmp_path / "out", catalog=catalog)
    assert intake.presets[str(tmp_path / "nbs")] == "flat"
    assert sorted(by_key(intake)) == ["ada", "ben", "dana"]
    assert all(len(w.submissions) == 1 and not w.superseded for w in intake.students)
    assert intake.notes == []


def test_in_a_flat_folder_only_names_say_what_is_a_later_attempt(tmp_path, catalog):
    folder = tmp_path / "nbs"
    old_ada = touch(folder / "Ada Lovelace.ipynb", "old")
    new_ada = touch(folder / "Ada Lovelace (1).ipynb", "new")
    old_ben = touch(folder / "ben.ipynb", "old")
    new_ben = touch(folder / "ben-2.ipynb", "new")  # an LMS's resubmission suffix
    touch(folder / "benjamin.ipynb")
    intake = collect([folder], preset="flat", extract_to=tmp_path / "out", catalog=catalog)
    students = by_key(intake)
    assert sorted(students) == ["Ada Lovelace", "ben", "benjamin"]
    assert [s.path for s in students["Ada Lovelace"].submissions] == [new_ada]
    assert [(s.path, s.replaced_by) for s in students["Ada Lovelace"].superseded] == \
        [(old_ada, "Ada Lovelace (1).ipynb")]
    assert [s.path for s in students["ben"].submissions] == [new_ben]
    assert [s.path for s in students["ben"].superseded] == [old_ben]
    assert students["benjamin"].superseded == []


def test_a_students_own_folder_of_assignments_stays_one_student(tmp_path, catalog):
    folder = tmp_path / "alice"
    for name in ("Initialization.ipynb", "Gradient_Checking.ipynb", "Optimization_methods.ipynb",
                 "Optimization_methods (1).ipynb"):
        touch(folder / name)
    intake = collect([folder], extract_to=tmp_path / "out", catalog=catalog)
    assert intake.presets[str(folder)] == "folders"
    assert [w.student.key for w in intake.students] == ["alice"]
    assert slugs(intake.students[0]) == ["gradient_checking", "initialization", "optimization"]


def test_a_folder_mostly_set_aside_is_called_out_with_how_to_read_it(tmp_path, catalog):
    folder = tmp_path / "nbs"
    for name in ("ada", "ben", "cho", "dana"):
        touch(folder / f"{name}_Initialization.ipynb")
    intake = collect([folder], preset="folders", extract_to=tmp_path / "out", catalog=catalog)
    assert [w.student.key for w in intake.students] == ["nbs"]  # what the folders preset makes of it
    assert len(intake.students[0].superseded) == 3
    assert len(intake.notes) == 1
    assert "3 of 4 notebooks were set aside" in intake.notes[0] and "--preset flat" in intake.notes[0]
    assert sorted(by_key(collect([folder], extract_to=tmp_path / "out", catalog=catalog))) == \
        ["ada_Initialization", "ben_Initialization", "cho_Initialization", "dana_Initialization"]


def test_a_flat_folder_whose_names_all_look_like_attempts_suggests_a_pattern(tmp_path, catalog):
    folder = tmp_path / "groups"
    for number in range(1, 5):  # four groups, not four attempts of one student 'group'
        touch(folder / f"group-{number}.ipynb")
    intake = collect([folder], extract_to=tmp_path / "out", catalog=catalog)
    assert [w.student.key for w in intake.students] == ["group"]
    assert len(intake.notes) == 1 and "--pattern" in intake.notes[0]
    suggested = intake.notes[0].split("--pattern ")[1].split(" ")[0].strip("'")
    again = collect([folder], pattern=suggested, extract_to=tmp_path / "out", catalog=catalog)
    assert sorted(by_key(again)) == ["group-1", "group-2", "group-3", "group-4"]
