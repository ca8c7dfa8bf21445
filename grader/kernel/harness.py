"""The code that runs inside the student's kernel.

This file must import nothing but the standard library, NumPy and the codec: its source
is sent to the kernel as the first cell, after the codec's (see ``kernel_setup_source``),
so the kernel has no need of the grader package (which it cannot see).
"""
import json
import os
import re
import time
import traceback

import numpy as np

from grader.core.codec import decode, encode, write_npz  # in the kernel: the codec's own source

HARNESS_FILENAME = "<grader-harness>"
# Once a function has run out of time, each of its further checks gets at most this long.
AFTER_TIMEOUT_SECONDS = 2.0


def _frames(exc):
    """The traceback without the harness's own frames."""
    frames = []
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename == HARNESS_FILENAME:
            continue
        frames.append({"file": fr.filename, "line": fr.lineno, "function": fr.name, "code": fr.line or ""})
    return frames


class CheckTimeout(KeyboardInterrupt):
    """Raised in the kernel when one check runs past its time (a KeyboardInterrupt, so that
    ``invoke`` reports it as a timeout)."""


class _CappedStream:
    """Printed text up to a budget shared by stdout and stderr; the rest is dropped."""

    def __init__(self, stream, budget):
        self.stream, self.budget = stream, budget

    def write(self, text):
        text = str(text)
        left = self.budget[0]
        if left > 0:
            self.stream.write(text[:left])
            if len(text) > left:
                self.stream.write("\n[grader: printed output cut here]\n")
        self.budget[0] = left - len(text)
        return len(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class KernelHarness:
    """Runs one notebook's job inside the kernel: its cells, then every check in order.

    A job is a folder holding ``job.json`` (cells, which functions each cell defines,
    the checks, the time per check), the inputs and the assignment's files. Each check
    writes ``out/<check>.npz``; ``out/<check>.started`` marks the check that was running
    if the kernel is stopped, so that a fresh kernel can carry on after it.
    """

    def __init__(self):
        self.job_dirs = []
        self.timed_out = set()  # functions that ran out of time in the current job
        self.written = {}  # result file -> (stamp, what was written), to undo tampering

    def run_job(self, job_dir, stopped_by=None):
        import builtins
        import linecache
        import signal
        import sys

        with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
            job = json.load(fh)
        out_dir = os.path.join(job_dir, "out")
        self._enter(job_dir, sys)
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.timed_out, self.written = set(), {}
        graded = {}
        budget = [job.get("output_chars", 1 << 20)]
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _CappedStream(sys.stdout, budget), _CappedStream(sys.stderr, budget)

        def on_alarm(signum, frame):
            raise CheckTimeout("no answer within %g s" % job["check_seconds"])

        signal.signal(signal.SIGALRM, on_alarm)
        clock = {"started": time.perf_counter()}
        try:
            shell = _ipython()
            for index, source in enumerate(job["cells"]):
                name = "<cell %d>" % index
                if shell is not None and ("%" in source or "!" in source):
                    source = shell.transform_cell(source)  # magics and shell escapes, as in a notebook
                linecache.cache[name] = (len(source), None, source.splitlines(True), name)
                signal.setitimer(signal.ITIMER_REAL, job["check_seconds"])
                try:
                    exec(compile(source, name, "exec"), namespace)
                except BaseException as exc:  # a cell's error costs only the functions it defines
                    _write_json(os.path.join(out_dir, "cell-%d.json" % index),
                                {"ename": type(exc).__name__, "evalue": str(exc)[:1000]})
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                # Graded as defined here: a later redefinition elsewhere changes nothing.
                for function in job["defines"].get(str(index), []):
                    if callable(namespace.get(function)):
                        graded[function] = namespace[function]
            clock["defined"] = time.perf_counter()
            with np.load(os.path.join(job_dir, "inputs.npz"), allow_pickle=False) as data:
                calls = json.loads(str(data["skeleton"]))
                for check in job["checks"]:
                    self._check(check, calls[check], data, graded, out_dir, job["check_seconds"], stopped_by)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        self._restore_outputs()
        _write_json(os.path.join(out_dir, "done.json"), {
            "output_chars": job.get("output_chars", 0) - budget[0],
            "define_seconds": clock["defined"] - clock["started"],
            "check_seconds": time.perf_counter() - clock["defined"]})

    def _check(self, check, spec, data, graded, out_dir, seconds, stopped_by):
        import signal

        out_path = os.path.join(out_dir, check + ".npz")
        started = os.path.join(out_dir, check + ".started")
        if os.path.exists(out_path):
            return
        if os.path.exists(started):  # the check that was running when the last kernel stopped
            timed_out = stopped_by == "timeout"
            if timed_out:
                self.timed_out.add(spec["function"])
            write_npz(out_path, encode({
                "status": "timeout" if timed_out else "error",
                "ename": "GraderTimeout" if timed_out else "KernelDied",
                "evalue": "no answer within the time limit" if timed_out else
                "the kernel died during this check (a crash, os._exit, a kill or a limit)",
                "traceback": []}, None), [])
            return
        open(started, "w").close()
        kwargs = decode(spec["kwargs"], data)  # a fresh copy for every call; only this check's arrays
        function = graded.get(spec["function"]) or _undefined(spec["function"])
        if spec["function"] in self.timed_out:  # it looped once: its other checks get a short leash
            seconds = min(seconds, AFTER_TIMEOUT_SECONDS)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            # SystemExit and the like are errors; CheckTimeout (a KeyboardInterrupt) a timeout.
            out = invoke(function, kwargs, spec.get("seed"), spec.get("observe", []), catch=BaseException)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if out["status"] == "timeout":
            self.timed_out.add(spec["function"])
        out_arrays = []
        try:
            skeleton_out = encode(out, out_arrays)
        except Exception as exc:  # an output we cannot even describe
            skeleton_out = encode({"status": "error", "ename": type(exc).__name__,
                                   "evalue": "the result could not be sent back: %s" % exc, "traceback": []}, None)
            out_arrays = []
        write_npz(out_path, skeleton_out, out_arrays)
        self.written[out_path] = (_stamp(out_path), skeleton_out, out_arrays)

    def _restore_outputs(self):
        """Rewrite any result file that code run after it changed (a student spoiling files)."""
        for path, (stamp, skeleton, arrays) in self.written.items():
            if _stamp(path) != stamp:
                write_npz(path, skeleton, arrays)

    def _enter(self, job_dir, sys):
        """Work in the job's folder; forget modules imported from another job's folder."""
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None) or ""
            if any(origin.startswith(d + os.sep) for d in self.job_dirs):
                del sys.modules[name]
        sys.path[:] = [p for p in sys.path if p not in self.job_dirs and p not in ("", ".")]
        sys.path.insert(0, job_dir)
        self.job_dirs.append(job_dir)
        os.chdir(job_dir)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _write_json(path, data):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _undefined(name):
    def missing(**_):
        raise NameError("%s is not defined" % name)
    return missing


