"""The ``grader`` command: a thin layer over the library.

Exit codes: 0 done (for ``check``: every public check passes); 1 some submission
could not be graded, or (``check``) some public check fails; 2 usage error;
3 the assignment itself is broken (its solution fails its own checks).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_ASSIGNMENT = 0, 1, 2, 3


def _notebooks(paths: list[str]) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def _summary_line(result: dict) -> str:
    title = (result.get("assignment") or {}).get("title", "?")
    if result["status"] != "graded":
        return f"{result['student']:<16} {Path(result['source']['path']).name:<32} {result['status']}: {result['message']}"
    return f"{result['student']:<16} {title:<32} {result['score']:g} / {result['max_score']:g}"


def _write_reports(results: list[dict], out: Path) -> list[Path]:
    from .render import safe_file_name, write_student_report
    from .results import write_result

    by_student: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_student[result["student"]].append(result)
        stem = Path(result["source"]["path"]).stem
        write_result(result, out / safe_file_name(result["student"]) / f"{safe_file_name(stem)}.json")
    return [write_student_report(rs, out, student=s) for s, rs in by_student.items()]


def cmd_grade(args: argparse.Namespace) -> int:
    from .assignment import Catalog
    from .grading import grade_notebook

    catalog = Catalog(Path(args.solutions))
    if catalog.mode != "instructor":
        print(f"error: {args.solutions} holds no check specifications (*.checks.py)", file=sys.stderr)
        return EXIT_USAGE
    results = []
    for path in _notebooks(args.paths):
        result = grade_notebook(path, catalog, assignment=args.assignment, student=args.student,
                                fallback=not args.no_fallback)
        results.append(result)
        if not args.json and not args.quiet:
            print(_summary_line(result), flush=True)
    reports = _write_reports(results, Path(args.out))
    if args.json:
        json.dump(results, sys.stdout, indent=1, default=str)
        print()
    elif not args.quiet:
        print(f"{len(results)} notebooks graded; {len(reports)} reports under {args.out}/")
    return EXIT_SOME_FAILED if any(r["status"] != "graded" for r in results) else EXIT_OK


def _assignments_folder(notebook: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    if (notebook.parent / "checks").is_dir():
        return notebook.parent
    return Path("assignments")


def cmd_check(args: argparse.Namespace) -> int:
    from .assignment import Catalog
    from .grading import grade_notebook

    notebook = Path(args.notebook)
    catalog = Catalog(_assignments_folder(notebook, args.assignments))
    result = grade_notebook(notebook, catalog, student=args.student)
    report = _write_reports([result], Path(args.out))[0]
    if args.json:
        json.dump(result, sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_table(result))
        print(f"report: {report}")
    checks = [c for f in result["functions"] for c in f["checks"]]
    ok = result["status"] == "graded" and all(c["status"] == "passed" for c in checks)
    return EXIT_OK if ok else EXIT_SOME_FAILED


def format_table(result: dict) -> str:
    """A terminal table of every check: function, check, status, points, message."""
    if result["status"] != "graded":
        return f"{result['source']['path']}: {result['message']}"
    rows = [("function", "check", "status", "points", "message")]
    for f in result["functions"]:
        for c in f["checks"]:
            message = c["message"] + (f"  (hint: {c['hint']})" if c.get("hint") else "")
            rows.append((f["name"], c["name"], c["status"], f"{c['points']:g}/{c['max_points']:g}", message))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, sum(widths) + 20))
    title = result["assignment"]["title"]
    lines.append(f"\n{title}: {result['score']:g} / {result['max_score']:g}"
                 + (" (public checks only)" if result["mode"] == "student" else ""))
    for note in result["flags"] + result["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def cmd_release(args: argparse.Namespace) -> int:
    from .release import release

    for path in release(Path(args.solutions), Path(args.out)):
        print(path)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade Jupyter assignments by their marked regions.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="instructors: every check, JSON and HTML per student")
    g.add_argument("paths", nargs="+", help="notebooks, or folders searched for *.ipynb")
    g.add_argument("--solutions", default="solutions", help="instructor folder (default: solutions)")
    g.add_argument("--out", default="reports", help="where results and reports go (default: reports)")
    g.add_argument("--assignment", help="grade as this assignment instead of recognising it")
    g.add_argument("--student", help="student name (default: the notebook's folder name)")
    g.add_argument("--no-fallback", action="store_true",
                   help="do not grade a whole definition when a function's markers were deleted")
    g.add_argument("--json", action="store_true", help="print the results as JSON")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    g.set_defaults(run=cmd_grade)

    c = sub.add_parser("check", help="students: public checks on one notebook, no solutions needed")
    c.add_argument("notebook")
    c.add_argument("--assignments", help="released folder (default: the notebook's, else ./assignments)")
    c.add_argument("--out", default="reports")
    c.add_argument("--student", default=None)
    c.add_argument("--json", action="store_true")
    c.set_defaults(run=cmd_check)

    r = sub.add_parser("release", help="build assignments/ from solutions/")
    r.add_argument("--solutions", default="solutions")
    r.add_argument("--out", default="assignments")
    r.set_defaults(run=cmd_release)

    from . import export, gradescope
    export.add_parser(sub)
    gradescope.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .reference import ReferenceError

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
