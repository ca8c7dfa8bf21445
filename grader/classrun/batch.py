"""A class run: students graded by a pool of worker processes (or a Dask cluster, see cluster.py), streamed into the gradebook.

The unit of work is one student (``grading.grade_student``). The parent process plans
(which submissions changed since the gradebook last saw them), hands students to idle
workers, and for each student that comes back writes the JSON results and the HTML
report, then commits the student to the gradebook: files first, so a committed student
always has its reports.

Stopping: Ctrl-C (or SIGTERM) stops the workers and their kernels, keeps every student
already committed and marks the run ``interrupted``. A worker whose parent disappears
(``kill -9``) stops its kernels and exits by itself. A worker that dies while grading
costs only its student, whose notebooks end as ``crashed`` results (graded again on the
next run).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classrun.gradebook import Gradebook, Item
from grader.classrun.intake import Intake, StudentWork
from grader.classrun.late import LatePolicy
from grader.classrun.pool import Pool, crashed_result
from grader.classrun.progress import Progress
from grader.classrun.scratch import run_scratch
from grader.core.errors import EXIT_SOME_FAILED, GraderError, UsageError
from grader.core.records import Student
from grader.core.results import CheckStatus, NotebookResult, NotebookStatus
from grader.notebook.reader import Snapshot, snapshot

# Planning reads each submission once; the bytes of those to grade are kept, up to this much in
# all, and sent to the worker, which grades them without opening the file again. Beyond it a
# worker reads the file itself, and its result claims the hash of what it read.
KEPT_BYTES = 256 * 2**20

if TYPE_CHECKING:
    from grader.reports.annotated import AnnotatedRenderer


class BatchError(UsageError):
    """A run that cannot start (one line, for the user)."""


@dataclass
class Summary:
    """What a run did, for the terminal, ``summary.json`` and the gradebook's ``runs`` table."""

    run_id: int = 0
    status: str = "running"
    students: int = 0
    notebooks: int = 0
    graded: int = 0          # graded in this run
    unchanged: int = 0       # still valid from an earlier run, not graded again
    failed_to_read: int = 0  # unreadable or not recognised (this run's view of every notebook)
    crashed: int = 0         # the grader's worker failed: graded again on the next run
    kernel_errors: int = 0   # the link to the kernel failed: graded again on the next run
    timed_out: int = 0       # graded, but some check hit the time limit
    unmatched: int = 0
    unmatched_notebooks: int = 0
    superseded: int = 0
    not_submitted: int = 0   # on the roster, nothing handed in
    set_aside: list = field(default_factory=list)  # each superseded file: path, student, reason
    notes: list = field(default_factory=list)      # the intake's warnings (a folder mostly set aside)
    workers: int = 0
    seconds: float = 0.0
    average: float | None = None  # over the class's latest totals
    max_total: float = 0.0
    averages: dict = field(default_factory=dict)  # assignment title -> [average, max]
    review_policy: str = "regions"
    # every function of the class's latest results whose second opinion scores higher
    needs_review: list = field(default_factory=list)
    overview: str = ""

    @property
    def failed(self) -> int:
        return self.failed_to_read + self.crashed + self.kernel_errors

    @property
    def without_result(self) -> int:
        """Notebooks the grader itself failed on: no grade yet (an unreadable file has one: 0 with a reason)."""
        return self.crashed + self.kernel_errors

    def to_dict(self) -> dict:
        return {**asdict(self), "failed": self.failed}


@dataclass
class Settings:
    out: Path
    gradebook: Path
    workers: int | None = None
    force: bool = False
    fallback: bool = True
    review_policy: str = "regions"  # a ReviewPolicy value: what a higher second opinion gets
    attempt: str = "latest"  # of several attempts, which counts: "latest", or "best" (every one graded)
    options: dict = field(default_factory=dict)  # what the run was asked to do, as recorded
    limits: dict = field(default_factory=dict)  # kernel limits over the assignments' own
    contain: bool = True  # namespaces and a user of its own for each kernel, where possible
    cluster: str | None = None  # a Dask scheduler address or local:N instead of the local pool
    late_policy: LatePolicy | None = None  # due dates and penalties (grader.toml), applied on reading


# --- the run ---------------------------------------------------------------------------------

