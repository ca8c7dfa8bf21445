"""Grade one notebook: read, recognise, build, run, compare, score. Always returns a result.

Whatever goes wrong with the submission ends as a result dict with a specific
message (DESIGN.md, principle 6); only a broken assignment (the instructor's
side) raises.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from nbformat import NotebookNode

from grader import __version__
from grader.checks.compare import Difference, Verdict, compare
from grader.checks.score import check_points
from grader.checks.spec import Assignment, Check, Expected
from grader.core.results import (
    AssignmentInfo,
    CheckResult,
    CheckStatus,
    FunctionResult,
    FunctionStatus,
    Kept,
    NotebookResult,
    NotebookStatus,
    Review,
    ReviewPolicy,
)
from grader.grading.catalog import Catalog
from grader.grading.pipeline import Plan, PreparedInputs, Run, observed_output, plan, prepared, run_plans
from grader.kernel.execute import Options, serving
from grader.notebook.build import FunctionBuild
from grader.notebook.reader import ReadError, Snapshot, snapshot


def grade_notebook(
    path: Path, catalog: Catalog, *, assignment: str | None = None, student: str | None = None,
    fallback: bool = True, limits: dict | None = None, options: Options | None = None,
    review_policy: ReviewPolicy | str = ReviewPolicy.REGIONS,
) -> NotebookResult:
    """Grade one notebook in a kernel of its own; always returns a result."""
    path = Path(path)
    return grade_student([path], catalog, student=student or path.parent.name or path.stem,
                         assignments=[assignment], fallback=fallback, limits=limits, options=options,
                         review_policy=review_policy)[0]


def grade_student(
    notebooks: list[Path], catalog: Catalog, *, student: str, assignments: list[str | None] | None = None,
    fallback: bool = True, limits: dict | None = None, options: Options | None = None,
    inputs: PreparedInputs | None = None,
    review_policy: ReviewPolicy | str = ReviewPolicy.REGIONS,
    snapshots: list[Snapshot | None] | None = None,
) -> list[NotebookResult]:
    """Grade all of one student's notebooks in one kernel; one result per notebook, in order.

    ``assignments`` optionally names each notebook's assignment (None: recognise it);
    ``limits`` overrides kernel limits (names as in ``containment.Limits``); ``options``
    says how kernels start and which folders they must not see, and may hold the caller's
    fork server (``Options.server``; without one, a server lives for this call only).
    ``inputs`` (kept open by the caller, as a worker does for all its students) saves writing
    the check inputs again; without it they are written for this call and removed after it.
    ``review_policy`` says what a function gets when the student's whole definition scores
    higher than its regions (``regions``, ``best``; ``strict`` runs no second opinion).
    ``snapshots`` holds, per notebook, the bytes and hash the caller already read (a class
    run's planning): those are graded, and the file is not opened again; None: read it now.
    """
    # The fork server (unless the caller owns one) starts importing now, while the notebooks
    # are read and built, and stops when this student is done.
    with prepared(inputs) as ready, serving(options) as served:
        return _grade_student(notebooks, catalog, student, assignments, fallback, limits, served, ready,
                              ReviewPolicy(review_policy), snapshots or [None] * len(notebooks))


def _grade_student(notebooks: list[Path], catalog: Catalog, student: str, assignments: list[str | None] | None,
                   fallback: bool, limits: dict | None, options: Options,
                   inputs: PreparedInputs, policy: ReviewPolicy,
                   snapshots: list[Snapshot | None]) -> list[NotebookResult]:
    started = time.perf_counter()
    wanted = assignments or [None] * len(notebooks)
    results: list[NotebookResult | None] = []
    plans: list[tuple[int, Plan, dict, Assignment]] = []
    for path, name, taken in zip(map(Path, notebooks), wanted, snapshots):
        read = taken or snapshot(path)  # one read of the file: these bytes are graded, this hash claimed
        source, nb = {"path": str(path), "sha256": read.sha256}, read.notebook()
        if isinstance(nb, ReadError):
            results.append(failed_result(catalog, student, source, NotebookStatus.UNREADABLE, str(nb),
                                         _guess(catalog, path, name)))
            continue
        chosen, reason = _choose(catalog, nb, name)
        if chosen is None:
            results.append(failed_result(catalog, student, source, NotebookStatus.UNRECOGNISED, reason,
                                         _guess(catalog, path, name)))
            continue
        catalog.expected(chosen)  # the reference run, if not cached, before any student code
        built = plan(chosen, catalog.scaffold(chosen), nb, inputs=inputs, fallback=fallback, limits=limits,
                     facts=catalog.scaffold_facts(chosen),
                     second_opinion=policy is not ReviewPolicy.STRICT)
        plans.append((len(results), built, source, chosen))
        results.append(None)
    options = replace(options, hidden=default_hidden(catalog, notebooks, options.hidden))
    runs = run_plans([p for _, p, _, _ in plans], options)
    overhead = time.perf_counter() - started - sum(r.execution.seconds for r in runs)
    for (index, _, source, chosen), run in zip(plans, runs):
        results[index] = _notebook_result(catalog, chosen, student, source, run, policy,
                                          {"total": round(time.perf_counter() - started, 3),
                                           "execute": round(run.execution.seconds, 3),
                                           "overhead": round(overhead / max(1, len(runs)), 3)})
    return [r for r in results if r is not None]


def _notebook_result(catalog: Catalog, chosen: Assignment, student: str, source: dict, run: Run,
                     policy: ReviewPolicy, timing: dict) -> NotebookResult:
    expected = catalog.expected(chosen)
    functions = tuple(
        _second_opinion(chosen, FunctionResult(
            name=fb.name, status=fb.status, message=fb.message, regions=tuple(fb.regions),
            checks=tuple(_grade_check(chosen, c, fb, run, expected) for c in chosen.checks_for(fb.name))),
            fb, run, expected, policy)
        for fb in run.build.functions.values()
    )
    functions = name_failing_dependencies(chosen, functions, run.build.uses)
    notes = list(run.build.notes)
    if run.execution.kernel_error:
        notes.append(run.execution.kernel_error)
    notes += run.execution.notes
    failed = run.execution.failed  # not the student's doing: say so, so that a rerun grades it
    return NotebookResult(
        student=student, source=source, mode=catalog.mode, grader_version=__version__,
        status=NotebookStatus.KERNEL_ERROR if failed else NotebookStatus.GRADED,
        message=run.execution.kernel_error if failed else "",
        assignment=assignment_info(catalog, chosen), max_score=chosen.points, functions=functions,
        notes=tuple(notes), flags=tuple(run.build.flags) + tuple(run.execution.flags), timing=timing,
        containment=run.execution.containment, review_policy=policy,
    )


def _second_opinion(assignment: Assignment, graded: FunctionResult, fb: FunctionBuild, run: Run,
                    expected: dict[str, Expected], policy: ReviewPolicy) -> FunctionResult:
    """The function's result with its second opinion weighed in: flagged for review when the
    student's whole definition scores higher than the regions (and, under ``best``, graded by it)."""
    reason, second = run.build.second.get(fb.name), run.second_view()
    if reason is None or second is None:
        return graded
    whole = replace(fb, status=FunctionStatus.FALLBACK)
    checks = tuple(_grade_check(assignment, c, whole, second, expected) for c in assignment.checks_for(fb.name))
    other = sum(c.points for c in checks)
    if other <= graded.score + 1e-9:
        return graded
    if policy is ReviewPolicy.BEST:
        message = "graded by your whole definition, which scores higher than the regions (review policy best)"
        return replace(graded, checks=checks, message=message,
                       review=Review(reason, other_score=graded.score, kept=Kept.DEFINITION))
    return replace(graded, review=Review(reason, other_score=other, kept=Kept.REGIONS))


def name_failing_dependencies(assignment: Assignment, functions: tuple[FunctionResult, ...],
                              derived: dict[str, tuple[str, ...]]) -> tuple[FunctionResult, ...]:
    """A check that fails while a graded function it calls fails its own checks says so, and
    shows no hint: the mistake may well be the other function's (docs/checks.md).

    The dependencies are the spec's (``Check.uses``) or, by default, the graded functions
    the built definition calls. Points are never changed.
    """
    by_name = {f.name: f for f in functions}
    failing = {f.name for f in functions if any(not c.status.passed for c in f.checks)}
    out = []
    for function in functions:
        specs = {c.name: c for c in assignment.checks_for(function.name)}
        checks = []
        for result in function.checks:
            spec = specs.get(result.name)
            uses = spec.uses if spec is not None and spec.uses is not None else derived.get(function.name, ())
            blamed = [d for d in uses if d in failing and d in by_name and d != function.name]
            if blamed and not result.status.passed and result.status is not CheckStatus.NOT_ATTEMPTED:
                result = replace(result, message=dependency_message(blamed), hint=None)
            checks.append(result)
        out.append(replace(function, checks=tuple(checks)))
    return tuple(out)


def dependency_message(names: list[str]) -> str:
    listed = " and ".join(f"`{n}`" for n in names)
    if len(names) == 1:
        return f"uses your {listed}, which fails its own checks; fix that first"
    return f"uses your {listed}, which fail their own checks; fix those first"


def assignment_info(catalog: Catalog, assignment: Assignment) -> AssignmentInfo:
    return AssignmentInfo(slug=assignment.slug, title=assignment.title, version=catalog.version(assignment),
                          max_score=assignment.full_points or assignment.points)


def failed_result(catalog: Catalog, student: str, source: dict, status: NotebookStatus, message: str,
                  assignment: Assignment | None = None) -> NotebookResult:
    """A submission that could not be graded at all: score 0 and a one-line reason.

    ``assignment`` (when the file name tells) keeps the student's maximum right.
    """
    return NotebookResult(
        student=student, source=source, status=status, message=message, mode=catalog.mode,
        grader_version=__version__, assignment=assignment_info(catalog, assignment) if assignment else None,
        max_score=assignment.points if assignment else 0.0,
    )


def check_result(check: Check, status: CheckStatus, points: float, message: str, **extra) -> CheckResult:
    """A check's result, with what the spec says of the check (name, worth, tolerance)."""
    return CheckResult(name=check.name, status=status, points=points, max_points=check.points,
                       message=message, hidden=check.hidden, description=check.description,
                       rtol=check.rtol, atol=check.atol, **extra)


def default_hidden(catalog: Catalog, notebooks: list[Path], extra: list[str]) -> list[str]:
    """Folders a student's kernel must not see: the instructor's, the grader's, the submissions'.

    Never a folder that holds the Python the kernel runs on.
    """
    # A notebook's folder and the one above it: the student's own, and the class's.
    near = [folder for p in notebooks for folder in Path(p).resolve().parents[:2]]
    wanted = [catalog.folder, Path(__file__).parents[1], Path.home(), *near, *map(Path, extra)]
    keep = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.executable)]
    hidden = []
    for path in wanted:
        real = Path(path).resolve()
        if real == Path("/") or any(k == real or real in k.parents for k in keep):
            continue
        hidden.append(str(real))
    return sorted(set(hidden))


