"""Run built notebooks in one contained kernel per student, driven by nbclient.

A *job* is one notebook's worth of work: the definition cells, then every check.
All of a student's jobs run in one kernel, one nbclient cell per job; inside the
kernel the harness (``harness.py``) times each check on its own and writes what it
returned to a file. If the kernel dies or a job overruns, a fresh kernel carries on
after the check that was running; the check is marked as a crash or a timeout.
Only the checks still waiting when a notebook's time budget runs out are lost.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.kernel.containment import Limits, kernel_uid
from grader.core.codec import decode, encode, read_npz, write_npz
from grader.kernel.harness import kernel_setup_source, run_job_source

TIMEOUT_ENAME = "GraderTimeout"
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Call:
    check: str
    function: str
    kwargs: dict[str, Any]
    seed: int | None = None
    observe: tuple[str, ...] = ()


@dataclass
class Job:
    """One notebook for the kernel: cells to define, checks to call."""

    cells: list[str]
    calls: list[Call]
    files: list[Path]
    defines: dict[int, list[str]] = field(default_factory=dict)  # cell index -> functions it defines
    inputs: Path | None = None  # a ready inputs file for these calls (shared, read-only)
    limits: Limits = field(default_factory=Limits)


@dataclass
class Execution:
    outputs: dict[str, dict] = field(default_factory=dict)  # check -> decoded harness output
    cell_errors: dict[int, dict] = field(default_factory=dict)  # definition cell -> error
    kernel_error: str = ""
    seconds: float = 0.0
    containment: dict = field(default_factory=dict)
    restarts: int = 0
    output_chars: int = 0
    notes: list[str] = field(default_factory=list)
    failed: bool = False  # no kernel could run this notebook: a fault of the grading machine


@dataclass
class Options:
    """How kernels are started: contained and forked by default."""

    hidden: list[str] = field(default_factory=list)  # folders no kernel may see
    fork: bool = sys.platform.startswith("linux")  # elsewhere forking a loaded interpreter is unsafe
    contain: bool = True


def write_inputs(calls: list[Call], path: Path) -> Path:
    arrays: list = []
    skeleton = {c.check: {"function": c.function, "kwargs": encode(c.kwargs, arrays),
                          "seed": c.seed, "observe": list(c.observe)} for c in calls}
    write_npz(str(path), skeleton, arrays)
    return path


def execute_jobs(jobs: list[Job], options: Options | None = None) -> list[Execution]:
    """All of one student's notebooks, in one kernel (restarted only when needed)."""
    options = options or Options()
    workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
    try:
        dirs = [_prepare(job, workdir / f"job{i}") for i, job in enumerate(jobs)]
        results = [Execution() for _ in jobs]
        asyncio.run(_run(jobs, dirs, results, workdir, options))
        for job, job_dir, result in zip(jobs, dirs, results):
            _collect_job(job, job_dir, result)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare(job: Job, job_dir: Path) -> Path:
    (job_dir / "out").mkdir(parents=True)
    for path in job.files:
        shutil.copy2(path, job_dir / path.name)
    if job.inputs is not None:
        try:
            os.link(job.inputs, job_dir / "inputs.npz")  # shared and read-only: no copy per student
        except OSError:
            shutil.copy2(job.inputs, job_dir / "inputs.npz")
    else:
        write_inputs(job.calls, job_dir / "inputs.npz")
    spec = {"cells": job.cells, "defines": {str(k): v for k, v in job.defines.items()},
            "checks": [c.check for c in job.calls], "check_seconds": job.limits.cell_seconds,
            "output_chars": job.limits.output_bytes}
    (job_dir / "job.json").write_text(json.dumps(spec), encoding="utf-8")
    return job_dir


class _Client(NotebookClient):
    """nbclient with a ceiling on what a kernel may print into the grader's memory."""

    output_budget = MAX_OUTPUT_BYTES

    def output(self, outs, msg, display_id, cell_index):
        self.output_budget -= len(json.dumps(msg.get("content", {})))
        if self.output_budget < 0:
            return None
        return super().output(outs, msg, display_id, cell_index)