def default_workers() -> int:
    """One more worker than cores: a worker waits while its student's kernel runs, so with
    one per core the cores idle half the time (100 students on 2 cores: 44 s with 2, 33 s with 3)."""
    return (os.cpu_count() or 1) + 1


def run_class(intake: Intake, catalog, settings: Settings, *,
              on_result: Callable[[Student, NotebookResult, bool], None] | None = None,
              progress: Progress | None = None) -> Summary:
    """Grade every student of ``intake`` not already graded; see the module docstring.

    ``on_result(student, result, fresh)`` is called for every current result (fresh: graded
    now); ``progress`` shows how far the run is. Raises ``reference.ReferenceError`` when an
    assignment's own solution fails its checks.
    """
    if not intake.students:
        raise BatchError("nothing to grade: the intake holds no student's notebook")
    started = time.perf_counter()
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(students=len(intake.students), notebooks=intake.notebooks,
                      unmatched=len(intake.unmatched), not_submitted=len(intake.not_submitted),
                      superseded=sum(len(w.superseded) for w in intake.students),
                      unmatched_notebooks=sum(u.path.lower().endswith(".ipynb") for u in intake.unmatched),
                      set_aside=[_set_aside(work, sub) for work in intake.students for sub in work.superseded],
                      notes=list(intake.notes), review_policy=settings.review_policy)
    try:
        _run(intake, catalog, settings, summary, out, started, on_result, progress)
    except (OSError, sqlite3.OperationalError) as exc:  # a full disk, a file-size limit, a held gradebook
        raise OutputError(_write_failure(exc, out, settings.gradebook)) from None
    _write_summary(out, summary)
    return summary


class OutputError(GraderError):
    """Results, reports or the gradebook could not be written; what was committed is kept."""

    exit_code = EXIT_SOME_FAILED


def _write_failure(exc: BaseException, out: Path, gradebook: Path) -> str:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return (f"the gradebook {gradebook} is held by another program ({exc}); close it and run the "
                "same command again")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (f"the run stopped: results could not be written under {out} or to {gradebook} ({reason}); "
            "every student committed so far is kept: make room and run the same command again")


def _run(intake: Intake, catalog, settings: Settings, summary: Summary, out: Path, started: float,
         on_result, progress) -> None:
    with run_lock(settings.gradebook), Gradebook(settings.gradebook) as book, _Interrupts() as interrupts:
        summary.run_id = book.start_run(settings.options)
        book.record_unmatched(summary.run_id, [(u.path, u.reason) for u in intake.unmatched])
        book.record_roster(intake.not_submitted)  # in the class, overview and exports, with no result
        writer = _Writer(book, summary, out, catalog, _quiet_progress(on_result, progress),
                         best=settings.attempt == "best")
        try:
            budget = _Budget(KEPT_BYTES)
            plans = [_plan(work, book, catalog, settings, budget) for work in intake.students]
            todo = [p for p in plans if p.to_grade]
            for plan in plans:
                if not plan.to_grade:
                    with interrupts.deferred():
                        writer.finish(plan, [])
            if progress:
                progress.start(len(todo))
            if todo:
                warm = _Warmer(catalog)
                with run_scratch() as scratch, _graders(todo, catalog, settings, warm, scratch) as graders:
                    summary.workers = graders.size
                    tick = progress.redraw if progress else (lambda: None)
                    for plan, results, why in graders.run(todo, task=_task, before=warm.for_plan, tick=tick):
                        if results is None:  # the worker died
                            results = [crashed_result(catalog, plan.work.student.key, sub.path, sub.assignment, why)
                                       for sub in (plan.subs[i] for i in plan.to_grade)]
                        with interrupts.deferred():
                            writer.finish(plan, results)
                        if progress:
                            progress.update(writer.students_done, writer.fresh_failed)
            summary.status = "finished"
        except KeyboardInterrupt:
            summary.status = "interrupted"
        except BaseException:
            summary.status = "failed"
            raise
        finally:
            if progress:
                progress.close()
            summary.seconds = round(time.perf_counter() - started, 2)
            with interrupts.deferred(), _unless_failing(summary):
                _class_figures(book, catalog, summary, out, settings.late_policy)
                book.finish_run(summary.run_id, summary.status, summary.to_dict())