def _guess(catalog: Catalog, path: Path, wanted: str | None) -> Assignment | None:
    return catalog.get(wanted) if wanted else catalog.guess_from_name(path.name)


def _choose(catalog: Catalog, nb: NotebookNode, wanted: str | None) -> tuple[Assignment | None, str]:
    found, reason = catalog.recognise(nb)
    if wanted is None:
        return found, reason
    chosen = catalog.get(wanted)
    if found is not None and found.slug != chosen.slug:
        return None, f"this is a notebook of {found.title}, not of {chosen.title}"
    if found is None:
        return None, f"this notebook defines none of the graded functions of {chosen.title}"
    return chosen, ""


def _grade_check(
    assignment: Assignment, check: Check, fb: FunctionBuild, run: Run, expected: dict[str, Expected],
) -> CheckResult:
    if not fb.status.runnable:
        return check_result(check, fb.status.skipped_check_status, 0.0, fb.message)
    output = run.execution.outputs.get(check.name, {})
    status = output.get("status")
    if status != "ok":
        cell_error = run.execution.cell_errors.get(fb.cell)
        if status == "timeout":
            message = f"{check.function} did not finish within {run.limits.cell_seconds:g} s (the time limit per check)"
        elif cell_error:
            message = f"defining {check.function} raised {cell_error['ename']}: {cell_error['evalue']}"
        else:
            message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        # Where the clock stopped a check that ran out of time is a matter of timing: its line would
        # make the same submission's result differ between runs, so a timeout carries no traceback.
        frames = () if status == "timeout" else tuple(student_frames(output.get("traceback", [])))
        return check_result(check, CheckStatus.TIMEOUT if status == "timeout" else CheckStatus.ERROR, 0.0, message,
                            traceback=frames, seconds=output.get("seconds"))
    result = judge(assignment, check, output, expected[check.name])
    twin = check.twin_check()
    if twin is not None and result.status.passed:
        failure = _twin_failure(assignment, twin, run, expected[twin.name])
        if failure:
            return replace(result, status=CheckStatus.FAILED, points=0.0,
                           message=f"passes only on the released inputs; the output looks hard-coded ({failure})")
    return result


