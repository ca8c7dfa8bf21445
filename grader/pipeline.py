"""Build and run one notebook's checks: the part shared by grading and the reference run."""
from __future__ import annotations

from dataclasses import dataclass

from nbformat import NotebookNode

from .build import RUNNABLE, Build, build
from .execute import Call, Execution, execute
from .spec import Assignment, Check


@dataclass
class Run:
    build: Build
    execution: Execution
    calls: dict[str, Call]


def make_call(assignment: Assignment, check: Check) -> Call:
    kwargs = assignment.resolve(check.inputs)()
    if not isinstance(kwargs, dict):
        raise TypeError(f"check {check.name}: its inputs builder must return a dict of keyword arguments")
    return Call(check.name, check.function, kwargs, check.seed, check.observe)


def run_checks(
    assignment: Assignment, scaffold: NotebookNode, submission: NotebookNode, *,
    fallback: bool = True, kernel_name: str = "python3", cell_timeout: float | None = None,
) -> Run:
    built = build(assignment, scaffold, submission, fallback=fallback)
    runnable = [c for c in assignment.runs if built.functions[c.function].status in RUNNABLE]
    calls = {c.name: make_call(assignment, c) for c in runnable}
    assert assignment.folder is not None
    files = [assignment.folder / name for name in assignment.files]
    execution = execute(
        built.cells, list(calls.values()), files,
        cell_timeout=cell_timeout or assignment.cell_timeout, kernel_name=kernel_name,
    )
    return Run(built, execution, calls)


def observed_output(assignment: Assignment, check: Check, output: dict) -> dict:
    """What gets compared: the (projected) return value and any observed arguments."""
    value = output.get("value")
    if check.project is not None:
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
