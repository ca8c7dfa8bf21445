"""The ``grader`` command: a thin layer over the library.

Exit codes: 0 done (for ``check``: every public check passes; for ``grade``: every
notebook got a result, an unreadable one being 0 points with its reason); 1 the grader could
not produce a result for some submission or a notebook matched no student, or (``check``) some public check fails; 2 usage error;
3 the assignment itself is broken (its solution fails its own checks); 130 (``grade``)
interrupted by Ctrl-C or SIGTERM, finished students kept.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable

from grader import api
from grader.core.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, GraderError
from grader.core.results import NotebookResult, NotebookStatus


def default_of(function: Callable, name: str) -> Any:
    """The default of ``function``'s keyword ``name``: the CLI's defaults are the library's."""
    return inspect.signature(function).parameters[name].default


def _summary_line(result: NotebookResult, student: str) -> str:
    if result.status is not NotebookStatus.GRADED:
        return f"{student:<16} {Path(result.source['path']).name:<32} {result.status.value}: {result.message}"
    title = result.assignment.title if result.assignment else "?"
    return f"{student:<16} {title:<32} {result.score:g} / {result.max_score:g}"


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.classrun.progress import Progress, format_summary

    printer = _ResultPrinter(args.json, args.quiet, args.verbose)
    try:
        done = api.grade_class(
            args.paths, solutions=args.solutions, out=args.out, gradebook=args.gradebook, preset=args.preset,
            pattern=args.pattern, roster=args.roster, student=args.student, assignment=args.assignment,
            workers=args.workers, force=args.force, fallback=not args.no_fallback,
            review_policy=args.review_policy, limits=dict(args.limit or []),
            contain=not args.no_contain, cluster=args.cluster, on_result=printer,
            progress=None if args.quiet else Progress())
    except KeyboardInterrupt:  # a second Ctrl-C while the first one was being handled
        printer.close()
        print("interrupted; students finished so far are in the gradebook", file=sys.stderr)
        return EXIT_INTERRUPTED
    printer.close()
    summary = done.summary
    if args.verbose:
        print(_intake_listing(done.intake))
    if not args.quiet:
        for note in done.intake.notes:
            print(f"warning: {note}", file=sys.stderr)
    if not args.json and not args.quiet:
        print(format_summary(summary, out=Path(args.out), gradebook=done.gradebook))
    if summary.status == "interrupted":
        print(f"interrupted: {summary.graded} notebooks graded in this run are kept in {done.gradebook}; "
              "run the same command again to grade the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    # An unreadable notebook is a result (0 points with the reason); only the grader's own
    # failures and notebooks that matched no student leave something without a result.
    return EXIT_SOME_FAILED if summary.without_result or summary.unmatched_notebooks else EXIT_OK


class _ResultPrinter:
    """One line per notebook as students finish, or (``--json``) a JSON array written as it grows."""

    def __init__(self, as_json: bool, quiet: bool, verbose: bool):
        self.as_json, self.quiet, self.verbose = as_json, quiet, verbose
        self.count = 0
        if as_json:
            sys.stdout.write("[")

    def __call__(self, student, result: NotebookResult, fresh: bool) -> None:
        if self.as_json:
            sys.stdout.write(("," if self.count else "") + "\n" + json.dumps(result.to_dict(), indent=1, default=str))
        elif not self.quiet and (fresh or self.verbose):
            line = _summary_line(result, student.display_name)
            print(line + ("" if fresh else "  (unchanged, not regraded)"))
        sys.stdout.flush()
        self.count += 1

    def close(self) -> None:
        if self.as_json:
            sys.stdout.write("\n]\n")
            sys.stdout.flush()
            self.as_json = False


def _intake_listing(intake) -> str:
    lines = [f"{source}: read as {preset}" for source, preset in intake.presets.items()]
    for work in intake.students:
        for old in work.superseded:
            lines.append(f"superseded: {old.name} (attempt {old.number} of {old.of} of "
                         f"{work.student.display_name}; {old.replaced_by} is graded)")
    lines += [f"not matched: {u.path}: {u.reason}" for u in intake.unmatched]
    lines += [f"on the roster, nothing handed in: {s.display_name}" for s in intake.not_submitted]
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    checked = api.check_notebook(args.notebook, assignments=args.assignments, student=args.student, out=args.out,
                                 review_policy=args.review_policy)
    if args.json:
        json.dump(checked.result.to_dict(), sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_table(checked.result))
        print(f"report: {checked.report}")
    return EXIT_OK if checked.passed else EXIT_SOME_FAILED


def format_table(result: NotebookResult) -> str:
    """A terminal table of every check: function, check, status, points, message."""
    if result.status is not NotebookStatus.GRADED:
        return f"{result.source['path']}: {result.message}"
    rows = [("function", "check", "status", "points", "message")]
    for f in result.functions:
        for c in f.checks:
            message = c.message + (f"  (hint: {c.hint})" if c.hint else "")
            rows.append((f.name, c.name, c.status.value, f"{c.points:g}/{c.max_points:g}", message))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, sum(widths) + 20))
    title = result.assignment.title if result.assignment else "?"
    lines.append(f"\n{title}: {result.score:g} / {result.max_score:g}"
                 + (" (public checks only)" if result.mode == "student" else ""))
    for f in result.needs_review:
        lines.append(f"needs review: {f.name}: {f.review_line}")
    for note in result.flags + result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def cmd_release(args: argparse.Namespace) -> int:
    for path in api.release(args.solutions, args.out):
        print(path)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from grader.lms.export import parse_canvas_ids, write_export

    made = api.export(
        args.format, gradebook=args.gradebook, results=args.results,
        assignments=[s.strip() for s in args.assignments.split(",") if s.strip()] if args.assignments else None,
        missing=getattr(args, "missing", default_of(api.export, "missing")),
        canvas_ids=parse_canvas_ids(getattr(args, "canvas_id", [])),
        points_possible=not getattr(args, "no_points_possible", False),
        identifier=getattr(args, "identifier", default_of(api.export, "identifier")),
        feedback=getattr(args, "feedback", default_of(api.export, "feedback")))
    write_export(made.text, args.out)
    for warning in made.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.out != "-" and not args.quiet:
        print(f"{made.rows} students, {made.assignments} assignments → {args.out}")
    return EXIT_SOME_FAILED if made.left_out else EXIT_OK


