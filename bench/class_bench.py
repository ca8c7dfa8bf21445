"""Class-scale benchmark: this grader against nbgrader and a naive nbclient run, on one class.

In one run:

1. writes a synthetic class of N students, each with all three notebooks (make_class.py);
2. grades it twice with `grader grade` at its default settings, measuring wall time,
   notebooks per minute, CPU seconds per notebook and peak memory of the whole process
   tree (measure.py); the two runs must give every notebook the same score;
3. grades a sample of the students with nbgrader `autograde`, the same checks as
   nbgrader test cells (nbgrader_course.py), from an environment of its own (bench/.venv,
   created on first use with the project's `bench` extra);
4. runs the same sample through nbclient as it is, one fresh kernel per notebook
   (naive_nbclient.py);
5. prints a table with ratios against this grader, where the grader's time goes, and
   issue 15's targets with "met" or "NOT MET" beside each measured figure (report.py).

Figures of a sampled runner are extrapolated to the whole class, and the table says so.

    .venv/bin/python bench/class_bench.py --students 100
    .venv/bin/python bench/class_bench.py --students 300 --grader-only
    .venv/bin/python bench/class_bench.py --students 30 --grader-only --cluster local:2 --workers 2

Every run ends with a third, profiled run (py-spy, from the benchmark's environment) that
says where the CPU goes per stage; --no-profile leaves it out.

Exit status: 0 done; 1 the two grader runs gave some notebook a different score;
2 usage error; 3 this grader could not grade the class at all (or another step the
comparison needs failed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

try:
    import psutil  # noqa: F401  (measure.py samples the process tree with it)
except ImportError:
    print("error: the benchmark needs psutil: .venv/bin/pip install psutil", file=sys.stderr)
    sys.exit(2)

from make_class import ClassWriter, Submission, describe, plan_class, write_manifest  # noqa: E402
from measure import short_runs  # noqa: E402
from report import Findings, print_cluster_comparison, print_report  # noqa: E402
from runners import GraderBroken, grader_command, run_grader, run_naive, run_nbgrader, sample_students  # noqa: E402
from scores import plan_mismatches, score_differences, scores_of  # noqa: E402
from stages import breakdown, ensure_py_spy, format_breakdown, profiled  # noqa: E402

EXIT_OK, EXIT_SCORES_DIFFER, EXIT_USAGE, EXIT_GRADER_BROKEN = 0, 1, 2, 3


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Benchmark this grader against nbgrader and a naive nbclient run "
                                            "on one synthetic class.")
    p.add_argument("--students", type=int, default=100, help="class size (default 100; at least 4)")
    p.add_argument("--seed", type=int, default=0, help="which student hands in what (default 0)")
    p.add_argument("--nbgrader-sample", type=int, default=10, metavar="K",
                   help="students graded by nbgrader (default 10; 0 skips nbgrader)")
    p.add_argument("--naive-sample", type=int, default=10, metavar="K",
                   help="students run through the naive baseline (default 10; 0 skips it)")
    p.add_argument("--grader-only", action="store_true", help="this grader only (both runs), no baselines")
    p.add_argument("--skip-demo-cells", action="store_true",
                   help="leave the cells tagged 'demo' (plots, model training) out of the baselines too")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="also grade the class on a Dask cluster (e.g. local:2) after each run of this grader, "
                        "and compare the cost per student (issue 16)")
    p.add_argument("--workers", type=int,
                   help="--workers for this grader's local runs (default: the grader's own default)")
    p.add_argument("--workdir", help="folder for the class, reports and nbgrader course (default: a temporary "
                                     "folder, removed afterwards)")
    p.add_argument("--bench-venv", default=str(HERE / ".venv"),
                   help="environment holding nbgrader (default: bench/.venv, created on first use)")
    p.add_argument("--save", help="also write every figure as JSON to this file")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="leave out the third, profiled run (by default the class, or its first "
                        "--profile-students students, is graded once more under py-spy, and the report says "
                        "where the CPU goes per stage; the two measured runs are never profiled)")
    p.add_argument("--profile", action="store_true", default=True, help=argparse.SUPPRESS)  # the default
    p.add_argument("--profile-students", type=int, default=100, metavar="K",
                   help="students graded by the profiled run (default 100: the stage shares settle well "
                        "before that, and a larger class would only make the run longer)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.nbgrader_sample < 0 or args.naive_sample < 0:
        p.error("a sample size cannot be negative")
    if args.profile_students < 1:
        p.error("--profile-students must be at least 1 (or use --no-profile)")

    from grader.grading.catalog import Catalog

    try:
        catalog = Catalog(ROOT / "solutions")
        plan = plan_class(args.students, args.seed, catalog)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="class-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, catalog, plan, work)
    except (GraderBroken, RuntimeError) as exc:  # nothing left to compare against
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_GRADER_BROKEN
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def run(args, catalog, plan: list[Submission], work: Path) -> int:
    class_dir = work / "class"
    ClassWriter(catalog).write(plan, class_dir)
    write_manifest(plan, work / "manifest.json")
    print(f"class: {describe(plan)} (seed {args.seed}) in {class_dir}", flush=True)
    for assignment in catalog.assignments:  # reference outputs: computed once per version, cached, not timed
        catalog.expected(assignment)
    load_before = os.getloadavg()[0]

    runs, results, cluster_runs, cluster_results = [], [], [], []
    local = ("--workers", str(args.workers)) if args.workers else ()
    for label in ("run 1", "run 2"):
        print(f"this grader, {label} of 2", flush=True)
        runner, found = run_grader(class_dir, work, label, len(plan), local)
        runs.append(runner)
        results.append(found)
        if args.cluster:  # right after, so that both see the same load on the machine
            print(f"this grader on the cluster {args.cluster}, {label} of 2", flush=True)
            runner, found = run_grader(class_dir, work, f"cluster {label}", len(plan), ("--cluster", args.cluster))
            cluster_runs.append(runner)
            cluster_results.append(found)
    findings = Findings(plan, runs, results,
                        differences=score_differences(scores_of(results[0]), scores_of(results[1])),
                        plan_mismatches=plan_mismatches(plan, scores_of(results[0])))

    if args.profile:
        findings.profile = profile_run(plan, class_dir, work, args, local, runs[-1].measurement.cpu,
                                       findings.students)

    students = sorted({s.student for s in plan})
    if not args.grader_only and args.nbgrader_sample:
        sample = sample_students(students, args.nbgrader_sample)
        print(f"nbgrader autograde on {len(sample)} students", flush=True)
        try:
            findings.baselines.append(run_nbgrader(plan, sample, class_dir, work, catalog, Path(args.bench_venv),
                                                   args.skip_demo_cells))
        except RuntimeError as exc:
            findings.notes.append(f"nbgrader not run: {exc}")
    if not args.grader_only and args.naive_sample:
        sample = sample_students(students, args.naive_sample)
        print(f"naive nbclient on {len(sample)} students", flush=True)
        try:
            findings.baselines.append(run_naive(plan, sample, class_dir, work, catalog, args.skip_demo_cells))
        except RuntimeError as exc:
            findings.notes.append(f"naive nbclient not run: {exc}")

    print("python -c 'import numpy' (5 times), grader check (3 times)", flush=True)
    findings.numpy_start = short_runs([sys.executable, "-c", "import numpy"], runs=5)
    try:
        findings.check = time_grader_check(plan, class_dir, work)
    except RuntimeError as exc:
        findings.notes.append(f"grader check not timed: {exc}")
    findings.context = [
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; commit {git_commit()}",
        f"load average (1 min) before the grader runs {load_before:.1f}, at the end {os.getloadavg()[0]:.1f} "
        "(other work on the machine slows every runner)",
    ]
    rows = print_report(findings, args.skip_demo_cells)
    if args.cluster:
        cluster_differences = [d for found in cluster_results
                               for d in score_differences(scores_of(results[0]), scores_of(found))]
        rows += print_cluster_comparison(runs, cluster_runs, findings.students, cluster_differences)
        findings.differences += cluster_differences
    if args.save:
        saved = {"class": [asdict(s) for s in plan],
                 "runs": [r.figures() for r in (*runs, *cluster_runs, *findings.baselines)],
                 "differences": findings.differences, "plan_mismatches": findings.plan_mismatches,
                 "numpy_start": findings.numpy_start, "check": findings.check, "notes": findings.notes,
                 "context": findings.context, "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in rows]}
        Path(args.save).write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    if args.workdir:
        print(f"\nwork folder kept: {work}")
    return EXIT_SCORES_DIFFER if findings.differences else EXIT_OK


def profile_run(plan: list[Submission], class_dir: Path, work: Path, args, extra: tuple[str, ...], cpu: float,
                students: int) -> str:
    """A third grader run under py-spy: the CPU per stage, as a printable table.

    Not timed against anything: the profiler slows the run it watches. It grades the first
    ``--profile-students`` students (a copy of their folders); the shares are turned into
    seconds per student with the CPU time of the second (unprofiled) run of the whole class.
    """
    chosen = sorted({s.student for s in plan})[:args.profile_students]
    total = sum(1 for s in plan if s.student in set(chosen))
    print(f"this grader under py-spy on {len(chosen)} of {students} students (profile), not timed", flush=True)
    try:
        spy = ensure_py_spy(Path(args.bench_venv), ROOT)
    except RuntimeError as exc:
        return f"   no profile: {exc}"
    target = class_dir
    if len(chosen) < students:
        target = work / "profile-class"
        shutil.rmtree(target, ignore_errors=True)
        for student in chosen:
            shutil.copytree(class_dir / student, target / student)
    raw = work / "profile-raw.txt"
    try:
        run_grader(target, work, "profiled", total, extra, wrap=lambda command: profiled(command, raw, spy))
    except (GraderBroken, RuntimeError) as exc:
        return f"   no profile: {exc}"
    if not raw.exists():
        return "   no profile: py-spy wrote nothing"
    heading = (f"   profiled run: {len(chosen)} of {students} students; seconds per student are its shares "
               "times run 2's CPU per student\n")
    return heading + format_breakdown(breakdown(raw.read_text(encoding="utf-8")), cpu, students)


def time_grader_check(plan: list[Submission], class_dir: Path, work: Path) -> list[tuple[float, float]]:
    """`grader check` (the student's command) on one correct Optimization notebook."""
    chosen = next((s for s in plan if s.kind == "correct" and s.notebook.startswith("Optimization")), plan[0])
    return short_runs([*grader_command(), "check", str(class_dir / chosen.path), "--out", str(work / "check")],
                      runs=3, cwd=ROOT, ok=(0, 1))  # 1: some public check failed, still a full run


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
