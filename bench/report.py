"""What the benchmark prints: the runners' table, where the grader's time goes, scores, targets."""
from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from make_class import Submission, describe
from runners import RunnerResult
from scores import agreement, scores_of

MIB = 2**20

# Issue 15's targets, each a ratio measured in this run.
TARGET_VS_NBGRADER = 50.0  # throughput against nbgrader autograde on the same checks
TARGET_VS_NAIVE = 15.0  # and against plain nbclient
TARGET_CPU_FACTOR = 1.5  # CPU per student against (the students' code + one fork)
FORK_SECONDS = 0.02  # one fork of a warm process (PERF-NOTES.md), the floor's second part
TARGET_CHECK_FACTOR = 3.0  # grader check's wall time against one `python -c 'import numpy'`
TARGET_PEAK_BYTES = 1.5e9  # the whole process tree, whatever the class size
# Issue 16's target: grading on a cluster costs at most this much more per student than the pool.
TARGET_CLUSTER_EXTRA = 0.10


@dataclass
class Findings:
    """Everything one benchmark run measured."""

    plan: list[Submission]
    grader_runs: list[RunnerResult]  # the two runs of this grader
    grader_results: list[list[dict]]  # their result dicts
    baselines: list[RunnerResult] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # between the two grader runs
    plan_mismatches: list[str] = field(default_factory=list)
    numpy_start: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU) per run
    check: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)  # machine, commit, load
    profile: str = ""  # --profile: the CPU per stage of a third, profiled grader run

    @property
    def students(self) -> int:
        return len({s.student for s in self.plan})

    @property
    def grader_rate(self) -> float:
        return statistics.fmean(r.per_minute for r in self.grader_runs)

    @property
    def grader_cpu_per_notebook(self) -> float:
        return statistics.fmean(r.cpu_per_notebook for r in self.grader_runs)

    def baseline(self, prefix: str) -> RunnerResult | None:
        return next((b for b in self.baselines if b.name.startswith(prefix)), None)


def student_code_seconds(result: dict, status: str | None = None) -> float:
    """Time inside the student's functions, as the kernel timed each check call; with ``status``,
    only that of the checks that ended so ("timeout": a loop that never ends burns its whole
    limit in the student's code)."""
    return sum(c.get("seconds") or 0.0 for f in result.get("functions", []) for c in f.get("checks", [])
               if status is None or c.get("status") == status)


def timing_fields(results: list[dict]) -> dict[str, float]:
    """Median of each numeric `timing` field over the graded notebooks, whatever fields there are."""
    graded = [r.get("timing") or {} for r in results if r.get("status") == "graded"]
    names = sorted({k for t in graded for k, v in t.items() if isinstance(v, (int, float))})
    return {k: statistics.median(t[k] for t in graded if isinstance(t.get(k), (int, float))) for k in names}