def _limit(text: str):
    from grader.kernel.containment import parse_limit

    try:
        return parse_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_review_policy(command: argparse.ArgumentParser) -> None:
    from grader.core.results import ReviewPolicy

    command.add_argument(
        "--review-policy", choices=[p.value for p in ReviewPolicy], default=ReviewPolicy.REGIONS.value,
        help="when the student's whole definition scores higher than the regions: 'regions' keeps the "
             "regions' score and flags the function for review (default), 'best' takes the higher score "
             "and flags it, 'strict' runs no second opinion")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade Jupyter assignments by their marked regions.")
    sub = p.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    _check_parser(sub)
    r = sub.add_parser("release", help="build assignments/ from solutions/")
    r.add_argument("--solutions", default=default_of(api.release, "solutions"),
                   help="instructor folder (default: %(default)s)")
    r.add_argument("--out", default=default_of(api.release, "out"),
                   help="the students' folder to write (default: %(default)s)")
    r.set_defaults(run=cmd_release)
    _export_parser(sub)
    _feedback_parser(sub)
    from grader.lms import gradescope

    gradescope.add_parser(sub)
    return p


def _grade_parser(sub) -> None:
    grade = api.grade_class
    g = sub.add_parser("grade", help="instructors: every check, JSON and HTML per student, a gradebook",
                       description="Grade folders, notebooks or LMS zip downloads. Exit codes: 0 every notebook "
                                   "got a result (unreadable ones get 0 points with the reason), 1 the grader "
                                   "could not produce a result for some (or a notebook matched no student), "
                                   "2 usage error, 3 an assignment's own solution fails its checks, "
                                   "130 interrupted (finished students are kept).")
    g.add_argument("paths", nargs="+", help="notebooks, folders searched for files, or .zip downloads")
    g.add_argument("--solutions", default=default_of(grade, "solutions"), help="instructor folder (default: %(default)s)")
    g.add_argument("--out", default=default_of(grade, "out"), help="where results and reports go (default: %(default)s)")
    g.add_argument("--preset", choices=api.PRESETS, default=default_of(grade, "preset"),
                   help="how file names tell the student (default: %(default)s, recognised per source)")
    g.add_argument("--pattern", help="regular expression with named groups student (required), id, "
                                     "assignment, attempt, late; searched in each file's path in its source")
    g.add_argument("--roster", help="CSV with columns among name,lms_id,sis_id,sis_login,section,email,username")
    g.add_argument("--workers", type=int, help="students graded at once (default: one more than the CPU cores)")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: a scheduler address (tcp://host:8786), or local:N to start "
                        "N worker processes here (needs the cluster extra; see docs/cluster.md)")
    g.add_argument("--force", action="store_true", help="grade again even what the gradebook has graded")
    g.add_argument("--gradebook", help="SQLite gradebook (default: OUT/gradebook.sqlite)")
    g.add_argument("--assignment", help="grade as this assignment instead of recognising it")
    g.add_argument("--student", help="student name (default: from the file's name or folder)")
    g.add_argument("--no-fallback", action="store_true",
                   help="do not grade a whole definition when a function's markers were deleted")
    _add_review_policy(g)
    g.add_argument("--limit", action="append", type=_limit, metavar="NAME=VALUE",
                   help="kernel limit, repeatable: cell_seconds, submission_seconds, cpu_seconds, "
                        "memory_bytes, processes, file_bytes, output_bytes (e.g. memory_bytes=2G)")
    g.add_argument("--no-contain", action="store_true",
                   help="no namespaces and no user switch for kernels (limits still apply)")
    g.add_argument("--json", action="store_true", help="print the results as a JSON array")
    loudness = g.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    loudness.add_argument("-v", "--verbose", action="store_true",
                          help="also list unmatched files, older attempts and unchanged results")
    g.set_defaults(run=cmd_grade)


