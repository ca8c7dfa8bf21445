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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import api
from grader.core.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, GraderError
from grader.core.imports import skip_unused_imports
from grader.core.results import NotebookResult, NotebookStatus


def default_of(function: Callable, name: str) -> Any:
    """The default of ``function``'s keyword ``name``: the CLI's defaults are the library's."""
    return inspect.signature(function).parameters[name].default


def _summary_line(result: NotebookResult, student: str) -> str:
    from grader.core.terminal import paint

    if result.status is not NotebookStatus.GRADED:
        status = paint(result.status.value, "red")
        return f"{student:<16} {Path(result.source['path']).name:<32} {status}: {result.message}"
    title = result.assignment.title if result.assignment else "?"
    return f"{student:<16} {title:<32} {result.score:g} / {result.max_score:g}"


class Course:
    """grader.toml (found from this folder upwards) under this command's flags: a flag wins,
    then the file, then the library's default."""

    def __init__(self, args: argparse.Namespace, function: Callable):
        from grader.classrun.late import policy_from
        from grader.core.config import load_config

        self.config = load_config()
        self.late_policy = policy_from(self.config)
        given = getattr(args, "solutions", None)
        self.solutions = Path(given) if given else (self.config.course_path("solutions")
                                                    or Path(_default(function, "solutions", "solutions")))
        given = getattr(args, "out", None)
        self.out = Path(given) if given else (self.config.course_path("out") or Path(_default(function, "out", "reports")))
        given = getattr(args, "gradebook", None)
        self.gradebook = Path(given) if given else self.out / "gradebook.sqlite"


