"""Build and run one notebook's checks: the part shared by grading and the reference run."""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from grader.checks.spec import Assignment, Check
from grader.kernel.containment import Limits
from grader.kernel.execute import Call, Execution, Job, Options, execute_jobs, write_inputs
from grader.notebook.build import Build, ScaffoldFacts, build


@dataclass
class Run:
    build: Build
    execution: Execution
    calls: dict[str, Call]
    limits: Limits = Limits()
    second: Execution | None = None  # the second opinion's run (Build.second), when there is one

    def second_view(self) -> Run | None:
        """The second opinion's run, read like a first one."""
        return None if self.second is None else Run(self.build, self.second, self.calls, self.limits)


@dataclass
class Plan:
    """One notebook ready for the kernel: what was built, and the job that runs it."""

    assignment: Assignment
    build: Build
    calls: dict[str, Call]
    job: Job
    second: Job | None = None  # the whole definitions of Build.second, in the same kernel after ``job``


def make_call(assignment: Assignment, check: Check) -> Call:
    kwargs = assignment.resolve(check.inputs)()
    if not isinstance(kwargs, dict):
        raise TypeError(f"check {check.name}: its inputs builder must return a dict of keyword arguments")
    return Call(check.name, check.function, kwargs, check.seed, check.observe, kernel_projection(assignment, check))


def kernel_projection(assignment: Assignment, check: Check) -> str | None:
    """The check's projection when the kernel can apply it itself: ``module:function`` in one of
    the assignment's files, which the kernel has. The kernel then sends back the (small)
    projection instead of a large output (the mini-batches of the public example are 14.5 MB).
    It is as trustworthy there as the output itself, both coming from the student's process,
    and no expected value is involved. A projection defined in the spec stays in the grader.
    """
    ref = check.project
    if isinstance(ref, str) and f"{ref.partition(':')[0]}.py" in assignment.files:
        return ref
    return None


class PreparedInputs:
    """Each assignment's check inputs, built once and written once to a folder of their own.

    The same for every student, so a worker keeps one for all its students. Whoever makes
    one closes it (``close()`` or ``with``), which removes the folder: nothing is left to
    an exit handler, which a worker ending with ``os._exit`` would skip.
    """

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._prepared: dict[int, tuple[Assignment, dict[str, Call], Path]] = {}

    def calls_and_path(self, assignment: Assignment) -> tuple[dict[str, Call], Path]:
        cached = self._prepared.get(id(assignment))
        if cached is None or cached[0] is not assignment:
            calls = {c.name: make_call(assignment, c) for c in assignment.runs}
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="grader-inputs-"))
            path = write_inputs(list(calls.values()), self.folder / f"{assignment.slug}-{len(self._prepared)}.values")
            path.chmod(0o444)
            cached = self._prepared[id(assignment)] = (assignment, calls, path)
        return cached[1], cached[2]

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
        self._prepared.clear()

    def __enter__(self) -> PreparedInputs:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def prepared(inputs: PreparedInputs | None) -> contextlib.AbstractContextManager[PreparedInputs]:
    """``inputs`` left open for its owner, or a fresh one closed when the block ends."""
    return contextlib.nullcontext(inputs) if inputs is not None else PreparedInputs()


def assignment_limits(assignment: Assignment, overrides: dict | None = None) -> Limits:
    """Defaults, then the assignment's own limits, then the command line's."""
    limits = Limits().updated(cell_seconds=assignment.cell_timeout, **dict(assignment.limits))
    return limits.updated(**(overrides or {}))


def plan(assignment: Assignment, scaffold: NotebookNode, submission: NotebookNode, *, inputs: PreparedInputs,
         fallback: bool = True, limits: dict | None = None, facts: ScaffoldFacts | None = None,
         second_opinion: bool = True) -> Plan:
    built = build(assignment, scaffold, submission, fallback=fallback, facts=facts, second_opinion=second_opinion)
    all_calls, inputs_path = inputs.calls_and_path(assignment)
    assert assignment.folder is not None
    files = [assignment.folder / name for name in assignment.files]
    job_limits = assignment_limits(assignment, limits)

    def job(cells: list[str], runs: set[str]) -> Job:
        defines: dict[int, list[str]] = {}
        for fb in built.functions.values():
            if fb.name in runs:
                defines.setdefault(fb.cell, []).append(fb.name)
        calls = [all_calls[c.name] for c in assignment.runs if c.function in runs]
        return Job(cells, calls, files, defines=defines, inputs=inputs_path, limits=job_limits)

    runnable = {fb.name for fb in built.functions.values() if fb.status.runnable}
    first = job(built.cells, runnable)
    second = job(built.second_cells, runnable | set(built.second)) if built.second else None
    if second is not None:  # only the second opinion's own checks are called again
        second.calls = [c for c in second.calls if c.function in built.second]
    return Plan(assignment, built, {c.check: c for c in first.calls}, first, second)


def run_plans(plans: list[Plan], options: Options | None = None) -> list[Run]:
    """All plans (one student's notebooks, each with its second opinion) in one kernel."""
    jobs = [j for p in plans for j in (p.job, p.second) if j is not None]
    executions = iter(execute_jobs(jobs, options) if jobs else [])
    runs = []
    for p in plans:
        first = next(executions)
        second = next(executions) if p.second is not None else None
        runs.append(Run(p.build, first, p.calls, p.job.limits, second))
    return runs


def run_checks(
    assignment: Assignment, scaffold: NotebookNode, submission: NotebookNode, *,
    fallback: bool = True, limits: dict | None = None, options: Options | None = None,
    inputs: PreparedInputs | None = None, second_opinion: bool = True,
) -> Run:
    with prepared(inputs) as ready:
        built = plan(assignment, scaffold, submission, inputs=ready, fallback=fallback, limits=limits,
                     second_opinion=second_opinion)
        return run_plans([built], options)[0]


def observed_output(assignment: Assignment, check: Check, output: dict) -> dict:
    """What gets compared: the (projected) return value and any observed arguments."""
    value = output.get("value")
    if output.get("unprojectable") is not None:  # the kernel's projection (kernel_projection) failed
        value = _Unprojectable(str(output["unprojectable"]))
    elif check.project is not None and not output.get("projected"):
        try:
            value = assignment.resolve(check.project)(value)
        except Exception as exc:  # the student's output did not have the expected form
            value = _Unprojectable(f"{type(exc).__name__}: {exc}")
    return {"return": value, "observed": output.get("observed") or {}}


class _Unprojectable:
    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"an output of the wrong form ({self.reason})"
