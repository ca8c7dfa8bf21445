"""The library: every command of the CLI as a typed keyword function.

``grader.cli`` only parses arguments and calls these; its defaults are read from their
signatures (``cli.default_of``), so the two cannot drift. Errors a user can fix are raised
as ``grader.core.errors.GraderError`` subclasses with a one-line message; anything else is
a bug and keeps its traceback.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from grader.core.errors import UsageError
from grader.core.results import NotebookResult, ReviewPolicy

__all__ = ["PRESETS", "CheckedNotebook", "ClassGrades", "check_notebook", "export", "feedback", "grade_class",
           "init_course", "list_assignments", "override", "release", "review"]

if TYPE_CHECKING:  # heavy modules load when a function runs, so `import grader` stays cheap
    from grader.checks.spec import Assignment
    from grader.classrun.batch import Summary
    from grader.classrun.intake import PRESETS, Intake
    from grader.classrun.late import LatePolicy
    from grader.classrun.progress import Progress
    from grader.core.config import Config
    from grader.core.records import Student
    from grader.lms.export import Export

EXPORT_FORMATS = ("canvas", "moodle", "csv", "jsonl")


def __getattr__(name: str):
    if name == "PRESETS":  # the submission layouts grade_class reads; intake loads only when asked
        from grader.classrun.intake import PRESETS

        return PRESETS
    raise AttributeError(f"module 'grader.api' has no attribute {name!r}")


@dataclass(frozen=True)
class ClassGrades:
    """What ``grade_class`` did: the run's summary, what intake found, where the gradebook is."""

    summary: Summary
    intake: Intake
    gradebook: Path


@dataclass(frozen=True)
class CheckedNotebook:
    result: NotebookResult
    report: Path

    @property
    def passed(self) -> bool:
        """Graded, and every check that ran passed."""
        from grader.core.results import NotebookStatus

        return self.result.status is NotebookStatus.GRADED and all(c.status.passed for c in self.result.checks)


def grade_class(
    paths: Sequence[str | Path], *, solutions: str | Path = "solutions", out: str | Path = "reports",
    gradebook: str | Path | None = None, preset: str = "auto", pattern: str | None = None,
    roster: str | Path | None = None, student: str | None = None, assignment: str | None = None,
    workers: int | None = None, force: bool = False, attempt: str = "latest", fallback: bool = True,
    limits: dict | None = None,
    contain: bool = True, cluster: str | None = None, review_policy: str = "regions",
    late_policy: LatePolicy | None = None,
    on_result: Callable[[Student, NotebookResult, bool], None] | None = None, progress: Progress | None = None,
) -> ClassGrades:
    """Grade every submission under ``paths`` (folders, notebooks, LMS zips) into ``out``.

    Results, reports, the class overview and the gradebook are written as students finish;
    a rerun grades only what changed (``force`` grades everything again). ``attempt``: of
    several attempts at one assignment, the ``latest`` counts, or the ``best`` (all graded).
    ``review_policy``:
    what a function gets when the student's whole definition scores higher than its regions
    (``regions``, ``best``, or ``strict`` for no second opinion; docs/checks.md).
    ``late_policy`` (from grader.toml) decides the penalties the overview and reports show.
    ``cluster``: grade on a Dask cluster, a scheduler address or ``local:N`` (docs/cluster.md).
    """
    from grader.classrun.batch import Settings, run_class
    from grader.classrun.intake import collect

    if attempt not in ("latest", "best"):
        raise UsageError(f"--attempt is latest or best, not {attempt!r}")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if pattern and preset != "auto":
        raise UsageError(f"--pattern replaces the preset; leave out --preset {preset}")
    if cluster is not None:
        from grader.classrun.cluster import check_cluster_option  # imports Dask, and only when asked

        check_cluster_option(cluster, workers)  # a usage error before anything is read
    with _instructor_catalog(solutions) as catalog:
        if assignment:
            catalog.get(assignment)  # an unknown one is a usage error before anything runs
        out = Path(out)
        intake = collect([Path(p) for p in paths], preset=preset, pattern=pattern,
                         roster=Path(roster) if roster else None, extract_to=out / "_submissions",
                         catalog=catalog, student=student, assignment=assignment)
        book = Path(gradebook) if gradebook else out / "gradebook.sqlite"
        recorded = {"paths": [str(p) for p in paths], "solutions": str(solutions), "out": str(out),
                    "gradebook": str(book), "preset": preset, "pattern": pattern, "roster": str(roster or ""),
                    "student": student, "assignment": assignment, "workers": workers, "force": force, "attempt": attempt,
                    "fallback": fallback, "limits": dict(limits or {}), "contain": contain, "cluster": cluster,
                    "review_policy": review_policy}
        settings = Settings(out=out, gradebook=book, workers=workers, force=force, attempt=attempt, fallback=fallback,
                            review_policy=_review_policy(review_policy).value,
                            limits=dict(limits or {}), contain=contain, cluster=cluster, options=recorded,
                            late_policy=late_policy)
        summary = run_class(intake, catalog, settings, on_result=on_result, progress=progress)
        return ClassGrades(summary=summary, intake=intake, gradebook=book)


