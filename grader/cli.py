"""The ``grader`` command: a thin layer over the library.

Exit codes: 0 done (for ``check``: every public check passes); 1 some submission
could not be graded, or (``check``) some public check fails; 2 usage error;
3 the assignment itself is broken (its solution fails its own checks); 130 (``grade``)
interrupted by Ctrl-C or SIGTERM, finished students kept.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from grader.core.errors import EXIT_ASSIGNMENT, EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from grader.core.results import NotebookResult, NotebookStatus


def _summary_line(result: NotebookResult, student: str) -> str:
    if result.status is not NotebookStatus.GRADED:
        return f"{student:<16} {Path(result.source['path']).name:<32} {result.status.value}: {result.message}"
    title = result.assignment.title if result.assignment else "?"
    return f"{student:<16} {title:<32} {result.score:g} / {result.max_score:g}"


def _write_reports(results: list[NotebookResult], out: Path) -> list[Path]:
    from grader.core.files import safe_file_name
    from grader.core.results import write_result
    from grader.reports.render import write_student_report

    by_student: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_student[result.student].append(result.to_dict())
        stem = Path(result.source["path"]).stem
        write_result(result, out / safe_file_name(result.student) / f"{safe_file_name(stem)}.json")
    return [write_student_report(rs, out, student=s) for s, rs in by_student.items()]


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.grading.catalog import Catalog
    from grader.classrun.batch import Settings, run_class
    from grader.classrun.progress import Progress, format_summary
    from grader.classrun.intake import collect

    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.pattern and args.preset != "auto":
        print(f"error: --pattern replaces the preset; leave out --preset {args.preset}", file=sys.stderr)
        return EXIT_USAGE
    catalog = Catalog(Path(args.solutions))
    if catalog.mode != "instructor":
        print(f"error: {args.solutions} holds no check specifications (*.checks.py)", file=sys.stderr)
        return EXIT_USAGE
    if args.assignment:
        catalog.get(args.assignment)  # an unknown one is a usage error before anything runs
    out = Path(args.out)
    intake = collect([Path(p) for p in args.paths], preset=args.preset, pattern=args.pattern,
                     roster=Path(args.roster) if args.roster else None, extract_to=out / "_submissions",
                     catalog=catalog, student=args.student, assignment=args.assignment)
    if args.verbose:
        print(_intake_listing(intake))
    if not args.quiet:
        for note in intake.notes:
            print(f"warning: {note}", file=sys.stderr)
    printer = _ResultPrinter(args.json, args.quiet, args.verbose)
    settings = Settings(out=out, gradebook=Path(args.gradebook) if args.gradebook else out / "gradebook.sqlite",
                        workers=args.workers, force=args.force, fallback=not args.no_fallback,
                        limits=dict(args.limit or []), contain=not args.no_contain,
                        options={k: v for k, v in vars(args).items() if k != "run"})
    try:
        summary = run_class(intake, catalog, settings, on_result=printer,
                            progress=None if args.quiet else Progress())
    except KeyboardInterrupt:  # a second Ctrl-C while the first one was being handled
        printer.close()
        print("interrupted; students finished so far are in the gradebook", file=sys.stderr)
        return EXIT_INTERRUPTED
    printer.close()
    if not args.json and not args.quiet:
        print(format_summary(summary, out=out, gradebook=settings.gradebook))
    if summary.status == "interrupted":
        print(f"interrupted: {summary.graded} notebooks graded in this run are kept in {settings.gradebook}; "
              "run the same command again to grade the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if summary.failed or summary.unmatched_notebooks else EXIT_OK


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


def _assignments_folder(notebook: Path, given: str | None) -> Path:
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
        raise FileNotFoundError(
            f"no public checks for {notebook.name}: neither its folder nor ./assignments has "
            f"'{RELEASED_CHECKS_DIR}/', and the student package is not installed (pip install the "
            f"{DISTRIBUTION}-….whl from the released assignments, or give --assignments FOLDER)")
    return bundled


def cmd_check(args: argparse.Namespace) -> int:
    from grader.grading.catalog import Catalog
    from grader.grading.grade import grade_notebook

    notebook = Path(args.notebook)
    if not notebook.is_file():
        what = "is a folder; grader check takes one notebook" if notebook.is_dir() else "no such file"
        print(f"error: nothing to grade: {notebook}: {what}", file=sys.stderr)
        return EXIT_USAGE
    catalog = Catalog(_assignments_folder(notebook, args.assignments))
    result = grade_notebook(notebook, catalog, student=args.student)
    report = _write_reports([result], Path(args.out))[0]
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_table(result))
        print(f"report: {report}")
    ok = result.status is NotebookStatus.GRADED and all(c.status.passed for c in result.checks)
    return EXIT_OK if ok else EXIT_SOME_FAILED


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
    for note in result.flags + result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def cmd_release(args: argparse.Namespace) -> int:
    from grader.grading.release import release

    for path in release(Path(args.solutions), Path(args.out)):
        print(path)
    return EXIT_OK


def _limit(text: str):
    from grader.kernel.containment import parse_limit

    try:
        return parse_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade Jupyter assignments by their marked regions.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="instructors: every check, JSON and HTML per student, a gradebook",
                       description="Grade folders, notebooks or LMS zip downloads. Exit codes: 0 every notebook "
                                   "graded, 1 some could not be graded (or a notebook matched no student), "
                                   "2 usage error, 3 an assignment's own solution fails its checks, "
                                   "130 interrupted (finished students are kept).")
    g.add_argument("paths", nargs="+", help="notebooks, folders searched for files, or .zip downloads")
    g.add_argument("--solutions", default="solutions", help="instructor folder (default: solutions)")
    g.add_argument("--out", default="reports", help="where results and reports go (default: reports)")
    g.add_argument("--preset", choices=("auto", "canvas", "moodle", "folders", "flat"), default="auto",
                   help="how file names tell the student (default: auto, recognised per source)")
    g.add_argument("--pattern", help="regular expression with named groups student (required), id, "
                                     "assignment, attempt, late; searched in each file's path in its source")
    g.add_argument("--roster", help="CSV with columns among name,lms_id,sis_id,sis_login,section,email,username")
    g.add_argument("--workers", type=int, help="students graded at once (default: one more than the CPU cores)")
    g.add_argument("--force", action="store_true", help="grade again even what the gradebook has graded")
    g.add_argument("--gradebook", help="SQLite gradebook (default: OUT/gradebook.sqlite)")
    g.add_argument("--assignment", help="grade as this assignment instead of recognising it")
    g.add_argument("--student", help="student name (default: from the file's name or folder)")
    g.add_argument("--no-fallback", action="store_true",
                   help="do not grade a whole definition when a function's markers were deleted")
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

    c = sub.add_parser("check", help="students: public checks on one notebook, no solutions needed")
    c.add_argument("notebook")
    c.add_argument("--assignments", help="released folder (default: the notebook's, else ./assignments, "
                                         "else the installed student package's)")
    c.add_argument("--out", default="reports")
    c.add_argument("--student", default=None)
    c.add_argument("--json", action="store_true")
    c.set_defaults(run=cmd_check)

    r = sub.add_parser("release", help="build assignments/ from solutions/")
    r.add_argument("--solutions", default="solutions")
    r.add_argument("--out", default="assignments")
    r.set_defaults(run=cmd_release)

    from grader.lms import export, gradescope
    export.add_parser(sub)
    gradescope.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from grader.grading.reference import ReferenceError

    try:
        return args.run(args)
    except ReferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ASSIGNMENT
    except KeyError as exc:  # str() of a KeyError adds quotes
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
