"""``grader.check("name")`` from inside a student's notebook: public checks, run in place.

This is the student's own kernel on the student's own machine, so the function
is called directly; only public checks exist here, and the comparison is the
same code the grader uses.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from grader.grading.catalog import Catalog
from grader.grading.grade import judge
from grader.kernel.harness import invoke
from grader.grading.pipeline import make_call
from grader.core.results import check_result


class CheckReport:
    """The outcome of one function's public checks; shows itself as a table."""

    def __init__(self, function: str, results: list[dict]):
        self.function = function
        self.results = results

    @property
    def passed(self) -> bool:
        return all(r["status"] == "passed" for r in self.results)

    def __repr__(self) -> str:
        lines = [f"{self.function}: {sum(r['status'] == 'passed' for r in self.results)} of "
                 f"{len(self.results)} public checks pass"]
        for r in self.results:
            lines.append(f"  [{r['status'].upper():^7}] {r['name']}: {r['message']}")
            if r.get("hint"):
                lines.append(f"            hint: {r['hint']}")
            lines.extend(f"            {t}" for t in r.get("traceback", []))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from grader.reports.render import render_check_table

        return render_check_table(self.function, self.results)


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


def check(function: str, *, folder: str | Path = ".", namespace: dict | None = None) -> CheckReport:
    namespace = namespace if namespace is not None else caller_namespace()
    catalog = Catalog(Path(folder))
    assignment = next((a for a in catalog.assignments if function in a.functions), None)
    if assignment is None:
        raise LookupError(f"no assignment in {Path(folder).resolve().name} grades a function named {function!r}")
    expected = catalog.expected(assignment)
    results = []
    for spec in assignment.checks_for(function):
        if spec.hidden:
            continue
        results.append(_run_one(assignment, spec, namespace.get(function), expected[spec.name]))
    return CheckReport(function, results)


def _run_one(assignment, spec, fn: Any, expected) -> dict:
    if not callable(fn):
        return check_result(spec, "not_attempted", 0.0, f"{spec.function} is not defined yet: run its cell first")
    call = make_call(assignment, spec)
    output = invoke(fn, call.kwargs, call.seed, call.observe)
    if output["status"] != "ok":
        return check_result(spec, "error", 0.0, f"{output['ename']}: {output['evalue']}")
    return judge(assignment, spec, output, expected)
