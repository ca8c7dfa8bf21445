"""Run built notebooks in one contained kernel per student, driven by nbclient.

A *job* is one notebook's worth of work: the definition cells, then every check.
All of a student's jobs run in one kernel, one nbclient cell per job; inside the
kernel the harness (``harness.py``) times each check on its own and writes what it
returned to a file. If the kernel dies or a job overruns, a fresh kernel carries on
after the check that was running; the check is marked as a crash or a timeout.
A kernel whose link to the grader fails (a message nbclient cannot read, a protocol
error, or silence: no step of the harness for longer than a check may take) is ended
the same way, and so is a kernel that a check changed (the harness ends it itself).
Only the checks still waiting when a notebook's time budget runs out are lost.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.core.codec import decode, encode, read_values, write_values
from grader.kernel.containment import Limits, kernel_uid
from grader.kernel.harness import kernel_setup_source, run_job_source, running_check

if TYPE_CHECKING:
    from grader.kernel.kernels import ForkServer

TIMEOUT_ENAME = "GraderTimeout"
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
STARTUP_SECONDS = 60
WATCH_SECONDS = 0.5  # how often the harness's progress is looked at while a job runs
SILENCE_GRACE_SECONDS = 10.0  # beyond two check times without a step: the kernel is silent


class KernelSilent(Exception):
    """The harness took no step for longer than a check may take: the kernel's link is lost."""


@dataclass(frozen=True)
class Call:
    check: str
    function: str
    kwargs: dict[str, Any]
    seed: int | None = None
    observe: tuple[str, ...] = ()
    project: str | None = None  # "module:function" in the job's files, applied in the kernel


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
    flags: list[str] = field(default_factory=list)  # functions that changed the kernel they ran in
    failed: bool = False  # no kernel could run this notebook: a fault of the grading machine


@dataclass
class Options:
    """How kernels are started: contained and forked by default.

    ``server`` is the fork server kernels are forked from, owned by whoever runs kernels for
    a while (a pool worker); without one, ``serving`` starts one for a single call.
    """

    hidden: list[str] = field(default_factory=list)  # folders no kernel may see
    fork: bool = sys.platform.startswith("linux")  # elsewhere forking a loaded interpreter is unsafe
    contain: bool = True
    server: ForkServer | None = field(default=None, compare=False, repr=False)


@contextlib.contextmanager
def serving(options: Options | None) -> Iterator[Options]:
    """``options`` with a fork server to start kernels from: the caller's, or (when forking and
    none was given) one started now and closed, its process gone, when the block ends."""
    options = options or Options()
    if not options.fork or options.server is not None:
        yield options
        return
    from grader.kernel.kernels import ForkServer

    with ForkServer() as server:
        yield replace(options, server=server)


def write_inputs(calls: list[Call], path: Path) -> Path:
    arrays: list = []
    skeleton = {c.check: {"function": c.function, "kwargs": encode(c.kwargs, arrays),
                          "seed": c.seed, "observe": list(c.observe), "project": c.project}
                for c in calls}
    write_values(str(path), skeleton, arrays)
    return path


def execute_jobs(jobs: list[Job], options: Options | None = None) -> list[Execution]:
    """All of one student's notebooks, in one kernel (restarted only when needed)."""
    workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
    try:
        dirs = [_prepare(job, workdir / f"job{i}") for i, job in enumerate(jobs)]
        results = [Execution() for _ in jobs]
        with serving(options) as served:
            asyncio.run(_run(jobs, dirs, results, workdir, served))
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
            os.link(job.inputs, job_dir / "inputs.values")  # shared and read-only: no copy per student
        except OSError:
            shutil.copy2(job.inputs, job_dir / "inputs.values")
    else:
        write_inputs(job.calls, job_dir / "inputs.values")
    spec = {"cells": job.cells, "defines": {str(k): v for k, v in job.defines.items()},
            "checks": [c.check for c in job.calls], "check_seconds": job.limits.cell_seconds,
            "output_chars": job.limits.output_bytes,
            "projections": sorted({c.project for c in job.calls if c.project})}
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
    finished_at_restart: dict[int, int] = {}  # checks finished when each job's kernel was last replaced
    while pending:
        sandbox = Sandbox(workdir, limits.updated(contain=options.contain and limits.contain), hidden,
                          uid=kernel_uid(), server=options.server if options.fork else None)
        km = kernel_manager(sandbox)
        # What nbclient sees: one cell per notebook; the first also installs the harness.
        cells = [run_job_source(str(d)) for d in dirs]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
        setup = kernel_setup_source()
        client = _Client(nb, km=km, timeout=STARTUP_SECONDS, allow_errors=True, record_timing=False,
                         startup_timeout=STARTUP_SECONDS)
        kernel_started = False
        try:
            try:
                async with client.async_setup_kernel():
                    kernel_started = True
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
                            await _execute_watched(client, cell, i, dirs[i] / "out", jobs[i].limits)
                        finally:
                            results[i].seconds += time.perf_counter() - started
                        error = _cell_error(cell)
                        if error and not (dirs[i] / "out" / "done.json").exists():
                            results[i].kernel_error = f"the grader's harness failed: {error['ename']}: {error['evalue']}"
                        pending.pop(0)
            finally:
                await _stop(km, client)
        except (CellTimeoutError, KernelSilent):
            _carry_on(pending, dirs, results, stopped_by, finished_at_restart, "timeout")
        except DeadKernelError:
            _carry_on(pending, dirs, results, stopped_by, finished_at_restart, "died")
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if kernel_started:  # its link failed (a protocol error, an unreadable reply): as after a crash
                _carry_on(pending, dirs, results, stopped_by, finished_at_restart, "died",
                          f"the kernel's messages could not be read ({reason[:200]})")
                continue
            # The kernel never started: a fault of the grading machine. Say so, lose nothing.
            for i in pending:
                results[i].kernel_error, results[i].failed = f"the kernel failed: {reason}", True
            return