def invoke(function, kwargs, seed=None, observe=(), catch=Exception):
    """Call one graded function as a check does; return what happened as plain data."""
    started = time.perf_counter()
    try:
        if seed is not None:
            np.random.seed(seed)
        value = function(**kwargs)
        out = {"status": "ok", "value": value, "observed": {name: kwargs.get(name) for name in observe}}
    except catch as exc:
        out = {"status": "timeout" if isinstance(exc, KeyboardInterrupt) else "error",
               "ename": type(exc).__name__, "evalue": str(exc)[:1000], "traceback": _frames(exc)}
    out["seconds"] = time.perf_counter() - started
    return out


CODEC_IMPORT = re.compile(r"^from grader\.core\.codec import .*$", re.M)


def kernel_setup_source():
    """The first cell of every kernel: the codec, then the harness, installed as ``__grader__``.

    Both are compiled under one file name, so a student's traceback never shows them.
    """
    from grader.core import codec

    with open(codec.__file__, encoding="utf-8") as fh:
        source = fh.read()
    with open(__file__, encoding="utf-8") as fh:
        source += "\n" + CODEC_IMPORT.sub("pass", fh.read(), count=1)
    return (
        "__grader_ns__ = {'__name__': '__grader_harness__'}\n"
        f"exec(compile({source!r}, {HARNESS_FILENAME!r}, 'exec'), __grader_ns__)\n"
        "__grader__ = __grader_ns__['KernelHarness']()\n"
        "del __grader_ns__\n"
    )


def run_job_source(job_dir, stopped_by=None):
    return f"__grader__.run_job({job_dir!r}, {stopped_by!r})"
