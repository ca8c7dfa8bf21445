"""The class benchmark's own parts (bench/): the synthetic class it promises, the check
that two runs scored alike, the nbgrader course it builds, and the process-tree
measurement. No kernel starts here and nothing is timed."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from make_class import NOTEBOOKS, ClassWriter, mix_counts, plan_class  # noqa: E402
from measure import run_measured  # noqa: E402
from nbgrader_course import source_notebook, submission_text  # noqa: E402
from report import Findings, targets  # noqa: E402
from runners import grade_options  # noqa: E402
from scores import score_differences  # noqa: E402
from stages import breakdown  # noqa: E402

from grader.grading.catalog import Catalog  # noqa: E402


@pytest.fixture(scope="module")
def catalog():
    return Catalog(ROOT / "solutions")


@pytest.fixture(scope="module")
def plan(catalog):
    return plan_class(100, seed=0, catalog=catalog)


def test_a_class_of_100_holds_the_promised_mix(plan):
    kinds = Counter(s.kind for s in plan)
    assert kinds == {"correct": 218, "mistake": 60, "unattempted": 9, "syntax_error": 6,
                     "invalid_json": 6, "timeout": 1}
    assert kinds == mix_counts(100)
    by_student = Counter(s.student for s in plan)
    assert len(by_student) == 100 and set(by_student.values()) == {3}
    assert all(sorted(s.notebook for s in plan if s.student == name) == sorted(NOTEBOOKS) for name in by_student)


def test_every_kind_appears_even_in_the_smallest_class(catalog):
    kinds = Counter(s.kind for s in plan_class(4, seed=1, catalog=catalog))
    assert set(kinds) == {"correct", "mistake", "unattempted", "syntax_error", "invalid_json", "timeout"}
    assert kinds["correct"] >= 6  # still mostly correct


def test_too_small_a_class_is_refused(catalog):
    with pytest.raises(ValueError, match="at least 4 students"):
        plan_class(3, seed=0, catalog=catalog)


def test_the_same_seed_gives_the_same_files(catalog, tmp_path):
    first, second = plan_class(6, seed=7, catalog=catalog), plan_class(6, seed=7, catalog=catalog)
    assert first == second
    assert plan_class(6, seed=8, catalog=catalog) != first
    writer = ClassWriter(catalog)
    a = writer.write(first, tmp_path / "a")
    b = ClassWriter(catalog).write(second, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_expected_scores_follow_the_kind(plan, catalog):
    for s in plan:
        assignment = catalog.get(s.notebook)
        assert s.max_score == assignment.points
        if s.kind == "correct":
            assert s.expected_score == s.max_score
        elif s.kind in ("unattempted", "invalid_json"):
            assert s.expected_score == 0
        elif s.kind == "timeout":
            lost = sum(c.points for c in assignment.checks_for("initialize_velocity"))
            assert s.expected_score == s.max_score - lost
        else:
            assert 0 <= s.expected_score < s.max_score


@pytest.mark.filterwarnings("ignore:Non-unique cell id")  # the reshuffled scenario duplicates a cell on purpose
def test_written_files_are_what_their_kind_says(catalog, tmp_path):
    plan = plan_class(12, seed=3, catalog=catalog)
    writer = ClassWriter(catalog)
    texts = {s: writer.text(s) for s in plan}
    for s, text in texts.items():
        if s.kind == "invalid_json":
            with pytest.raises(ValueError):
                json.loads(text)
            continue
        nb = nbformat.reads(text, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        if s.kind == "timeout":
            assert "while l < L:" in code
        if s.kind == "syntax_error":
            assert any(_does_not_compile(c.source) for c in nb.cells if c.cell_type == "code")
        if s.kind != "unattempted":
            assert f"# {s.student}'s work" in code.replace("\r\n", "\n")
    attempted = [t for s, t in texts.items() if s.kind not in ("unattempted", "invalid_json")]
    assert len(set(attempted)) == len(attempted), "no two students hand in the same file"


def _does_not_compile(source: str) -> bool:
    if source.lstrip().startswith("%"):
        return False
    try:
        compile(source.replace("\r\n", "\n"), "<cell>", "exec")
    except SyntaxError:
        return True
    return False


def test_identical_runs_have_no_differences():
    run = {("ada", "Initialization.ipynb"): ("graded", 30.0), ("ada", "Gradient_Checking.ipynb"): ("graded", 12.0)}
    assert score_differences(run, dict(run)) == []


def test_a_changed_score_is_a_difference():
    first = {("ada", "Initialization.ipynb"): ("graded", 30.0), ("ben", "Initialization.ipynb"): ("graded", 26.0)}
    second = {**first, ("ben", "Initialization.ipynb"): ("graded", 23.0)}
    lines = score_differences(first, second)
    assert len(lines) == 1 and lines[0].startswith("ben/Initialization.ipynb")


def test_a_missing_result_or_a_changed_status_is_a_difference():
    first = {("ada", "Initialization.ipynb"): ("graded", 0.0), ("ben", "Initialization.ipynb"): ("graded", 30.0)}
    second = {("ada", "Initialization.ipynb"): ("unreadable", 0.0)}
    lines = score_differences(first, second)
    assert len(lines) == 2
    assert any("ben/Initialization.ipynb" in line and "no result" in line for line in lines)


def test_the_benchmark_exits_non_zero_when_scores_differ(monkeypatch, tmp_path):
    import class_bench
    from measure import Measurement
    from runners import RunnerResult

    scores = iter([20.0, 21.0])

    def fake_run_grader(class_dir, work, label, total, extra=()):
        score = next(scores)
        results = [{"student": s.student, "source": {"path": f"{class_dir}/{s.path}"}, "status": "graded",
                    "score": score, "functions": [], "timing": {}} for s in plan_class(4, seed=0)]
        return RunnerResult(f"this grader, {label}", total, total, Measurement(1.0, 1.0, 1, 0)), results

    monkeypatch.setattr(class_bench, "run_grader", fake_run_grader)
    monkeypatch.setattr(Catalog, "expected", lambda self, assignment: {})  # no reference run
    monkeypatch.setattr(class_bench, "short_runs", lambda *a, **k: [(0.1, 0.1)])
    code = class_bench.main(["--students", "4", "--grader-only", "--no-profile", "--workdir", str(tmp_path)])
    assert code == class_bench.EXIT_SCORES_DIFFER


def test_nbgrader_source_notebook_has_one_test_cell_per_check(catalog):
    for assignment in catalog.assignments:
        solution = nbformat.read(str(assignment.folder / assignment.notebook), as_version=4)
        nb = source_notebook(assignment, solution)
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert [c.metadata.nbgrader.grade_id for c in tests] == [f"test_{c.name}" for c in assignment.checks]
        assert sum(c.metadata.nbgrader.points for c in tests) == assignment.points
        hidden = {c.name for c in assignment.checks if c.hidden}
        for cell, check in zip(tests, assignment.checks):
            assert ("### BEGIN HIDDEN TESTS" in cell.source) == (check.name in hidden)
        solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert {c.metadata.nbgrader.grade_id for c in solutions} == set(assignment.functions)
        assert all("### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source for c in solutions)


def test_a_submission_gets_its_solution_cells_marked_and_the_tests_appended(catalog):
    assignment = catalog.get("Initialization.ipynb")
    solution = nbformat.read(str(assignment.folder / assignment.notebook), as_version=4)
    released = source_notebook(assignment, solution)  # stands in for nbgrader's release
    student = nbformat.writes(solution)
    nb = nbformat.reads(submission_text(student, assignment, released), as_version=4)
    marked = [c.metadata.nbgrader.grade_id for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert sorted(marked) == sorted(assignment.functions)
    assert len([c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]) == len(assignment.checks)
    assert submission_text('{"cells": [', assignment, released) == '{"cells": ['


def test_grade_options_follow_the_help_text():
    help_text = """  --workers WORKERS     students graded at once (default: the number of CPU
                        cores)
  --force               grade again
  --json                print the results as a JSON array"""
    options, note = grade_options(help_text)
    assert options == ["--force"]
    assert "the number of CPU cores" in note
    assert grade_options("  --out OUT  where") == ([], "default settings")


def test_peak_memory_counts_the_whole_process_tree(tmp_path):
    child = "x = bytearray(150 * 2**20); import time; time.sleep(1.0)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    m = run_measured([sys.executable, "-c", parent], stdout=tmp_path / "out")
    assert m.returncode == 0
    assert m.peak_rss >= 150 * 2**20


def test_profile_stacks_go_to_their_process_and_stage():
    # py-spy's raw lines: the command lines of a process and its ancestors, then frames
    # (outermost first), then the sample count. A worker's command line holds a ";".
    parent = 'process 10:"python grader grade class --out r"'
    worker = 'process 11:"python -c from multiprocessing.spawn import spawn_main; spawn_main(pipe_handle=5)"'
    kernel = 'process 12:"python -m grader.kernel.kernels serve"'
    raw = "\n".join([
        f"{parent};main (grader/cli.py:9);write_result (grader/core/results.py:3) 4",
        f"{parent};{worker};worker_main (grader/classrun/pool.py:1);build (grader/notebook/build.py:7) 5",
        f"{parent};{worker};worker_main (grader/classrun/pool.py:1);_find_and_load (<frozen importlib._bootstrap>:1) 2",
        f"{parent};{kernel};{kernel};_check (<grader-harness>:4);forward (<cell 3>:2);dot (numpy/core.py:1) 7",
        f"{parent};{kernel};{kernel};run (threading.py:9);select (selectors.py:468) 50",  # waiting: not counted
    ])
    assert breakdown(raw) == {("parent", "writing results"): 4, ("worker", "build"): 5, ("worker", "imports"): 2,
                              ("kernel", "students' code"): 7}


def test_a_time_out_does_not_hide_the_overhead():
    # 10 students: 3.0 CPU s in all, 0.3 s of it ordinary students' code (30 checks of 0.01 s) and
    # 1.0 s one looping check; without the loop the overhead is 1.7 s against 0.3 s of code.
    looping = {"functions": [{"checks": [{"seconds": 1.0, "status": "timeout"}]}]}
    f = _findings(grader_cpu=3.0, code_per_check=0.01, check_wall=0.5, extra=[looping])
    name, figure, ok = targets(f)[0]
    assert ok is False  # 0.2 CPU s per student vs 0.03 + 0.02 s: 4x
    assert "4.0x" in figure and "time-outs left out" in figure
    assert "with them 2.0x" in figure  # what it would read with the loop counted as students' code


def _findings(grader_cpu: float, code_per_check: float, check_wall: float, extra: list | None = None) -> Findings:
    """Two identical grader runs over 10 students (30 notebooks, one 1-check function each),
    one nbgrader sample, and the timings of grader check and a NumPy start."""
    from types import SimpleNamespace

    run = SimpleNamespace(measurement=SimpleNamespace(cpu=grader_cpu, wall=10.0, peak_rss=500e6),
                          per_minute=180.0, cpu_per_notebook=grader_cpu / 30)
    nbgrader = SimpleNamespace(name="nbgrader autograde", per_minute=3.0, cpu_per_notebook=2.0, notebooks=9, sampled=True)
    results = [{"functions": [{"checks": [{"seconds": code_per_check}]}]}] * 30 + (extra or [])
    plan = [SimpleNamespace(student=f"student{i:03d}") for i in range(10)]
    return Findings(plan=plan, grader_runs=[run, run], grader_results=[results, results], baselines=[nbgrader],
                    numpy_start=[(0.2, 0.1)] * 5, check=[(check_wall, 0.5)] * 3)


def test_targets_are_issue_15s_ratios_from_the_same_run():
    met = {name.split(" (")[0]: ok for name, _, ok in targets(_findings(grader_cpu=2.0, code_per_check=0.1, check_wall=0.5))}
    # CPU 0.2 s per student against 0.3 s of students' code + 0.02 s of fork; 60x nbgrader; check 2.5x numpy
    assert met["CPU per student <= 1.5x"] is True
    assert met[">= 50x the throughput of nbgrader"] is True
    assert met[">= 15x the throughput of naive nbclient"] is None  # not run
    assert met["grader check <= 3x python -c 'import numpy'"] is True
    slow = {name.split(" (")[0]: ok for name, _, ok in targets(_findings(grader_cpu=20.0, code_per_check=0.01, check_wall=2.0))}
    assert slow["CPU per student <= 1.5x"] is False
    assert slow["grader check <= 3x python -c 'import numpy'"] is False
