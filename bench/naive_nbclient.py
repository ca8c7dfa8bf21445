"""The naive baseline: run each submitted notebook as it is, one fresh kernel per notebook.

What a grader without any of this project's machinery would do: nbclient with its
defaults, every cell top to bottom (errors allowed, so one failing cell does not stop
the rest), a cell time limit, one notebook after the other. Nothing is checked or
scored; only the execution is measured. Prints one line per notebook.

    .venv/bin/python bench/naive_nbclient.py --cwd DIR [--skip-demo-cells] NOTEBOOK...

``--cwd`` is the folder the kernels start in (it must hold the support modules).
"""
from __future__ import annotations

import argparse
import sys
import time

import nbformat
from nbclient import NotebookClient


def run_one(path: str, cwd: str, timeout: float, skip_demo: bool) -> str:
    started = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # the submission, not this script, is broken
        return f"{path}\tunreadable\t{time.perf_counter() - started:.2f}\t{type(exc).__name__}"
    if skip_demo:
        nb.cells = [c for c in nb.cells if "demo" not in c.get("metadata", {}).get("tags", [])]
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": cwd}})
    try:
        client.execute()
        errors = sum(1 for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "error")
        status = f"ran ({errors} cells raised)" if errors else "ran"
    except Exception as exc:  # a dead kernel and the like: note it, go on
        status = f"failed: {type(exc).__name__}"
    return f"{path}\t{status}\t{time.perf_counter() - started:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run notebooks as they are, one fresh kernel each.")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--cwd", required=True, help="folder the kernels start in (holds the support modules)")
    p.add_argument("--timeout", type=float, default=30.0, help="cell time limit in seconds (default 30)")
    p.add_argument("--skip-demo-cells", action="store_true", help="leave out cells tagged 'demo'")
    args = p.parse_args(argv)
    for path in args.notebooks:
        print(run_one(path, args.cwd, args.timeout, args.skip_demo_cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