def check_notebook(notebook: str | Path, *, assignments: str | Path | None = None, student: str | None = None,
                   out: str | Path = "reports", review_policy: str = "regions") -> CheckedNotebook:
    """A student's self-check: the public checks on one notebook, a report under ``out``.

    ``assignments`` is the released folder; by default the notebook's own, else
    ./assignments, else the copy inside the installed student package.
    """
    notebook = Path(notebook)
    if not notebook.is_file():
        what = "is a folder; grader check takes one notebook" if notebook.is_dir() else "no such file"
        raise UsageError(f"nothing to grade: {notebook}: {what}")
    policy = _review_policy(review_policy)
    report_ready = _Warmup(_compile_report_templates)  # starts with the first kernel request
    with contextlib.ExitStack() as owned:
        # The kernel fork server first: it imports ipykernel and NumPy in its own process while
        # this one imports nbformat, nbclient and the rest (a wait of its own otherwise).
        linux = sys.platform.startswith("linux")
        server = owned.enter_context(_fork_server(on_request=report_ready.start)) if linux else None
        from grader.core.files import safe_file_name
        from grader.core.results import write_result
        from grader.grading.catalog import Catalog
        from grader.grading.grade import grade_notebook
        from grader.kernel.execute import Options
        from grader.reports.render import write_student_report

        options = Options(server=server) if server is not None else None
        with Catalog(released_folder(notebook, assignments)) as catalog:
            result = grade_notebook(notebook, catalog, student=student, review_policy=policy, options=options)
    out = Path(out)
    write_result(result, out / safe_file_name(result.student) / f"{safe_file_name(notebook.stem)}.json")
    report_ready.join()
    report = write_student_report([result.to_dict()], out, student=result.student)
    return CheckedNotebook(result=result, report=report)


def _fork_server(on_request: Callable[[], None]):
    """A fork server that calls ``on_request`` before each request it is sent: from the first
    one on (a kernel to start), this process mostly waits for the server, the kernel and the
    checks."""
    from grader.kernel.serverprocess import start_server_process

    process = start_server_process()  # before the imports of grader.kernel.kernels, which it need not wait for
    try:
        from grader.kernel.kernels import ForkServer
    except BaseException:
        process.kill()
        process.wait()
        raise

    class CheckServer(ForkServer):
        def ask(self, request: dict) -> dict:
            on_request()
            return super().ask(request)

    return CheckServer(process)


