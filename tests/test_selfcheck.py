"""`grader.check("name")` as a student calls it from a notebook: released data only."""
import linecache
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from solution_namespace import load_solution_namespace

import grader
from grader.grading.selfcheck import CheckReport

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "assignments"


def _reference(notebook: str) -> dict:
    return load_solution_namespace(ROOT / "solutions" / notebook)


def test_correct_function_passes_its_public_checks():
    namespace = _reference("Optimization_methods.ipynb")
    report = grader.check("update_parameters_with_adam", folder=str(ASSIGNMENTS), namespace=namespace)
    assert report.passed
    assert report.results and all(not r.hidden for r in report.results)
    count = len(report.results)
    assert f"{count} of {count} public checks pass" in repr(report)


def test_known_mistake_fails_with_its_hint_and_html():
    namespace = _reference("Optimization_methods.ipynb")

    def without_one_minus_beta(parameters, grads, v, beta, learning_rate):
        for key in grads:
            v[key] = beta * v[key] + grads[key]
        for key in list(parameters):
            parameters[key] = parameters[key] - learning_rate * v["d" + key]
        return parameters, v

    namespace["update_parameters_with_momentum"] = without_one_minus_beta
    report = grader.check("update_parameters_with_momentum", folder=str(ASSIGNMENTS), namespace=namespace)
    assert not report.passed
    failed = [r for r in report.results if r.status == "failed"]
    assert failed and failed[0].hint, "the (1 - beta) mistake should be recognised"
    html = report._repr_html_()
    assert failed[0].hint.split(".")[0] in html and "failed" in html


def test_undefined_function_is_not_attempted():
    report = grader.check("initialize_parameters_he", folder=str(ASSIGNMENTS), namespace={"np": np})
    assert {r.status for r in report.results} == {"not_attempted"}
    assert "run its cell first" in repr(report)