def overhead_per_student(run: RunnerResult, results: list[dict], students: int) -> float:
    """CPU seconds per student that were not spent in the student's code (whole process tree)."""
    return (run.measurement.cpu - sum(student_code_seconds(r) for r in results)) / students


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def format_table(rows: list[RunnerResult], grader_rate: float, grader_cpu: float, grader_peak: int) -> str:
    header = ("runner", "notebooks", "wall s (class)", "nb/min", "CPU s/nb", "peak RSS MiB",
              "grader faster by", "CPU vs grader", "RSS vs grader")
    lines = [header]
    for r in rows:
        lines.append((r.name, f"{r.notebooks} of {r.class_notebooks}" if r.sampled else str(r.notebooks),
                      f"{r.class_seconds:.1f}" + (" (extrap.)" if r.sampled else ""),
                      f"{r.per_minute:.1f}", f"{r.cpu_per_notebook:.3f}", f"{r.measurement.peak_rss / MIB:.0f}",
                      f"{grader_rate / r.per_minute:.1f}x", f"{r.cpu_per_notebook / grader_cpu:.1f}x",
                      f"{r.measurement.peak_rss / max(1, grader_peak):.1f}x"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)


def targets(f: Findings) -> list[tuple[str, str, bool | None]]:
    """(target, measured figure, met?) for each of issue 15's targets; None when not measured."""
    rows: list[tuple[str, str, bool | None]] = []
    cpu = statistics.fmean(r.measurement.cpu for r in f.grader_runs) / f.students
    code = statistics.fmean(sum(map(student_code_seconds, res)) for res in f.grader_results) / f.students
    looped = statistics.fmean(sum(student_code_seconds(r, "timeout") for r in res) for res in f.grader_results) / f.students
    # Judged without the time-outs: a function that loops until its limit adds the same seconds to
    # both sides, and in a small class it would make any overhead look small.
    floor = code - looped + FORK_SECONDS
    figure = f"{cpu - looped:.3f} CPU s vs {code - looped:.3f} + {FORK_SECONDS:g} s: {(cpu - looped) / floor:.1f}x"
    if looped:
        figure += (f" (time-outs left out on both sides: {looped:.3f} s per student; with them "
                   f"{cpu / (code + FORK_SECONDS):.1f}x)")
    rows.append((f"CPU per student <= {TARGET_CPU_FACTOR:g}x (students' code + one fork)",
                 figure, cpu - looped <= TARGET_CPU_FACTOR * floor))

    for prefix, label, factor in (("nbgrader", "nbgrader", TARGET_VS_NBGRADER),
                                  ("naive", "naive nbclient", TARGET_VS_NAIVE)):
        b = f.baseline(prefix)
        name = f">= {factor:g}x the throughput of {label}"
        if b is None:
            rows.append((name, "not run", None))
            continue
        ratio = f.grader_rate / b.per_minute
        how = f" ({label} extrapolated from {b.notebooks} notebooks)" if b.sampled else ""
        rows.append((name, f"{ratio:.1f}x{how}, {b.cpu_per_notebook / f.grader_cpu_per_notebook:.1f}x in CPU",
                     ratio >= factor))

    name = f"grader check <= {TARGET_CHECK_FACTOR:g}x python -c 'import numpy' (wall)"
    if f.check and f.numpy_start:
        check, numpy_wall = statistics.median(w for w, _ in f.check), statistics.median(w for w, _ in f.numpy_start)
        rows.append((name, f"{check:.2f} s vs {numpy_wall:.2f} s: {check / numpy_wall:.1f}x (medians of "
                     f"{len(f.check)} and {len(f.numpy_start)})", check <= TARGET_CHECK_FACTOR * numpy_wall))
    else:
        rows.append((name, "not timed", None))

    peak = max(r.measurement.peak_rss for r in f.grader_runs)
    rows.append((f"peak memory < {TARGET_PEAK_BYTES / 1e9:g} GB (compare runs of other sizes for the bound)",
                 f"{peak / 1e6:.0f} MB with {f.students} students (RSS summed over the process tree)",
                 peak < TARGET_PEAK_BYTES))
    return rows


def print_report(f: Findings, skip_demo: bool) -> list[tuple]:
    total = len(f.plan)
    first = f.grader_runs[0]
    print()
    print(f"== class benchmark: {describe(f.plan)}")
    for line in f.context:
        print(f"   {line}")
    print(f"   this grader: {first.note}; it skips the cells tagged 'demo' by design")
    if f.baselines:
        print("   baselines run " + ("the notebooks without their 'demo' cells" if skip_demo else
                                      "every cell, the 'demo' cells (plots, model training) included"))
    print()
    grader_cpu = statistics.fmean(r.cpu_per_notebook for r in f.grader_runs)
    grader_peak = max(r.measurement.peak_rss for r in f.grader_runs)
    print(format_table([*f.grader_runs, *f.baselines], f.grader_rate, grader_cpu, grader_peak))
    print("   ratios are against the mean of the two grader runs")
    for b in f.baselines:
        if b.sampled:
            print(f"   {b.name}: class figures extrapolated ({b.seconds_per_notebook:.2f} s per notebook x {total}) "
                  f"from a sample of {describe([s for s in f.plan if s.student in b.sample])}")
    for note in f.notes:
        print(f"   {note}")

    print()
    print("== where this grader's time goes (run 2)")
    results = f.grader_results[-1]
    fields = timing_fields(results)
    if fields:
        print("   timing fields of the results, median per graded notebook: "
              + ", ".join(f"{k} {v:.3f} s" for k, v in fields.items()))
    graded = [r for r in results if r.get("status") == "graded"]
    if graded:
        print(f"   in the student's code (sum of the check calls' seconds): median "
              f"{statistics.median(student_code_seconds(r) for r in graded):.4f} s per graded notebook")
    run = f.grader_runs[-1]
    code = sum(student_code_seconds(r) for r in results)
    print(f"   whole run: {run.measurement.cpu:.1f} CPU s for {f.students} students, {code:.1f} s of it in "
          f"students' code: {overhead_per_student(run, results, f.students):.3f} CPU s of overhead per student "
          "(kernel start and stop, build, transfer, the CLI itself)")
    walls = [w for w, _ in f.numpy_start]
    cpus = [c for _, c in f.numpy_start]
    print(f"   python -c 'import numpy': {statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} CPU s "
          f"(medians of {len(walls)})")
    if f.check:
        print(f"   grader check on one notebook: {statistics.median(w for w, _ in f.check):.2f} s wall, "
              f"{statistics.median(c for _, c in f.check):.2f} CPU s (medians of {len(f.check)}; first run "
              f"{f.check[0][0]:.2f} s)")

    if f.profile:
        print()
        print("== CPU per stage (py-spy, a third grader run; share of the samples that were not waiting)")
        print(f.profile)

    print()
    print("== scores")
    print("   the two grader runs: " + ("identical" if not f.differences else
                                        f"{len(f.differences)} notebooks DIFFER"))
    for line in f.differences[:20]:
        print(f"     {line}")
    print(f"   as the class plan expects: {total - len(f.plan_mismatches)} of {total}")
    for line in f.plan_mismatches[:20]:
        print(f"     {line}")
    for b in f.baselines:
        if b.scores:
            same, checked, lines = agreement(f.plan, b.sample, b.scores, scores_of(f.grader_results[0]), b.name)
            print(f"   {b.name} gives this grader's score to {same} of {checked} sampled notebooks")
            for line in lines[:10]:
                print(f"     {line}")

    rows = targets(f)
    print()
    print("== targets (issue 15)")
    width = max(len(r[0]) for r in rows)
    for name, measured, ok in rows:
        print(f"   {name.ljust(width)}  {verdict(ok):8}  {measured}")
    return rows


def print_cluster_comparison(pool_runs: list[RunnerResult], cluster_runs: list[RunnerResult], students: int,
                             differences: list[str]) -> list[tuple]:
    """The cluster's runs against the pool's, run by run (each cluster run came right after a pool run)."""
    print()
    print(f"== the same class on a Dask cluster ({cluster_runs[0].note}) against the local pool ({pool_runs[0].note})")
    for pool, cluster in zip(pool_runs, cluster_runs):
        extra = (cluster.measurement.wall - pool.measurement.wall) / students
        print(f"   {pool.name}: {pool.measurement.wall:.1f} s, {cluster.name}: {cluster.measurement.wall:.1f} s; "
              f"extra per student {extra:+.2f} s ({cluster.measurement.wall / pool.measurement.wall - 1:+.0%}); "
              f"peak memory {pool.measurement.peak_rss / MIB:.0f} / {cluster.measurement.peak_rss / MIB:.0f} MiB")
        print(f"      CPU per student (whole process tree): pool {pool.measurement.cpu / students:.2f} s, "
              f"cluster {cluster.measurement.cpu / students:.2f} s "
              f"({cluster.measurement.cpu / pool.measurement.cpu - 1:+.0%})")
    pool_wall = statistics.fmean(r.measurement.wall for r in pool_runs)
    cluster_wall = statistics.fmean(r.measurement.wall for r in cluster_runs)
    ratio = cluster_wall / pool_wall - 1
    measured = f"{ratio:+.0%} ({(cluster_wall - pool_wall) / students:+.2f} s per student, mean of {len(pool_runs)})"
    met = ratio <= TARGET_CLUSTER_EXTRA
    print(f"   load average now (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"   cluster's extra cost per student, target within {TARGET_CLUSTER_EXTRA:.0%} of the pool: "
          f"{measured}  {'met' if met else 'NOT MET'}")
    print("   scores: " + ("every notebook the same as the pool's" if not differences
                            else f"{len(differences)} differ from the pool's: " + "; ".join(differences[:5])))
    return [(f"cluster within {TARGET_CLUSTER_EXTRA:.0%} of the pool per student", measured, met)]
