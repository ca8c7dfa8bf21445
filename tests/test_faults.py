"""Faults survived, nothing lost: a full disk, a gradebook held by another program, SIGTERM to
the run, the solutions' cache deleted mid-run. Each run finishes or stops with one line, and
a rerun ends with the same gradebook as a run that nothing disturbed.

(A worker killed mid-student is in tests/test_leftovers.py.)
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest
from class_runs import EXPECTED, ClassRun, scores, snapshot, wait_for

from grader.classrun import gradebook
from grader.cli import main

# Small enough that the gradebook or a report outgrows it part-way through the class,
# large enough for the gradebook to be created (measured: about 250 kB for the whole class).
FILE_LIMIT_BYTES = 100_000


@pytest.fixture
def class_run(tiny_warm, tiny_submission, tmp_path):
    solutions = tmp_path / "solutions"  # a copy with its cache, which one test deletes
    shutil.copytree(tiny_warm, solutions)
    run = ClassRun(solutions, tiny_submission, tmp_path)
    yield run
    run.close()


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def committed(out) -> int:
    try:
        with sqlite3.connect(out / "gradebook.sqlite", timeout=5) as db:
            return db.execute("SELECT COUNT(DISTINCT student_key) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.kernel
def test_a_full_disk_stops_the_run_in_one_line_and_a_rerun_completes_the_gradebook(class_run, tmp_path):
    undisturbed = class_run.run(out=tmp_path / "undisturbed")
    assert undisturbed.returncode == 0, undisturbed.stderr

    def small_files():  # what a nearly full disk does to every write past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, resource.RLIM_INFINITY))

    starved = class_run.run(preexec_fn=small_files)
    assert starved.returncode == 1
    line = one_line(starved.stderr)
    assert line.startswith("error: the run stopped: results could not be written") and "run the same command" in line
    assert list(class_run.out.rglob("*.part")) == []  # no half-written file
    assert class_run.left() == []

    rerun = class_run.run()
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(class_run.out) == snapshot(tmp_path / "undisturbed")


def test_a_gradebook_held_by_another_program_is_waited_for_then_named(capsys, tiny_folder, tmp_path,
                                                                     monkeypatch):
    (tmp_path / "class" / "erin").mkdir(parents=True)
    (tmp_path / "class" / "erin" / "Tiny.ipynb").write_bytes(b"")  # unreadable: no kernel needed
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "class"), "--solutions", str(tiny_folder), "--out", str(out), "-q"]
    assert main(argv) == 0
    before = snapshot(out)
    capsys.readouterr()

    def hold(seconds: float) -> subprocess.Popen:  # an SQLite browser in the middle of a write
        code = ("import sqlite3, sys, time\n"
                f"db = sqlite3.connect({str(out / 'gradebook.sqlite')!r}, isolation_level=None)\n"
                "db.execute('BEGIN EXCLUSIVE'); print('held', flush=True)\n"
                f"time.sleep({seconds})\n")
        holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        return holder

    holder = hold(2)  # shorter than the grader waits: the run goes on once it is let go
    assert main([*argv, "--force"]) == 0
    holder.wait()
    assert capsys.readouterr().err == ""
    assert snapshot(out) == before

    monkeypatch.setattr(gradebook, "BUSY_SECONDS", 0.5)
    holder = hold(30)  # longer: one line that says who holds it
    try:
        code = main([*argv, "--force"])
    finally:
        holder.kill()
        holder.wait()
    line = one_line(capsys.readouterr().err)
    assert code != 0 and "held by another program" in line
    assert snapshot(out) == before  # nothing lost
    assert not (out / "gradebook.sqlite.lock").exists()


@pytest.mark.kernel
def test_sigterm_to_the_run_keeps_what_finished_and_a_rerun_completes_it(class_run):
    proc = class_run.start()
    wait_for(lambda: committed(class_run.out) >= 1 and class_run.kernel_folders(), "a committed student", proc)
    os.kill(proc.pid, signal.SIGTERM)  # a scheduler or `kill` stopping the run, not a terminal
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert one_line(err).startswith("interrupted:")
    assert class_run.left() == []
    kept = scores(class_run.out)
    assert kept and all(EXPECTED[name] == score for name, score in kept.items())

    rerun = class_run.run()
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads((class_run.out / "summary.json").read_text(encoding="utf-8"))
    assert summary["unchanged"] >= 1  # resumed, not started over
    assert scores(class_run.out) == EXPECTED


@pytest.mark.kernel
def test_the_solutions_cache_deleted_mid_run_costs_nothing(class_run):
    cache = class_run.solutions / ".grader-cache"
    assert cache.is_dir()
    proc = class_run.start()
    wait_for(class_run.kernel_folders, "a kernel at work", proc)
    shutil.rmtree(cache)  # an instructor cleaning up, or another run's --force
    _, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1), err  # finished; a student whose reference vanished is retried
    assert "Traceback" not in err
    rerun = class_run.run()
    assert rerun.returncode == 0, rerun.stderr
    assert scores(class_run.out) == EXPECTED
    assert class_run.left() == []