def _student_cell(source: str, namespace: dict, name: str = "<student cell 7>") -> dict:
    """Define functions as a notebook cell does: compiled under a cell name, source in linecache."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), namespace)
    return namespace


def test_misspelt_name_suggests_the_graded_function():
    report = grader.check("initialise_parameters_he", folder=str(ASSIGNMENTS), namespace={})
    assert not report.passed and not report.results
    assert "did you mean 'initialize_parameters_he'?" in repr(report)
    assert "initialize_parameters_he" in report._repr_html_()


def test_a_name_nothing_resembles_gets_no_suggestion():
    report = grader.check("train_my_model", folder=str(ASSIGNMENTS), namespace={})
    assert not report.passed
    assert "no graded function of this name" in report.problem and "did you mean" not in report.problem


def test_exception_shows_the_last_lines_of_the_students_code():
    namespace = _student_cell(
        "import numpy as np\n"
        "def _scale(n):\n"
        "    return np.sqrt(2 / n[0])\n"
        "def initialize_parameters_he(layers_dims):\n"
        "    scale = _scale(layers_dims[1])\n"
        "    return {'W1': scale}\n",
        {},
    )
    report = grader.check("initialize_parameters_he", folder=str(ASSIGNMENTS), namespace=namespace)
    errors = [r for r in report.results if r.status == "error"]
    assert errors and len(errors) == len(report.results)
    assert errors[0].message.startswith("TypeError")
    shown = repr(report)
    assert "in _scale, line 3: return np.sqrt(2 / n[0])" in shown
    assert "in initialize_parameters_he, line 5: scale = _scale(layers_dims[1])" in shown
    assert "selfcheck" not in shown and "harness" not in shown, "the grader's own frames stay out"
    assert "return np.sqrt(2 / n[0])" in report._repr_html_()


def test_text_lines_up_whatever_the_statuses():
    spec_namespace = _reference("Optimization_methods.ipynb")
    done = grader.check("update_parameters_with_gd", folder=str(ASSIGNMENTS), namespace=spec_namespace)
    todo = grader.check("initialize_adam", folder=str(ASSIGNMENTS), namespace={})
    mixed = CheckReport("mixed", done.results + todo.results)
    rows = repr(mixed).splitlines()[1:]
    statuses = {r.status for r in mixed.results}
    assert statuses == {"passed", "not_attempted"}
    starts = {row.index(r.name + ":") for row, r in zip(rows, mixed.results)}
    assert len(starts) == 1, f"check names start in different columns:\n{mixed!r}"


def test_html_fragment_is_styled_inline_and_reads_without_css():
    namespace = _reference("Optimization_methods.ipynb")
    namespace["update_parameters_with_gd"] = lambda parameters, grads, learning_rate: {
        k: v + learning_rate * grads["d" + k] for k, v in parameters.items()}  # the sign flipped
    report = grader.check("update_parameters_with_gd", folder=str(ASSIGNMENTS), namespace=namespace)
    assert not report.passed
    html = report._repr_html_()
    parsed = _Elements()
    parsed.feed(html)
    assert "style" not in parsed.tags and "link" not in parsed.tags, "no stylesheet: it would restyle the notebook"
    assert parsed.styled_share() > 0.9, "nearly every element carries its own style"
    assert any("background" in s and "#a1261b" in s for s in parsed.styles), "failures are coloured"
    assert any("≠" in t for t in parsed.texts), "differing entries are marked"
    assert "differs:" not in "".join(parsed.texts), "no screen-reader text spilling as plain text"
    assert "rtol" not in html and "atol" not in html
    assert "+ 1e-07 × the expected value" in html


def test_no_released_checks_is_a_clear_problem(tmp_path):
    report = grader.check("initialize_parameters_he", folder=str(tmp_path), namespace={})
    if report.problem.startswith("no public checks found"):
        assert "first cell" in report.problem and not report.passed
    else:  # the student package is installed here: its copy of the checks is used
        assert report.results


def test_interrupted_function_ends_its_check_not_the_report():
    def endless(parameters, grads, learning_rate):
        raise KeyboardInterrupt  # what the notebook's stop button raises in a loop

    namespace = {"update_parameters_with_gd": endless}
    report = grader.check("update_parameters_with_gd", folder=str(ASSIGNMENTS), namespace=namespace)
    assert report.results[0].status == "timeout"
    assert all(r.status == "not_attempted" for r in report.results[1:])
    assert not report.passed


def test_the_function_itself_can_be_passed():
    namespace = _reference("Optimization_methods.ipynb")
    report = grader.check(namespace["update_parameters_with_gd"], folder=str(ASSIGNMENTS), namespace={})
    assert report.function == "update_parameters_with_gd" and report.passed


class _Elements(HTMLParser):
    """Tags, their style attributes and the visible text of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.styles: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.styles.append(dict(attrs).get("style") or "")

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data)

    def styled_share(self) -> float:
        layout = [s for t, s in zip(self.tags, self.styles) if t not in ("tr", "strong")]
        return sum(bool(s) for s in layout) / len(layout)


def test_grader_check_with_no_public_checks_anywhere_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    from grader.cli import main
    from grader.grading.selfcheck import released_folder

    notebook = tmp_path / "Initialization.ipynb"
    shutil.copyfile(ASSIGNMENTS / "Initialization.ipynb", notebook)
    monkeypatch.chdir(tmp_path)  # no ./assignments here, no checks/ beside the notebook
    assert released_folder(tmp_path) is None, "this test needs an environment without the student package"
    assert main(["check", str(notebook)]) == 2
    err = capsys.readouterr().err
    assert "is not installed: pip install its .whl" in err and "--assignments" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists(), "nothing is written for a check that could not run"


def test_checks_come_from_the_folder_first_then_the_installed_package(tmp_path, monkeypatch):
    """Where a notebook has no checks/ beside it, the student package's copy is used."""
    from grader.grading import studentkit

    namespace = _reference("Optimization_methods.ipynb")
    monkeypatch.setattr(studentkit, "bundled_folder", lambda: None)
    assert grader.check("update_parameters_with_gd", folder=str(tmp_path), namespace=namespace).problem
    monkeypatch.setattr(studentkit, "bundled_folder", lambda: ASSIGNMENTS)  # as an installed wheel holds it
    report = grader.check("update_parameters_with_gd", folder=str(tmp_path), namespace=namespace)
    assert report.passed and not report.problem
    empty = tmp_path / "other"
    (empty / "checks").mkdir(parents=True)  # a folder of its own wins, even an empty one: it says so
    problem = grader.check("update_parameters_with_gd", folder=str(empty), namespace=namespace).problem
    assert problem.startswith(f"the public checks in {empty} cannot be read")
