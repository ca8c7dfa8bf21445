"""``grader.check("name")`` from inside a student's notebook: public checks, run in place.

This is the student's own kernel on the student's own machine, so the function
is called directly; only public checks exist here, and the comparison is the
same code the grader uses. Whatever goes wrong (a misspelt name, no released
checks, the student's exception) ends as a report the notebook shows, never as
a traceback through the grader.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.checks.spec import Assignment, Check, Expected
from grader.core.results import CheckResult, CheckStatus
from grader.grading.catalog import RELEASED_CHECKS_DIR, Catalog
from grader.grading.grade import check_result, judge, student_frames
from grader.grading.pipeline import make_call
from grader.kernel.harness import invoke

TRACEBACK_LINES = 3  # the student's last frames are where the mistake usually is


class CheckReport:
    """The outcome of one function's public checks; shows itself as text or as HTML.

    ``problem`` says why no check could run (the report then never counts as passed).
    """

    def __init__(self, function: str, results: list[CheckResult], *, problem: str = ""):
        self.function = function
        self.results = results
        self.problem = problem

    @property
    def passed(self) -> bool:
        """Every public check ran and passed; nothing checked is not a pass."""
        return not self.problem and bool(self.results) and all(r.status.passed for r in self.results)

    @property
    def headline(self) -> str:
        if self.problem:
            return f"{self.function}: {self.problem}"
        passing = sum(r.status.passed for r in self.results)
        return f"{self.function}: {passing} of {len(self.results)} public checks pass"

    def __repr__(self) -> str:
        lines = [self.headline]
        width = max((len(r.status.value) for r in self.results), default=0) + 2
        indent = " " * (width + 3)
        for r in self.results:
            label = f"[{r.status.value.upper()}]".ljust(width)
            lines.append(f"  {label} {r.name}: {r.message}")
            if r.hint:
                lines.append(f"{indent}hint: {r.hint}")
            lines.extend(f"{indent}{line}" for line in r.traceback[-TRACEBACK_LINES:])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from grader.reports.render import (
            render_check_table,  # reports sit above grading: import on use
        )

        return render_check_table(self.function, [r.to_dict() for r in self.results], problem=self.problem,
                                  traceback_lines=TRACEBACK_LINES)


def caller_namespace() -> dict:
    """The notebook's namespace in IPython; otherwise the globals of whoever called ``grader.check``."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return inspect.stack()[2].frame.f_globals


def released_folder(folder: str | Path) -> Path | None:
    """Where the public checks come from: ``folder`` when it holds them (or solution
    specs), else the student package's copy when it is installed, else None."""
    folder = Path(folder)
    if (folder / RELEASED_CHECKS_DIR).is_dir() or any(folder.glob("*.checks.py")):
        return folder
    from grader.grading.studentkit import bundled_folder

    return bundled_folder()


def check(function: str | Callable, *, folder: str | Path = ".", namespace: dict | None = None) -> CheckReport:
    """Run ``function``'s public checks on the notebook's definition of it."""
    namespace = namespace if namespace is not None else caller_namespace()
    fn = None
    if callable(function):  # grader.check(my_function) works too
        fn, function = function, getattr(function, "__name__", "")
    if not isinstance(function, str) or not function:
        return CheckReport(str(function), [], problem="give the function's name, e.g. grader.check(\"model\")")
    source = released_folder(folder)
    if source is None:
        return CheckReport(function, [], problem=(
            f"no public checks found: {Path(folder).resolve()} has no '{RELEASED_CHECKS_DIR}/' folder and the "
            "student package is not installed (run the notebook's first cell, or open the notebook "
            "from the released assignments folder)"))
    try:
        catalog = Catalog(source)
    except (OSError, ValueError) as exc:
        return CheckReport(function, [], problem=f"the public checks in {source} cannot be read: {exc}")
    assignment = next((a for a in catalog.assignments if function in a.functions), None)
    if assignment is None:
        return CheckReport(function, [], problem=_unknown_function(function, catalog))
    public = [spec for spec in assignment.checks_for(function) if not spec.hidden]
    if not public:
        return CheckReport(function, [], problem="has no public checks; only the grader's hidden checks grade it")
    expected = catalog.expected(assignment)
    fn = fn if fn is not None else namespace.get(function)
    results: list[CheckResult] = []
    for spec in public:
        if results and results[-1].status is CheckStatus.TIMEOUT:
            results.append(check_result(spec, CheckStatus.NOT_ATTEMPTED, 0.0, "not run: the check before it was interrupted"))
            continue
        results.append(_run_one(assignment, spec, fn, expected[spec.name]))
    return CheckReport(function, results)


def _unknown_function(function: str, catalog: Catalog) -> str:
    known = [f for a in catalog.assignments for f in a.functions]
    close = difflib.get_close_matches(function, known, n=3, cutoff=0.6)
    # Only the closest: a near-tie lists a few, a clear winner stands alone.
    ratio = {name: difflib.SequenceMatcher(None, function, name).ratio() for name in close}
    close = [name for name in close if ratio[name] >= ratio[close[0]] - 0.03] if close else []
    titles = ", ".join(a.title for a in catalog.assignments)
    message = f"no graded function of this name in {titles}"
    if close:
        message += "; did you mean " + " or ".join(f"'{name}'" for name in close) + "?"
    return message


def _run_one(assignment: Assignment, spec: Check, fn: Any, expected: Expected) -> CheckResult:
    if not callable(fn):
        return check_result(spec, CheckStatus.NOT_ATTEMPTED, 0.0, f"{spec.function} is not defined yet: run its cell first")
    call = make_call(assignment, spec)
    # Ctrl-C (the notebook's stop button) on an endless loop ends this check, not the report.
    output = invoke(fn, call.kwargs, call.seed, call.observe, catch=(Exception, KeyboardInterrupt))
    if output["status"] == "timeout":
        return check_result(spec, CheckStatus.TIMEOUT, 0.0, f"{spec.function} was interrupted before it returned",
                            seconds=output.get("seconds"))
    if output["status"] != "ok":
        return check_result(spec, CheckStatus.ERROR, 0.0, f"{output['ename']}: {output['evalue']}",
                            traceback=tuple(student_frames(output.get("traceback", []))), seconds=output.get("seconds"))
    return judge(assignment, spec, output, expected)