def _default(function: Callable, name: str, fallback: str) -> str:
    value = inspect.signature(function).parameters.get(name)
    return fallback if value is None or value.default in (None, inspect.Parameter.empty) else value.default


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.classrun.progress import Progress, format_summary
    from grader.kernel.containment import parse_limit

    course = Course(args, api.grade_class)
    limits = dict(parse_limit(f"{k}={v}") for k, v in course.config.limits.items())
    limits.update(dict(args.limit or []))
    roster = args.roster or course.config.course_path("roster")
    preset = args.preset or course.config.course_text("preset") or default_of(api.grade_class, "preset")
    if args.pattern and args.preset in (None, "auto"):
        preset = "auto"  # a preset from grader.toml gives way to --pattern
    printer = _ResultPrinter(args.json, args.quiet, args.verbose)
    api._instructor_catalog(course.solutions, course.config)  # outside a course folder: name the config file
    try:
        done = api.grade_class(
            args.paths, solutions=course.solutions, out=course.out, gradebook=course.gradebook, preset=preset,
            pattern=args.pattern, roster=roster, student=args.student, assignment=args.assignment,
            workers=args.workers, force=args.force, attempt=args.attempt, fallback=not args.no_fallback,
            review_policy=args.review_policy, limits=limits, contain=not args.no_contain, cluster=args.cluster,
            late_policy=course.late_policy, on_result=printer,
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
        print(format_summary(summary, out=course.out, gradebook=done.gradebook))
    if summary.status == "interrupted":
        print(f"interrupted: {summary.graded} notebooks graded in this run are kept in {done.gradebook}; "
              "run the same command again to grade the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    # An unreadable notebook is a result (0 points with the reason); only the grader's own
    # failures and notebooks that matched no student leave something without a result.
    return EXIT_SOME_FAILED if summary.without_result or summary.unmatched_notebooks else EXIT_OK


class _ResultPrinter:
    """One line per notebook, in student and file order once the run ends (the progress line
    shows the run meanwhile), or (``--json``) a JSON array written as it grows."""

    def __init__(self, as_json: bool, quiet: bool, verbose: bool):
        self.as_json, self.quiet, self.verbose = as_json, quiet, verbose
        self.count = 0
        self.lines: list[tuple[tuple, str]] = []
        if as_json:
            sys.stdout.write("[")

    def __call__(self, student, result: NotebookResult, fresh: bool) -> None:
        if self.as_json:
            sys.stdout.write(("," if self.count else "") + "\n" + json.dumps(result.to_dict(), indent=1, default=str))
            sys.stdout.flush()
        elif not self.quiet and (fresh or self.verbose):
            line = _summary_line(result, student.display_name)
            order = (student.display_name.casefold(), student.key, Path(result.source.get("path", "")).name)
            self.lines.append((order, line + ("" if fresh else "  (unchanged, not regraded)")))
        self.count += 1

    def close(self) -> None:
        if self.as_json:
            sys.stdout.write("\n]\n")
            self.as_json = False
        for _, line in sorted(self.lines):
            print(line)
        self.lines = []
        sys.stdout.flush()


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

    course = Course(argparse.Namespace(gradebook=args.gradebook), api.export)  # --out here is the file written
    canvas_ids = {slug: str(value) for slug, value in course.config.canvas.items()}
    canvas_ids.update(parse_canvas_ids(getattr(args, "canvas_id", [])))
    made = api.export(
        args.format, gradebook=course.gradebook, results=args.results, late_policy=course.late_policy,
        assignments=[s.strip() for s in args.assignments.split(",") if s.strip()] if args.assignments else None,
        missing=getattr(args, "missing", default_of(api.export, "missing")),
        canvas_ids=parse_canvas_ids([f"{k}={v}" for k, v in canvas_ids.items()]),
        points_possible=not getattr(args, "no_points_possible", False),
        identifier=getattr(args, "identifier", default_of(api.export, "identifier")),
        feedback=getattr(args, "feedback", default_of(api.export, "feedback")))
    write_export(made.text, args.out)
    for warning in made.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.out != "-" and not args.quiet:
        print(f"{made.rows} students, {made.assignments} assignments → {args.out}")
    return EXIT_SOME_FAILED if made.left_out else EXIT_OK


# --- the instructor's gradebook: review, override, list, init ---------------------------------

def cmd_review(args: argparse.Namespace) -> int:
    """What needs a person, one line each; exit 0 whether or not there is anything."""
    from grader.core.terminal import paint, table

    course = Course(args, api.review)
    items = api.review(gradebook=course.gradebook, late_policy=course.late_policy)
    if args.json:
        json.dump(items, sys.stdout, indent=1)
        print()
        return EXIT_OK
    if not items:
        print("nothing to review")
        return EXIT_OK
    from grader.core.files import format_number

    rows = [("#", "student", "assignment", "function", "what", "now", "otherwise", "detail")]
    rows += [(str(n), i["student"], i["assignment"], i["function"] or "-", i["what"], format_number(i["score"], 2),
              "-" if i["other"] is None else format_number(i["other"], 2), i["detail"]) for n, i in enumerate(items, 1)]
    print(table(rows))
    print(paint(f"{len(items)} to review", "bold") + "; to decide:")
    for n, i in enumerate(items, 1):
        print(f"  {n}. {i['command']}")
    return EXIT_OK


def cmd_override(args: argparse.Namespace) -> int:
    import getpass

    course = Course(args, api.override)
    who = args.by or getpass.getuser()
    made = api.override(args.student, args.assignment, args.function, check=args.check, points=args.points,
                        accept=args.accept, reason=args.reason, who=who, gradebook=course.gradebook, out=course.out,
                        solutions=course.solutions, late_policy=course.late_policy)
    target = " / ".join(x for x in (args.assignment, args.function, args.check) if x)
    result = made["result"]
    raw = (result.get("adjustments") or {}).get("raw_score", 0)
    print(f"{made['student'].display_name}, {target}: {made['points']:g} points, set by {who} ({made['reason']}); "
          f"{args.assignment} now {result.get('score', 0):g} (graded {raw:g})")
    if not made["refreshed"]:
        print(f"reports are drawn again on the next grader grade (no solutions folder {course.solutions} here)")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """Every assignment: slug (what --canvas-id and overrides name), title, notebook, points, checks."""
    from grader.core.terminal import table

    course = Course(args, api.list_assignments)
    rows = [("slug", "title", "notebook", "points", "checks", "canvas id")]
    for a in api.list_assignments(course.solutions, course.config):
        hidden = sum(c.hidden for c in a.checks)
        rows.append((a.slug, a.title, a.notebook, f"{a.points:g}",
                     f"{len(a.checks)} ({len(a.checks) - hidden} public, {hidden} hidden)",
                     str(course.config.canvas.get(a.slug, "-"))))
    print(table(rows))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    path = api.init_course(args.folder)
    print(f"wrote {path}: edit it, then grader list shows the assignments it finds")
    return EXIT_OK


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


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only that subcommand's parser under the top
    level (what ``main`` builds when it knows the command: the others cost imports)."""
    from grader import __version__

    p = argparse.ArgumentParser(prog="grader", description="Grade Jupyter assignments by their marked regions. "
                                "Settings come from grader.toml (found from this folder upwards); flags win.")
    p.add_argument("--version", action="version", version=f"grader {__version__}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for names, build in SUBCOMMANDS:
        if command is None or command in names:
            build(sub)
    return p


def _release_parser(sub) -> None:
    r = sub.add_parser("release", help="build assignments/ from solutions/",
                       description="Write what students get: notebooks with placeholders, public checks, the "
                                   "student package. Exit codes: 0 written, 2 usage error, 3 a solution fails its checks.")
    r.add_argument("--solutions", default=default_of(api.release, "solutions"),
                   help="instructor folder (default: %(default)s)")
    r.add_argument("--out", default=default_of(api.release, "out"),
                   help="the students' folder to write (default: %(default)s)")
    r.set_defaults(run=cmd_release, parser=r)


def _gradescope_parser(sub) -> None:
    from grader.lms import gradescope

    gradescope.add_parser(sub)


def _gradebook_parsers(sub) -> None:
    v = sub.add_parser("review", help="what needs a person: flagged functions, unreadable files, failures",
                       description="List what needs an instructor's decision: functions the second opinion "
                                   "flagged, submissions that could not be read, the grader's own failures, "
                                   "overrides made for an earlier submission. Exit codes: 0 listed, 2 usage error.")
    _course_options(v, solutions=False)
    v.add_argument("--gradebook", help="SQLite gradebook (default: OUT/gradebook.sqlite)")
    v.add_argument("--json", action="store_true", help="print the list as JSON")
    v.set_defaults(run=cmd_review, parser=v)

    o = sub.add_parser("override", help="set a grade by hand, with a reason (kept with who and when)",
                       description="Set the points of a check, a function or a whole notebook for the student's "
                                   "current submission. The raw score stays in the gradebook; a new submission "
                                   "puts the function back on the review list. Exit codes: 0 recorded, 2 usage error.")
    o.add_argument("student", help="the student's key or name (as grader review shows it)")
    o.add_argument("assignment", help="the assignment's slug (grader list shows them)")
    o.add_argument("function", nargs="?", help="a graded function (default: the whole notebook)")
    o.add_argument("--check", help="one check of FUNCTION instead of the whole function")
    o.add_argument("--points", type=float, help="the points to give")
    o.add_argument("--accept", action="store_true", help="give the second opinion's score for FUNCTION")
    o.add_argument("--reason", required=True, help="why, in a sentence: shown in reports, feedback and the history")
    o.add_argument("--by", help="who decides (default: the login name)")
    _course_options(o)
    o.add_argument("--gradebook", help="SQLite gradebook (default: OUT/gradebook.sqlite)")
    o.set_defaults(run=cmd_override, parser=o)

    ls = sub.add_parser("list", help="the assignments with their slugs, points and checks",
                        description="List the assignments of the solutions folder. Exit codes: 0 listed, 2 usage error.")
    _course_options(ls, out=False)
    ls.set_defaults(run=cmd_list, parser=ls)

    i = sub.add_parser("init", help="write a commented grader.toml to start from",
                       description="Write grader.toml (never over an existing one). Exit codes: 0 written, 2 it exists.")
    i.add_argument("folder", nargs="?", default=".", help="the course folder (default: this one)")
    i.set_defaults(run=cmd_init, parser=i)


def _grade_parser(sub) -> None:
    grade = api.grade_class
    g = sub.add_parser("grade", help="instructors: every check, JSON and HTML per student, a gradebook",
                       description="Grade folders, notebooks or LMS zip downloads. Exit codes: 0 every notebook "
                                   "got a result (unreadable ones get 0 points with the reason), 1 the grader "
                                   "could not produce a result for some (or a notebook matched no student), "
                                   "2 usage error, 3 an assignment's own solution fails its checks, "
                                   "130 interrupted (finished students are kept).")
    g.add_argument("paths", nargs="+", help="notebooks, folders searched for files, or .zip downloads")
    _course_options(g)
    g.add_argument("--preset", choices=api.PRESETS, default=None,
                   help=f"how file names tell the student (default: [course] preset, else {default_of(grade, 'preset')}, "
                        "recognised per source)")
    g.add_argument("--pattern", help="regular expression with named groups student (required), id, "
                                     "assignment, attempt, late; searched in each file's path in its source")
    g.add_argument("--roster", help="roster CSV: Canvas gradebook export, Moodle participants or grades export, "
                                    "or columns among name,lms_id,sis_id,sis_login,section,email,username "
                                    "(default: [course] roster)")
    g.add_argument("--workers", type=int, help="students graded at once (default: one more than the CPU cores)")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: a scheduler address (tcp://host:8786), or local:N to start "
                        "N worker processes here (needs the cluster extra; see docs/cluster.md)")
    g.add_argument("--force", action="store_true", help="grade again even what the gradebook has graded")
    g.add_argument("--attempt", choices=("latest", "best"), default="latest",
                   help="of several attempts at one assignment, which counts: the latest (default), or the "
                        "best (every attempt is graded)")
    g.add_argument("--gradebook", help="SQLite gradebook (default: OUT/gradebook.sqlite)")
    g.add_argument("--assignment", help="grade as this assignment instead of recognising it")
    g.add_argument("--student", help="student name (default: from the file's name or folder)")
    g.add_argument("--no-fallback", action="store_true",
                   help="do not grade a whole definition when a function's markers were deleted")
    _add_review_policy(g)
    g.add_argument("--limit", action="append", type=_limit, metavar="NAME=VALUE",
                   help="kernel limit, repeatable, over [limits]: cell_seconds, submission_seconds, cpu_seconds, "
                        "memory_bytes, processes, file_bytes, output_bytes (e.g. memory_bytes=2G)")
    g.add_argument("--no-contain", action="store_true",
                   help="no namespaces and no user switch for kernels (limits still apply)")
    g.add_argument("--json", action="store_true", help="print the results as a JSON array")
    loudness = g.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    loudness.add_argument("-v", "--verbose", action="store_true",
                          help="also list unmatched files, older attempts and unchanged results")
    g.set_defaults(run=cmd_grade, parser=g)


def _check_parser(sub) -> None:
    c = sub.add_parser("check", help="students: public checks on one notebook, no solutions needed",
                       description="Run the public checks on one notebook. Exit codes: 0 every public check "
                                   "passes, 1 some fails, 2 usage error.")
    c.add_argument("notebook", help="the notebook to check")
    c.add_argument("--assignments", help="released folder (default: the notebook's, else ./assignments, "
                                         "else the installed student package's)")
    c.add_argument("--out", default=default_of(api.check_notebook, "out"),
                   help="where the result and report go (default: %(default)s)")
    c.add_argument("--student", help="your name on the report (default: from the file's folder)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_review_policy(c)
    c.set_defaults(run=cmd_check, parser=c)


def _export_parser(sub) -> None:
    from grader.lms.export import FORMATS, MISSING_CHOICES, MOODLE_IDENTIFIERS

    export = sub.add_parser("export", help="grades for Canvas, Moodle, CSV or JSON Lines")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, help_text in FORMATS.items():
        p = formats.add_parser(name, help=help_text, description=help_text)
        source = p.add_mutually_exclusive_group()
        source.add_argument("--gradebook", help="the gradebook grader grade wrote (default: OUT/gradebook.sqlite, "
                                                "OUT from grader.toml's [course] out, else reports)")
        source.add_argument("--results", metavar="DIR", help="read the result JSON files under DIR instead")
        p.add_argument("--out", default="-", help="file to write (default: standard output)")
        p.add_argument("--assignments", metavar="SLUG,...",
                       help="which assignments, in this order (default: all, by title)")
        if name != "jsonl":
            p.add_argument("--missing", choices=MISSING_CHOICES, default=default_of(api.export, "missing"),
                           help="cell of an assignment a student did not submit (default: %(default)s)")
        if name == "canvas":
            p.add_argument("--canvas-id", action="append", default=[], metavar="SLUG=ID",
                           help="Canvas assignment id of an assignment (repeat per assignment; over grader.toml's "
                                "[canvas]; grader list shows the slugs)")
            p.add_argument("--no-points-possible", action="store_true", help="leave out the Points Possible row")
        if name == "moodle":
            p.add_argument("--identifier", choices=tuple(MOODLE_IDENTIFIERS),
                           default=default_of(api.export, "identifier"),
                           help="column Moodle matches students by (default: %(default)s)")
            p.add_argument("--feedback", choices=("combined", "per-assignment"),
                           default=default_of(api.export, "feedback"),
                           help="one feedback column, or one per assignment (default: %(default)s)")
        p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")
        p.set_defaults(run=cmd_export, parser=p)


def _course_options(p: argparse.ArgumentParser, *, solutions: bool = True, out: bool = True) -> None:
    if solutions:
        p.add_argument("--solutions", help="instructor folder (default: [course] solutions, else solutions)")
    if out:
        p.add_argument("--out", help="results, reports and gradebook folder (default: [course] out, else reports)")


def _feedback_parser(sub) -> None:
    from grader.reports.feedback import REVEAL_LEVELS

    made = api.feedback
    f = sub.add_parser("feedback", help="feedback pages to hand to students (hidden checks kept hidden)",
                       description="One page per student from the gradebook's latest results, safe to hand "
                                   "back: hidden checks show no inputs or expected values.")
    f.add_argument("--solutions", help=f"instructor folder (default: [course] solutions, else {default_of(made, 'solutions')})")
    f.add_argument("--gradebook", help="the gradebook (default: OUT/gradebook.sqlite, OUT being [course] out, "
                                       "else reports)")
    f.add_argument("--out", help="where the pages go (default: OUT/feedback)")
    f.add_argument("--reveal", choices=REVEAL_LEVELS,
                   help="how much of each hidden check to show, for every assignment: none (a count per "
                        "function), message (pass/fail and a plain message), full (everything) "
                        "(default: each assignment's own setting, usually message)")
    f.set_defaults(run=cmd_feedback, parser=f)


def cmd_feedback(args: argparse.Namespace) -> int:
    # The course as grader grade sees it: its out folder holds the gradebook, and the pages go beside.
    course = Course(argparse.Namespace(solutions=args.solutions, gradebook=args.gradebook), api.grade_class)
    out = Path(args.out) if args.out else course.out / "feedback"
    pages = api.feedback(solutions=course.solutions, gradebook=course.gradebook, out=out, reveal=args.reveal,
                         late_policy=course.late_policy)  # the scores students see are final ones
    print(f"{len(pages)} feedback pages in {out}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Parse, call the library, and turn an error the user can fix into one line and its exit code."""
    skip_unused_imports()
    given = sys.argv[1:] if argv is None else argv
    known = {name for names, _ in SUBCOMMANDS for name in names}
    top = parser(given[0] if given and given[0] in known else None)  # else the whole one, for its help or error
    args, extra = top.parse_known_args(argv)
    if extra:  # the subcommand's own usage, not the top level's
        getattr(args, "parser", top).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


# Every subcommand's parser, in the order the help lists them: the names each builder adds.
SUBCOMMANDS: tuple[tuple[tuple[str, ...], Callable[[Any], None]], ...] = (
    (("grade",), _grade_parser), (("check",), _check_parser), (("release",), _release_parser),
    (("export",), _export_parser), (("feedback",), _feedback_parser),
    (("review", "override", "list", "init"), _gradebook_parsers), (("gradescope",), _gradescope_parser),
)

if __name__ == "__main__":
    sys.exit(main())