@contextlib.contextmanager
def _unless_failing(summary: Summary) -> Iterator[None]:
    """The run's last writes; when the run is failing already (a full disk, most likely), their
    own failure must not hide why. The run then stays 'running', and the next marks it 'killed'."""
    try:
        yield
    except (OSError, sqlite3.OperationalError):
        if summary.status != "failed":
            raise


def _set_aside(work: StudentWork, sub) -> dict:
    return {"path": str(sub.path), "student": work.student.key,
            "reason": f"an older attempt ({sub.number} of {sub.of}); {sub.replaced_by} is graded"}


@dataclass
class _Plan:
    work: StudentWork
    items: list[Item]
    to_grade: list[int]  # indexes into subs (and items) of what to grade now
    # what planning read of each one to grade, until it is sent (None: over the budget)
    snapshots: dict[int, Snapshot | None] = field(default_factory=dict)

    @property
    def subs(self) -> list:
        """The submissions the items stand for: the graded ones, then those set aside."""
        return [*self.work.submissions, *self.work.superseded]


class _Budget:
    """How many bytes of planned submissions may still be kept for their workers."""

    def __init__(self, left: int):
        self.left = left

    def keep(self, read: Snapshot) -> Snapshot | None:
        size = len(read.data or b"")
        if size > self.left:
            return None
        self.left -= size
        return read


def _plan(work: StudentWork, book: Gradebook, catalog, settings: Settings, budget: _Budget) -> _Plan:
    plan = _Plan(work, [], [])
    for sub in work.submissions:
        _plan_one(plan, sub, book, catalog, settings, budget, superseded=False)
    for sub in work.superseded:
        _plan_one(plan, sub, book, catalog, settings, budget, superseded=True)
    return plan


def _plan_one(plan: _Plan, sub, book: Gradebook, catalog, settings: Settings, budget: _Budget, *,
              superseded: bool) -> None:
    """One submission's item: reused from the gradebook, or to grade now (with what was read of it).

    A superseded attempt is a candidate only with ``--attempt best``: graded, or its result reused.
    """
    read = snapshot(sub.path)  # the one read of this file in the run's parent
    candidate = not superseded or settings.attempt == "best"
    reused = None
    if candidate and not settings.force:
        reused = book.reusable_result(plan.work.student.key, read.sha256, sub.assignment, settings.fallback,
                                      lambda slug: version_of(catalog, slug), review_policy=settings.review_policy)
    if candidate and reused is None:
        plan.to_grade.append(len(plan.items))
        plan.snapshots[len(plan.items)] = budget.keep(read)
    action = "superseded" if superseded else "unchanged" if reused else "graded"
    plan.items.append(Item(path=sub.path, name=sub.name, sha256=read.sha256, requested=sub.assignment,
                           attempt=sub.attempt, late=sub.late, action=action, reused=reused,
                           fallback=settings.fallback, submitted=sub.submitted))


def version_of(catalog, slug: str | None) -> str:
    """The version a result for ``slug`` must carry to stay valid (None: not recognised)."""
    if slug is None:
        return catalog_fingerprint(catalog)
    try:
        return catalog.version(catalog.get(slug))
    except KeyError:
        return ""  # the assignment is gone: grade the file again


def catalog_fingerprint(catalog) -> str:
    """Changes when any assignment changes (what 'not recognised' was decided against)."""
    versions = sorted(f"{a.slug}={catalog.version(a)}" for a in catalog.assignments)
    return hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]