class _Warmup:
    """Work that makes a later step cheaper, run once in a thread of its own and joined before
    that step. It changes nothing the step produces: a fault here is left for the step itself
    to meet and report."""

    def __init__(self, work: Callable[[], object]):
        self.work = work
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="grader-warmup", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            self.work()
        except Exception:  # the real step raises the same fault where it is handled
            pass

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _compile_report_templates() -> None:
    """Render a page for a stand-in result (defaults everywhere, one passed and one failed check),
    so that Jinja2 is imported and every template the student's page uses is compiled (about
    0.07 CPU s) while the kernel runs; the page itself is then only rendered."""
    from grader.reports.render import render_student_report

    stand_in = {"status": "graded", "functions": [{"checks": [{"status": "passed"}, {"status": "failed"}]}]}
    render_student_report([stand_in], student="")


def _review_policy(name: str) -> ReviewPolicy:
    try:
        return ReviewPolicy(name)
    except ValueError:
        choices = ", ".join(p.value for p in ReviewPolicy)
        raise UsageError(f"unknown review policy {name!r}: choose one of {choices}") from None


def released_folder(notebook: Path, given: str | Path | None) -> Path:
    """The released folder to check against: the one given, the notebook's own,
    ./assignments, else the copy inside the installed student package."""
    from grader.grading.catalog import RELEASED_CHECKS_DIR
    from grader.grading.studentkit import DISTRIBUTION, bundled_folder

    if given:
        return Path(given)
    for folder in (notebook.parent, Path("assignments")):
        if (folder / RELEASED_CHECKS_DIR).is_dir():
            return folder
    bundled = bundled_folder()
    if bundled is None:
        raise UsageError(f"no released checks next to {notebook} or in ./assignments, and the student "
                         f"package ({DISTRIBUTION}) is not installed: pip install its .whl from the released "
                         "folder, or pass --assignments FOLDER")
    return bundled


def release(solutions: str | Path = "solutions", out: str | Path = "assignments") -> list[Path]:
    """Build the students' folder (notebooks, public checks, the student package) from the instructor's."""
    from grader.grading.release import release as build

    return build(Path(solutions), Path(out))


def export(
    format: str, *, gradebook: str | Path = "reports/gradebook.sqlite", results: str | Path | None = None,
    assignments: Sequence[str] | None = None, missing: str = "blank", canvas_ids: dict[str, str] | None = None,
    points_possible: bool = True, identifier: str = "email", feedback: str = "combined",
    late_policy: LatePolicy | None = None,
) -> Export:
    """Grades for an LMS, read from the gradebook (or from result files under ``results``).

    ``format`` is one of canvas, moodle, csv, jsonl; the returned ``Export`` holds the file's
    text, its row count and warnings about rows an LMS will not be able to use. Scores are
    final: overrides and the late penalty (``late_policy``) applied.
    """
    from grader.lms import export as lms

    if format not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if results is not None:
        records, warnings = lms.records_from_results(Path(results))
        where = results
    else:
        records, warnings = lms.records_from_gradebook(Path(gradebook), late_policy), []
        where = gradebook
    if not records:
        raise UsageError(f"no graded submissions in {where}")
    columns = lms.assignment_columns(records, list(assignments) if assignments else None)
    if format == "canvas":
        ids = dict(canvas_ids or {})
        unknown = sorted(set(ids) - {c.slug for c in columns})
        if unknown:
            raise UsageError(f"--canvas-id names {unknown[0]!r}, which is not among the exported assignments: "
                             f"{', '.join(c.slug for c in columns)}")
        made = lms.canvas_csv(records, columns, canvas_ids=ids, points_possible=points_possible, missing=missing)
    elif format == "moodle":
        made = lms.moodle_csv(records, columns, identifier=identifier, feedback=feedback, missing=missing)
        if not made.rows:
            raise UsageError(lms.missing_identifier(identifier, records))
    elif format == "csv":
        made = lms.plain_csv(records, columns, missing=missing)
    else:
        made = lms.jsonl(records, columns)
    return replace(made, warnings=warnings + made.warnings, assignments=len(columns))