def _twin_failure(assignment: Assignment, twin: Check, run: Run, expected: Expected) -> str:
    """Why the twin call (fresh inputs of the same shape) did not pass; empty when it did.

    The twin's expected values stay unsaid: they must not become public through reports.
    """
    output = run.execution.outputs.get(twin.name, {})
    if output.get("status") == "timeout":
        return "on fresh inputs of the same shape it did not finish in time"
    if output.get("status") != "ok":
        return f"on fresh inputs of the same shape it raised {output.get('ename', 'an error')}"
    if not judge(assignment, twin, output, expected).status.passed:
        return "on fresh inputs of the same shape it returns a different answer from the reference"
    return ""


def judge(assignment: Assignment, check: Check, output: dict, expected: Expected) -> CheckResult:
    """The result of one check whose function returned normally."""
    got = observed_output(assignment, check, output)
    verdict = _verdict(check, expected.value, got)
    hint = None
    if not verdict.passed:
        hint = next((m for m, wrong in expected.hints
                     if compare(wrong, got["return"], rtol=check.rtol, atol=check.atol).passed), None)
    return check_result(
        check, CheckStatus.PASSED if verdict.passed else CheckStatus.FAILED,
        check_points(check.points, verdict, partial=check.partial), verdict.message,
        details=tuple(d.to_dict() for d in verdict.differences[:5]), hint=hint, seconds=output.get("seconds"),
    )