async def _execute_watched(client: NotebookClient, cell, index: int, out: Path, limits: Limits) -> None:
    """Run one job's cell; raise ``KernelSilent`` when the harness stops taking steps."""
    silence = 2 * limits.cell_seconds + SILENCE_GRACE_SECONDS
    task = asyncio.ensure_future(client.async_execute_cell(cell, index))
    last, since = _progress(out), time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_SECONDS)
            if done:
                task.result()
                return
            now = _progress(out)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > silence:
                raise KernelSilent(f"no word from the kernel for {silence:g} s")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _progress(out: Path) -> tuple[int, int]:
    """What the harness has written so far: files in its output folder, and its last step."""
    try:
        return len(os.listdir(out)), (out / "step").stat().st_mtime_ns
    except OSError:
        return -1, 0


def _carry_on(pending: list[int], dirs: list[Path], results: list[Execution], stopped_by: dict,
              finished_at_restart: dict[int, int], how: str, why: str = "") -> None:
    """After the running job's kernel was lost: a fresh one carries on, unless it would only fail again."""
    i = pending[0]
    out = dirs[i] / "out"
    if why:
        results[i].notes.append(why)
    if (out / "done.json").exists():  # every check had finished; only the kernel's reply was lost
        pending.pop(0)
        return
    finished = len(list(out.glob("*.values")))
    if finished_at_restart.get(i) == finished:  # the last fresh kernel failed before any check finished
        results[i].kernel_error = "the kernel failed again before any check finished"
        pending.pop(0)
        return
    finished_at_restart[i] = finished
    stopped_by[i] = how
    results[i].restarts += 1


async def _stop(km, client: NotebookClient) -> None:
    """End the kernel and free its sockets: nbclient leaves a client it was handed a manager for open."""
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # already gone
        pass
    try:
        await km._async_cleanup_resources()
    except Exception:
        pass
    # nbclient registers an exit hook per kernel it sets up and never removes it: left there,
    # it would keep this client (notebook, manager, sockets) alive until the process ends, one
    # per student in a worker, and try at exit to stop a kernel already stopped here.
    atexit.unregister(client._cleanup_kernel)
    if client.kc is not None:
        try:
            client.kc.stop_channels()  # its sockets and zmq context: a dozen descriptors per kernel
        except Exception:
            pass
        client.kc = None


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
    result.flags += _kernel_changes(out)
    running = running_check(str(out))
    for call in job.calls:
        result.outputs[call.check] = _collect(out / f"{call.check}.values", result, started=call.check == running)


def _kernel_changes(out: Path) -> list[str]:
    """A flag per function whose code changed the kernel (reported by the harness's guard)."""
    changes: dict[tuple[str, bool], set[str]] = {}
    for path in sorted(out.glob("changed-*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            functions, changed = [str(f) for f in report["functions"]], {str(c) for c in report["changed"]}
        except (ValueError, OSError, KeyError, TypeError):  # the student can write there too: trust nothing
            continue
        during_check = not path.stem.startswith("changed-cell-")
        for function in functions:
            changes.setdefault((function, during_check), set()).update(changed)
    flags = []
    for (function, during_check), changed in changes.items():
        names = sorted(changed)
        what = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        after = ("graded on what it returned; a fresh kernel ran every later check" if during_check
                 else "what it changed was put back before grading went on")
        flags.append(f"{function} changed the grader's kernel ({what}): {after}")
    return flags


def _collect(path: Path, result: Execution, started: bool = False) -> dict:
    """The harness's output for one check, or what became of it instead (``started``: the step
    file names it, so it was running when the last kernel stopped)."""
    if path.exists():
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            return {"status": "error", "ename": "OutputTooLarge",
                    "evalue": f"the function returned more than {MAX_OUTPUT_BYTES // 2**20} MB", "traceback": []}
        try:
            skeleton, arrays = read_values(str(path))
            output = decode(skeleton, arrays)
            if not isinstance(output, dict) or output.get("status") not in ("ok", "error", "timeout"):
                raise ValueError("not a harness output")
            return output
        except Exception as exc:  # written by student-controlled code: trust nothing
            return {"status": "error", "ename": "UnreadableOutput",
                    "evalue": f"the result could not be read back ({type(exc).__name__})", "traceback": []}
    if started:
        return {"status": "error", "ename": "NoResult", "evalue": "the check started but never finished "
                "(the notebook's time limit ran out)", "traceback": []}
    return {"status": "error", "ename": "NoResult",
            "evalue": "the check did not run (" + (result.kernel_error or "the kernel stopped earlier") + ")",
            "traceback": []}