class _Writer:
    """Turns one student's results into files, then one gradebook transaction."""

    def __init__(self, book: Gradebook, summary: Summary, out: Path, catalog, on_result, best: bool = False):
        self.book, self.summary, self.out = book, summary, out
        self.catalog, self.on_result, self.best = catalog, on_result, best
        self.students_done = self.fresh_failed = 0
        self.annotated: AnnotatedRenderer | None = None  # one AnnotatedRenderer for the run, made at the first page

    def finish(self, plan: _Plan, results: list[NotebookResult]) -> None:
        from grader.core.files import safe_file_name, write_text_atomic
        from grader.core.results import write_result
        from grader.reports.render import render_student_report

        student = plan.work.student
        folder = self.out / safe_file_name(student.key)
        fresh = dict(zip(plan.to_grade, results))
        subs = plan.subs
        if self.best:
            subs, fresh = _best_attempts(plan, fresh, self.book)
        names = result_file_names(plan.items)
        current, links = [], []
        for index, item in enumerate(plan.items):
            if item.action == "superseded":
                if index in fresh:  # graded as a candidate (--attempt best): kept for the next run
                    item.result = fresh[index]
                    _file_under_what_was_graded(item, item.result)
                    item.version = version_of(self.catalog, item.result.assignment.slug
                                              if item.result.assignment else None)
                continue
            attempt = attempt_of(subs[index])
            changed = index in fresh
            if changed:
                result = replace(fresh[index], attempt=attempt)
                _file_under_what_was_graded(item, result)
            else:
                result = NotebookResult.from_dict(self.book.result(item.reused))
                if result.attempt != attempt:  # the same file, but now with an earlier or later attempt beside it
                    result, changed = replace(result, attempt=attempt), True
            if changed:
                item.result = result
                item.version = version_of(self.catalog, result.assignment.slug if result.assignment else None)
            path = folder / f"{names[index]}.json"
            if changed or not path.exists():
                write_result(result, path)
            current.append((result, index in fresh))
            links.append(self._annotate(result, folder, names[index], index in fresh))
        report = folder / "report.html"
        if fresh or any(item.result is not None for item in plan.items) or not report.exists():
            text = render_student_report([r.to_dict() for r, _ in current], student=student.display_name,
                                         annotated=links)
            write_text_atomic(report, text)
        self.book.record_student(self.summary.run_id, student, plan.items)
        self.students_done += bool(fresh)
        for result, is_fresh in current:
            self._count(result, is_fresh)
            if self.on_result:
                self.on_result(student, result, is_fresh)

    def _annotate(self, result: NotebookResult, folder: Path, stem: str, fresh: bool) -> str | None:
        """The student's notebook with the grader's boxes beside the report; its link, or None."""
        from grader.reports.annotated import AnnotatedRenderer, annotated_name

        page = folder / annotated_name(stem)
        if not fresh and page.exists():
            return page.name
        where = (result.source or {}).get("path")
        notebook = Path(where) if isinstance(where, str) and where else None
        if notebook is None or not notebook.is_file():
            return None
        from grader.core.files import write_text_atomic

        if self.annotated is None:
            self.annotated = AnnotatedRenderer()
        html = self.annotated.render(notebook, result.to_dict())
        return write_text_atomic(page, html).name if html is not None else None

    def _count(self, result: NotebookResult, fresh: bool) -> None:
        s = self.summary
        if fresh:
            s.graded += 1
        else:
            s.unchanged += 1
        self.fresh_failed += fresh and result.status is not NotebookStatus.GRADED
        if result.status.unreadable:
            s.failed_to_read += 1
        elif result.status is NotebookStatus.KERNEL_ERROR:
            s.kernel_errors += 1
        elif result.status is NotebookStatus.CRASHED:
            s.crashed += 1
        elif any(c.status is CheckStatus.TIMEOUT for c in result.checks):
            s.timed_out += 1


def _file_under_what_was_graded(item: Item, result: NotebookResult) -> None:
    """A worker that read the file itself (its bytes were over the budget) grades what it read:
    if the file changed after planning, the gradebook files the result under that content's hash."""
    graded = (result.source or {}).get("sha256")
    if graded and graded != item.sha256:
        item.sha256 = graded


def _best_attempts(plan: _Plan, fresh: dict[int, NotebookResult],
                   book: Gradebook) -> tuple[list, dict[int, NotebookResult]]:
    """With ``--attempt best``: of each assignment's attempts, the highest score counts (the later
    one on a tie). The one that counts takes the place of the latest in ``plan.items``, the others
    become superseded; returns the submissions and the fresh results by item, in that order."""
    subs = plan.subs
    for index, sub in enumerate(plan.work.submissions):
        rivals = [index] + [j for j, other in enumerate(subs) if plan.items[j].action == "superseded"
                            and other.replaced_by == sub.name]
        if len(rivals) == 1:
            continue

        def standing(j: int, fresh: dict[int, NotebookResult] = fresh) -> tuple:
            result = fresh.get(j) or (NotebookResult.from_dict(book.result(plan.items[j].reused))
                                      if plan.items[j].reused else None)
            if result is None or not result.status.counts:
                return (False, 0.0, subs[j].number)
            return (True, result.score, subs[j].number)

        best = max(rivals, key=standing)
        if best != index:  # swap places, so the item at ``index`` stays the one that counts
            plan.items[index], plan.items[best] = plan.items[best], plan.items[index]
            subs[index], subs[best] = subs[best], subs[index]
            fresh = {({index: best, best: index}.get(k, k)): v for k, v in fresh.items()}
        for j in rivals:
            item = plan.items[j]
            item.action = ("graded" if j in fresh else "unchanged") if j == index else "superseded"
    return subs, fresh