async def _run(jobs: list[Job], dirs: list[Path], results: list[Execution], workdir: Path, options: Options) -> None:
    from grader.kernel.kernels import Sandbox, kernel_manager

    limits = jobs[0].limits if jobs else Limits()
    pending = list(range(len(jobs)))
    stopped_by: dict[int, str | None] = {i: None for i in pending}
    hidden = [h for h in options.hidden if h]
    while pending:
        sandbox = Sandbox(workdir, limits.updated(contain=options.contain and limits.contain), hidden,
                          uid=kernel_uid(), fork=options.fork)
        km = kernel_manager(sandbox)
        # What nbclient sees: one cell per notebook; the first also installs the harness.
        cells = [run_job_source(str(d)) for d in dirs]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
        setup = kernel_setup_source()
        client = _Client(nb, km=km, timeout=STARTUP_SECONDS, allow_errors=True, record_timing=False,
                         startup_timeout=STARTUP_SECONDS)
        try:
            try:
                async with client.async_setup_kernel():
                    for i in pending:
                        results[i].containment = km.containment.to_dict()
                    while pending:
                        i = pending[0]
                        budget = jobs[i].limits.submission_seconds - results[i].seconds
                        if budget <= 0:
                            results[i].kernel_error = (f"stopped after {jobs[i].limits.submission_seconds:g} s "
                                                       "(the time limit for a whole notebook)")
                            pending.pop(0)
                            continue
                        cell = nbformat.v4.new_code_cell(setup + run_job_source(str(dirs[i]), stopped_by[i]))
                        setup = ""
                        client.timeout = max(1, math.ceil(budget))  # nbclient takes whole seconds
                        started = time.perf_counter()
                        try:
                            await client.async_execute_cell(cell, i)
                        finally:
                            results[i].seconds += time.perf_counter() - started
                        error = _cell_error(cell)
                        if error and not (dirs[i] / "out" / "done.json").exists():
                            results[i].kernel_error = f"the grader's harness failed: {error['ename']}: {error['evalue']}"
                        pending.pop(0)
            finally:
                await _stop(km)
        except CellTimeoutError:
            stopped_by[pending[0]] = "timeout"
            results[pending[0]].restarts += 1
        except DeadKernelError:
            stopped_by[pending[0]] = "died"
            results[pending[0]].restarts += 1
        except Exception as exc:  # the kernel never started, or nbclient failed: say so, lose nothing
            reason = f"the kernel failed: {type(exc).__name__}: {exc}"
            for i in pending:
                results[i].kernel_error, results[i].failed = reason, True
            return


async def _stop(km) -> None:
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # already gone
        pass
    try:
        await km._async_cleanup_resources()
    except Exception:
        pass


def _cell_error(cell) -> dict | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return {"ename": output.get("ename", ""), "evalue": output.get("evalue", "")}
    return None


def _collect_job(job: Job, job_dir: Path, result: Execution) -> None:
    out = job_dir / "out"
    for path in out.glob("cell-*.json"):
        try:
            result.cell_errors[int(path.stem.split("-")[1])] = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            pass
    try:
        result.output_chars = json.loads((out / "done.json").read_text()).get("output_chars", 0)
    except (ValueError, OSError):
        pass
    if result.output_chars > job.limits.output_bytes:
        result.notes.append(f"the notebook printed {result.output_chars:,} characters; "
                            f"only the first {job.limits.output_bytes:,} were kept")
    if result.restarts:
        result.notes.append(f"the kernel was restarted {result.restarts} time(s) after a crash or timeout")
    for call in job.calls:
        result.outputs[call.check] = _collect(out / f"{call.check}.npz", result)


def _collect(path: Path, result: Execution) -> dict:
    """The harness's output for one check, or what became of it instead."""
    if path.exists():
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            return {"status": "error", "ename": "OutputTooLarge",
                    "evalue": f"the function returned more than {MAX_OUTPUT_BYTES // 2**20} MB", "traceback": []}
        try:
            skeleton, arrays = read_npz(str(path))
            output = decode(skeleton, arrays)
            if not isinstance(output, dict) or output.get("status") not in ("ok", "error", "timeout"):
                raise ValueError("not a harness output")
            return output
        except Exception as exc:  # written by student-controlled code: trust nothing
            return {"status": "error", "ename": "UnreadableOutput",
                    "evalue": f"the result could not be read back ({type(exc).__name__})", "traceback": []}
    if path.with_suffix(".started").exists():
        return {"status": "error", "ename": "NoResult", "evalue": "the check started but never finished "
                "(the notebook's time limit ran out)", "traceback": []}
    return {"status": "error", "ename": "NoResult",
            "evalue": "the check did not run (" + (result.kernel_error or "the kernel stopped earlier") + ")",
            "traceback": []}
