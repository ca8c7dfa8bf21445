"""Expected outputs: the solution notebook run through the same pipeline as a student's.

Computed outside any student's kernel and cached per assignment version, so a
class of 300 pays for one reference run.
"""
from __future__ import annotations

from pathlib import Path

from nbformat import NotebookNode

from grader.checks.spec import Assignment, Expected
from grader.core.codec import decode, encode, read_npz, write_npz
from grader.core.errors import AssignmentError
from grader.core.results import FunctionStatus
from grader.grading.pipeline import observed_output, run_checks


class ReferenceError(AssignmentError):
    """The solution itself fails a check: the assignment, not a student, needs fixing."""


def reference_outputs(
    assignment: Assignment, solution: NotebookNode, version: str, cache_dir: Path | None = None,
) -> dict[str, Expected]:
    assert assignment.folder is not None
    cache_dir = cache_dir or assignment.folder / ".grader-cache"
    cache = cache_dir / f"{assignment.slug}-{version}.npz"
    if cache.exists():
        skeleton, loaded = read_npz(str(cache))
        return _from_stored(decode(skeleton, loaded))

    run = run_checks(assignment, solution, solution, second_opinion=False)
    problems = [f"{f.name}: {f.status.value} {f.message}" for f in run.build.functions.values()
                if f.status is not FunctionStatus.OK]
    if run.execution.kernel_error:
        problems.append(run.execution.kernel_error)
    stored: dict[str, dict] = {}
    for check in assignment.runs:  # twins included: they are compared like checks
        output = run.execution.outputs.get(check.name, {})
        if output.get("status") != "ok":
            problems.append(f"{check.name}: {output.get('ename')}: {output.get('evalue')}")
            continue
        value = observed_output(assignment, check, output)
        hints = []
        for hint in check.hints:
            mistaken = hint.variant(**_fresh(assignment, check))
            hints.append([hint.message, observed_output(assignment, check, {"value": mistaken})["return"]])
        stored[check.name] = {"value": value, "hints": hints}
    if problems:
        raise ReferenceError(f"the solution of {assignment.title} does not run cleanly: " + "; ".join(problems))
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays: list = []
    write_npz(str(cache), encode(stored, arrays), arrays)
    return _from_stored(stored)


def _fresh(assignment: Assignment, check) -> dict:
    """New inputs for a variant, so it cannot see what another call mutated."""
    return assignment.resolve(check.inputs)()


def _from_stored(stored: dict) -> dict[str, Expected]:
    return {
        name: Expected(item["value"], tuple((m, v) for m, v in item["hints"]))
        for name, item in stored.items()
    }