def attempt_of(sub) -> dict | None:
    """Which attempt of how many the graded file is, and which were set aside; None for a single one."""
    if sub.of <= 1:
        return None
    return {"number": sub.number, "of": sub.of, "set_aside": [n for n in range(1, sub.of + 1) if n != sub.number]}


def result_file_names(items: list[Item]) -> dict[int, str]:
    """Each current notebook's result file name (no suffix) in its student's folder.

    A notebook's own name when no other notebook of the student shares it; otherwise its
    name with a hash of where it came from, so neither replaces the other and each keeps
    its name from one run to the next.
    """
    from grader.core.files import safe_file_name

    current = {i: Path(item.path).stem for i, item in enumerate(items) if item.action != "superseded"}
    shared = {stem for stem in current.values() if list(current.values()).count(stem) > 1}
    return {i: safe_file_name(stem, identity=str(items[i].path) if stem in shared else None)
            for i, stem in current.items()}


def _class_figures(book: Gradebook, catalog, summary: Summary, out: Path, policy: LatePolicy | None) -> None:
    """Averages over the class's latest results (final scores), and the class overview page."""
    records = book.class_records(policy)
    titles = {a.slug: (a.title, float(a.full_points or a.points)) for a in catalog.assignments}
    totals = [r.score for r in records if r.results]
    summary.max_total = sum(points for _, points in titles.values())
    summary.average = round(statistics.fmean(totals), 2) if totals else None
    for slug, (title, points) in titles.items():
        scores = [r.results[slug].get("score", 0.0) for r in records if slug in r.results]
        if scores:
            summary.averages[title] = [round(statistics.fmean(scores), 2), points]
    summary.needs_review = [
        {"student": r.student.key, "assignment": (result.get("assignment") or {}).get("slug"),
         "function": f.get("name"), "score": f.get("score"), "max_score": f.get("max_score"), **f["review"]}
        for r in records for result in r.results.values() for f in result.get("functions", ()) if f.get("review")]
    for record in records:
        if any(_changed_by_hand(r) for r in record.results.values()):
            _write_report(record, out)
    summary.overview = write_overview(records, out, catalog, book.problems(summary.run_id))


def _changed_by_hand(result: dict) -> bool:
    """An override, a late penalty or an outdated override: the report written while grading is not the last word."""
    adjustments = result.get("adjustments") or {}
    return bool(adjustments.get("overrides") or adjustments.get("late") or adjustments.get("stale_overrides"))


def _write_report(record, out: Path) -> None:
    from grader.core.files import safe_file_name, write_text_atomic
    from grader.reports.render import render_student_report

    results = sorted(record.results.values(), key=lambda r: ((r.get("assignment") or {}).get("title", ""),))
    write_text_atomic(Path(out) / safe_file_name(record.student.key) / "report.html",
                      render_student_report(results, student=record.student.display_name))


def refresh_pages(book: Gradebook, out: Path, catalog, policy: LatePolicy | None, student_key: str) -> str:
    """After an override: the student's report and the class overview drawn again from the gradebook."""
    records = book.class_records(policy)
    _write_report(next(r for r in records if r.student.key == student_key), out)
    return write_overview(records, Path(out), catalog, book.problems())


def write_overview(records, out: Path, catalog, problems: list[dict]) -> str:
    """The class overview page (its review list is ``grader review``'s, from the same records),
    when this installation has one; returns its path or ''."""
    try:
        from grader.reports.overview import write_overview as write
    except ImportError:
        return ""
    try:
        return str(write(records, out, assignments=catalog.assignments, problems=problems))
    except Exception as exc:  # the grades are saved either way; say so rather than end in a traceback
        print(f"warning: the class overview could not be written ({type(exc).__name__}: {exc})", file=sys.stderr)
        return ""