def _verdict(check: Check, expected: dict, got: dict) -> Verdict:
    """Compare each part on its own, so messages name it: `v['db2']`, `after the call, parameters`."""
    parts = _named_parts(check, expected["return"], got["return"])
    parts += [(f"after the call, {name}", value, got["observed"].get(name))
              for name, value in expected["observed"].items()]
    leaves, differences = 0, list[Difference]()
    for path, exp, mine in parts:
        verdict = compare(exp, mine, rtol=check.rtol, atol=check.atol, path=path)
        leaves += verdict.leaves
        differences += verdict.differences
    return Verdict(leaves, tuple(differences))


def _named_parts(check: Check, expected, got) -> list[tuple]:
    """The return value split into the parts the spec names (`returns`), when both sides have them."""
    names = check.returns
    if len(names) > 1 and isinstance(expected, tuple) and len(expected) == len(names):
        if isinstance(got, (tuple, list)) and len(got) == len(names):
            return list(zip(names, expected, got))
    return [(names[0] if len(names) == 1 else "result", expected, got)]


def student_frames(frames: list[dict]) -> list[str]:
    """Only frames from notebook code: the student's lines and the scaffold around them."""
    shown = [f for f in frames if "ipykernel" in str(f.get("file", "")) or str(f.get("file", "")).startswith("<")]
    return [f"in {f.get('function')}, line {f.get('line')}: {f.get('code', '').strip()}" for f in shown]