def feedback(
    *, solutions: str | Path = "solutions", gradebook: str | Path = "reports/gradebook.sqlite",
    out: str | Path = "reports/feedback", reveal: str | None = None, late_policy: LatePolicy | None = None,
) -> list[Path]:
    """Feedback pages a student can be handed, one per student, from the gradebook's latest results.

    Hidden checks show as much as each assignment's ``feedback`` setting allows, or as
    ``reveal`` (none, message, full) says for all of them; returns the pages written.
    """
    from grader.lms.export import records_from_gradebook
    from grader.reports.feedback import REVEAL_LEVELS, write_feedback

    if reveal is not None and reveal not in REVEAL_LEVELS:
        raise UsageError(f"unknown --reveal {reveal!r}; choose one of {', '.join(REVEAL_LEVELS)}")
    with _instructor_catalog(solutions) as catalog:
        levels = {a.slug: reveal or a.feedback for a in catalog.assignments}
    records = records_from_gradebook(Path(gradebook), late_policy)
    if not records:
        raise UsageError(f"no graded submissions in {gradebook}")
    return [write_feedback(list(r.results.values()), Path(out), student=r.student.key, reveal_of=levels)
            for r in records if r.results]


def review(*, gradebook: str | Path = "reports/gradebook.sqlite", late_policy: LatePolicy | None = None) -> list[dict]:
    """What needs a person: flagged functions, unreadable files, the grader's failures, outdated overrides."""
    from grader.classrun.gradebook import Gradebook

    with Gradebook(Path(gradebook), create=False) as book:
        return book.review_items(late_policy)


def override(
    student: str, assignment: str, function: str | None = None, *, check: str | None = None,
    points: float | None = None, accept: bool = False, reason: str, who: str,
    gradebook: str | Path = "reports/gradebook.sqlite", out: str | Path = "reports",
    solutions: str | Path | None = "solutions", late_policy: LatePolicy | None = None,
) -> dict:
    """Set a grade by hand for the student's current submission; returns the override with
    ``student`` (the Student), ``result`` (the assignment's result as exports now see it)
    and ``refreshed`` (whether the report and overview were drawn again: they need ``solutions``)."""
    from grader.classrun.batch import refresh_pages
    from grader.classrun.gradebook import Gradebook

    if (points is None) == (not accept):
        raise UsageError("give --points N or --accept (the second opinion's score), not both")
    with Gradebook(Path(gradebook), create=False) as book:
        person = book.find_student(student)
        made = book.add_override(person, assignment, function=function or "", check=check or "", points=points,
                                 accept_other=accept, reason=reason, who=who)
        refreshed = solutions is not None and Path(solutions).is_dir()
        if solutions is not None and refreshed:
            with _instructor_catalog(solutions) as catalog:
                refresh_pages(book, Path(out), catalog, late_policy, person.key)
        result = next(r for r in book.class_records(late_policy) if r.student.key == person.key).results[assignment]
    return {**made, "student": person, "result": result, "refreshed": refreshed}


def list_assignments(solutions: str | Path = "solutions", config: Config | None = None) -> list[Assignment]:
    """The assignments of the instructor's folder, in the catalog's order."""
    return list(_instructor_catalog(solutions, config).assignments)


def init_course(folder: str | Path = ".") -> Path:
    """Write a commented grader.toml into ``folder`` (never over an existing one)."""
    from grader.core.config import write_starter

    return write_starter(Path(folder))


def _instructor_catalog(solutions: str | Path, config: Config | None = None):
    from grader.core.config import FILE_NAME
    from grader.grading.catalog import Catalog

    if not Path(solutions).is_dir():
        where = config.describe() if config else f"no {FILE_NAME} read"
        raise UsageError(f"no solutions folder {solutions}: pass --solutions FOLDER, or run where {FILE_NAME} "
                         f"names it ([course] solutions; {where}; grader init writes one)")
    catalog = Catalog(Path(solutions))
    if catalog.mode != "instructor":
        raise UsageError(f"{solutions} holds no check specifications (*.checks.py); pass --solutions FOLDER "
                         f"or set [course] solutions in {FILE_NAME}")
    return catalog