def _write_summary(out: Path, summary: Summary) -> None:
    from grader.core.files import write_text_atomic

    write_text_atomic(out / "summary.json", json.dumps(summary.to_dict(), indent=1))


# --- one run per gradebook at a time -------------------------------------------------------------

@contextlib.contextmanager
def run_lock(gradebook: Path) -> Iterator[None]:
    """An exclusive lock beside the gradebook, released by the system even on ``kill -9``;
    the lock file is removed when the run ends (a killed run's is reused by the next)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no guard against two runs at once
        yield
        return
    path = Path(str(gradebook) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise BatchError(f"another grader run is using {gradebook}; wait for it or pass --gradebook") from None
        try:  # the file we locked may have been removed by the run before us, just as it ended
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # removed while still locked, so no run can lock it after us
        handle.close()


class _Interrupts:
    """Ctrl-C and SIGTERM become KeyboardInterrupt, but never inside a deferred block
    (writing one student), so a student is either wholly committed or not at all."""

    def __init__(self):
        self.pending = False
        self.depth = 0

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():  # only there can Python set handlers
            self.saved = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending:
            self.pending = False
            raise KeyboardInterrupt


# --- warming the reference outputs in the parent -------------------------------------------------

class _Warmer:
    """Computes an assignment's expected outputs once, in the parent, before any worker needs them.

    Only for assignments some readable submission will be graded against, so a class of
    unreadable files starts no kernel; a broken solution stops the run here (exit 3).
    """

    def __init__(self, catalog):
        self.catalog = catalog
        self.warm: set[str] = set()

    def for_plan(self, plan: _Plan) -> None:
        if len(self.warm) == len(self.catalog.assignments):
            return
        for index in plan.to_grade:
            sub = plan.subs[index]
            if sub.assignment in self.warm:
                continue
            assignment = self._assignment_of(plan.snapshots.get(index) or snapshot(sub.path), sub.assignment)
            if assignment is not None and assignment.slug not in self.warm:
                self.catalog.expected(assignment)
                self.warm.add(assignment.slug)

    def _assignment_of(self, read: Snapshot, slug: str | None):
        from grader.notebook.reader import ReadError

        nb = read.notebook()
        if isinstance(nb, ReadError):
            return None
        if slug:
            return self.catalog.get(slug)
        return self.catalog.recognise(nb)[0]


def _quiet_progress(on_result, progress):
    """``on_result`` with the progress line cleared first, so printed lines do not mix with it."""
    if on_result is None or progress is None:
        return on_result

    def emit(student, result, fresh):
        progress.clear()
        on_result(student, result, fresh)
    return emit


def _graders(todo: list[_Plan], catalog, settings: Settings, warm: _Warmer, scratch: Path):
    """The local pool, or (``settings.cluster``) a Dask cluster: the same task, the same ``run``."""
    config = {**_worker_config(catalog, settings), "scratch": str(scratch)}
    if not settings.cluster:
        return Pool(min(settings.workers or default_workers(), len(todo)), config)
    from grader.classrun.cluster import Cluster

    for plan in todo:  # the reference outputs are cached now, so they travel with the assignments
        warm.for_plan(plan)
    return Cluster(settings.cluster, config, catalog)


def _worker_config(catalog, settings: Settings) -> dict:
    hidden = {str(Path(settings.out).resolve()), str(Path(settings.gradebook).resolve().parent)}
    return {"solutions": str(catalog.folder), "cache_dir": str(catalog.cache_dir or ""),
            "fallback": settings.fallback, "review_policy": settings.review_policy,
            "hidden": sorted(hidden), "limits": dict(settings.limits),
            "contain": settings.contain}


def _task(plan: _Plan) -> dict:
    """What a worker needs for one student. The planned bytes go with it once and are let go
    here; should the task be sent again (a cluster's retry), the worker reads the files."""
    subs = [plan.subs[i] for i in plan.to_grade]
    return {"student": plan.work.student.key, "notebooks": [str(s.path) for s in subs],
            "assignments": [s.assignment for s in subs],
            "snapshots": [plan.snapshots.pop(i, None) for i in plan.to_grade]}
