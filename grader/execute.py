"""Run a built notebook with nbclient: the definitions, then one cell per check.

The kernel receives inputs in a file and writes each check's output to a file of
its own (``harness.py``); a cell that times out or a kernel that dies costs only
the checks that had not written their output yet.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from .harness import check_call_source, decode, encode, kernel_setup_source, read_npz, write_npz

TIMEOUT_ENAME = "GraderTimeout"
MAX_OUTPUT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Call:
    check: str
    function: str
    kwargs: dict[str, Any]
    seed: int | None = None
    observe: tuple[str, ...] = ()


@dataclass
class Execution:
    outputs: dict[str, dict] = field(default_factory=dict)  # check -> decoded harness output
    cell_errors: dict[int, dict] = field(default_factory=dict)  # definition cell -> error
    kernel_error: str = ""
    seconds: float = 0.0


def _cell_error(cell) -> dict | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return {"ename": output.get("ename", ""), "evalue": output.get("evalue", "")}
    return None


def kernel_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"  # no display; plots in given code must not fail
    env["PYTHONHASHSEED"] = "0"
    return env


def execute(
    cells: list[str], calls: list[Call], files: list[Path], *,
    cell_timeout: float, kernel_name: str = "python3",
) -> Execution:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
    try:
        for path in files:
            shutil.copy2(path, workdir / path.name)
        out_dir = workdir / "out"
        out_dir.mkdir()
        inputs_path = workdir / "inputs.npz"
        arrays: list = []
        skeleton = {
            c.check: {"function": c.function, "kwargs": encode(c.kwargs, arrays),
                      "seed": c.seed, "observe": list(c.observe)}
            for c in calls
        }
        write_npz(str(inputs_path), skeleton, arrays)

        sources = [kernel_setup_source(str(inputs_path), str(out_dir)), *cells]
        sources += [check_call_source(c.check) for c in calls]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": "python"}
        result = Execution()
        client = NotebookClient(
            nb, timeout=cell_timeout, kernel_name=kernel_name, allow_errors=True,
            interrupt_on_timeout=True, record_timing=False, shutdown_kernel="immediate",
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"no answer within {cell_timeout:g} s",
                              "traceback": []},
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            # The kernel's own stderr is noise for a grader's user (transport warnings).
            client.execute(env=kernel_environment(), stderr=subprocess.DEVNULL)
        except DeadKernelError:
            result.kernel_error = "the kernel died (a crash, os._exit or a kill)"
        except Exception as exc:  # nbclient and jupyter_client raise many kinds
            result.kernel_error = f"the kernel failed: {type(exc).__name__}: {exc}"

        first_check_cell = 1 + len(cells)
        for index in range(1, first_check_cell):
            error = _cell_error(nb.cells[index])
            if error:
                result.cell_errors[index - 1] = error
        for offset, call in enumerate(calls):
            result.outputs[call.check] = _collect(out_dir / f"{call.check}.npz", nb.cells[first_check_cell + offset])
        result.seconds = time.perf_counter() - started
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _collect(path: Path, cell) -> dict:
    """The harness's output for one check, or what became of the cell instead."""
    if path.exists():
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            return {"status": "error", "ename": "OutputTooLarge",
                    "evalue": f"the function returned more than {MAX_OUTPUT_BYTES // 2**20} MB", "traceback": []}
        try:
            skeleton, arrays = read_npz(str(path))
            return decode(skeleton, arrays)
        except Exception as exc:  # written by student-controlled code: trust nothing
            return {"status": "error", "ename": "UnreadableOutput",
                    "evalue": f"the result could not be read back ({type(exc).__name__})", "traceback": []}
    error = _cell_error(cell)
    if error and error["ename"] == TIMEOUT_ENAME:
        return {"status": "timeout", "ename": TIMEOUT_ENAME, "evalue": error["evalue"], "traceback": []}
    if error:
        return {"status": "error", **error, "traceback": []}
    return {"status": "error", "ename": "NoResult", "evalue": "the check did not run (the kernel stopped earlier)",
            "traceback": []}