def _check_parser(sub) -> None:
    c = sub.add_parser("check", help="students: public checks on one notebook, no solutions needed")
    c.add_argument("notebook", help="the notebook to check")
    c.add_argument("--assignments", help="released folder (default: the notebook's, else ./assignments, "
                                         "else the installed student package's)")
    c.add_argument("--out", default=default_of(api.check_notebook, "out"),
                   help="where the result and report go (default: %(default)s)")
    c.add_argument("--student", help="your name on the report (default: from the file's folder)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_review_policy(c)
    c.set_defaults(run=cmd_check)


def _export_parser(sub) -> None:
    from grader.lms.export import FORMATS, MISSING_CHOICES, MOODLE_IDENTIFIERS

    export = sub.add_parser("export", help="grades for Canvas, Moodle, CSV or JSON Lines")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, help_text in FORMATS.items():
        p = formats.add_parser(name, help=help_text, description=help_text)
        source = p.add_mutually_exclusive_group()
        source.add_argument("--gradebook", default=default_of(api.export, "gradebook"),
                            help="the gradebook grader grade wrote (default: %(default)s)")
        source.add_argument("--results", metavar="DIR", help="read the result JSON files under DIR instead")
        p.add_argument("--out", default="-", help="file to write (default: standard output)")
        p.add_argument("--assignments", metavar="SLUG,...",
                       help="which assignments, in this order (default: all, by title)")
        if name != "jsonl":
            p.add_argument("--missing", choices=MISSING_CHOICES, default=default_of(api.export, "missing"),
                           help="cell of an assignment a student did not submit (default: %(default)s)")
        if name == "canvas":
            p.add_argument("--canvas-id", action="append", default=[], metavar="SLUG=ID",
                           help="Canvas assignment id of an assignment (repeat per assignment)")
            p.add_argument("--no-points-possible", action="store_true", help="leave out the Points Possible row")
        if name == "moodle":
            p.add_argument("--identifier", choices=tuple(MOODLE_IDENTIFIERS),
                           default=default_of(api.export, "identifier"),
                           help="column Moodle matches students by (default: %(default)s)")
            p.add_argument("--feedback", choices=("combined", "per-assignment"),
                           default=default_of(api.export, "feedback"),
                           help="one feedback column, or one per assignment (default: %(default)s)")
        p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")
        p.set_defaults(run=cmd_export)


def _feedback_parser(sub) -> None:
    from grader.reports.feedback import REVEAL_LEVELS

    made = api.feedback
    f = sub.add_parser("feedback", help="feedback pages to hand to students (hidden checks kept hidden)",
                       description="One page per student from the gradebook's latest results, safe to hand "
                                   "back: hidden checks show no inputs or expected values.")
    f.add_argument("--solutions", default=default_of(made, "solutions"), help="instructor folder (default: %(default)s)")
    f.add_argument("--gradebook", default=default_of(made, "gradebook"), help="the gradebook (default: %(default)s)")
    f.add_argument("--out", default=default_of(made, "out"), help="where the pages go (default: %(default)s)")
    f.add_argument("--reveal", choices=REVEAL_LEVELS,
                   help="how much of each hidden check to show, for every assignment: none (a count per "
                        "function), message (pass/fail and a plain message), full (everything) "
                        "(default: each assignment's own setting, usually message)")
    f.set_defaults(run=cmd_feedback)


def cmd_feedback(args: argparse.Namespace) -> int:
    pages = api.feedback(solutions=args.solutions, gradebook=args.gradebook, out=args.out, reveal=args.reveal)
    print(f"{len(pages)} feedback pages in {args.out}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Parse, call the library, and turn an error the user can fix into one line and its exit code."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
