"""The code that runs inside the student's kernel.

This file must import nothing but the standard library, NumPy, the codec and the guard:
the kernel has no grader package (it cannot see it). The sources of the codec, the guard
and this file are run as one module (``load_harness``) by the process that kernels are
forked from (or by the launcher, before it contains itself), before any student code and
the same for every kernel; the kernel finds that namespace ready, and its first cell only
makes the harness (``kernel_setup_source``), so nothing is compiled again per kernel.

Everything the harness calls is bound when it loads, before any student code runs, and
after every step the guard (``guard.py``) checks that student code left the kernel as it
was. When a check changed it, the harness puts back what it can, writes that check's
result, and ends the kernel: a fresh one runs the remaining checks, as after a crash.
"""
import builtins
import json
import linecache
import os
import re
import signal
import sys
import time
import traceback

import numpy as np

from grader.core.codec import decode, encode, read_values, write_values  # in the kernel: the codec's own source
from grader.kernel.guard import KernelGuard  # in the kernel: the guard's own source

HARNESS_FILENAME = "<grader-harness>"
# What the harness writes a check's result with, and how it ends a kernel: bound now.
_json_dump, _json_load, _exists, _join, _replace, _exit = (json.dump, json.load, os.path.exists, os.path.join,
                                                           os.replace, os._exit)
_open, _seed, _setitimer, _signal, _getsignal = open, np.random.seed, signal.setitimer, signal.signal, signal.getsignal
_perf_counter, _utime, _os_open, _pwrite, _close = time.perf_counter, os.utime, os.open, os.pwrite, os.close
_STEP_FLAGS = os.O_WRONLY | os.O_CREAT
_exec, _compile = exec, compile
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
    writes ``out/<check>.values``; ``out/step`` names the check that was running if the
    kernel is stopped (``running_check``), so that a fresh kernel can carry on after it.
    """

    def __init__(self):
        self.guard = KernelGuard(globals())  # before any student code: the kernel as it should stay
        self.job_dirs = []
        self.timed_out = set()  # functions that ran out of time in the current job
        self.written = {}  # result file -> (stamp, what was written), to undo tampering
        self.projections = {}  # "module:function" -> the function, loaded before the job's cells

    def run_job(self, job_dir, stopped_by=None):
        with _open(_join(job_dir, "job.json"), encoding="utf-8") as fh:
            job = _json_load(fh)
        out_dir = _join(job_dir, "out")
        interrupted = running_check(out_dir)  # read before this kernel's first step writes over it
        self._enter(job_dir)
        self.projections = _load_projections(job_dir, job.get("projections", []))
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.timed_out, self.written = set(), {}
        graded = {}
        budget = [job.get("output_chars", 1 << 20)]
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _CappedStream(sys.stdout, budget), _CappedStream(sys.stderr, budget)

        def on_alarm(signum, frame):
            raise CheckTimeout("no answer within %g s" % job["check_seconds"])

        self.on_alarm = on_alarm
        _signal(signal.SIGALRM, on_alarm)
        self.guard.remember_job_state()
        clock = {"started": _perf_counter()}
        try:
            shell = _ipython()
            for index, source in enumerate(job["cells"]):
                _mark(out_dir)
                name = "<cell %d>" % index
                if shell is not None and ("%" in source or "!" in source):
                    source = shell.transform_cell(source)  # magics and shell escapes, as in a notebook
                linecache.cache[name] = (len(source), None, source.splitlines(True), name)
                _setitimer(signal.ITIMER_REAL, job["check_seconds"])
                try:
                    exec(compile(source, name, "exec"), namespace)
                except BaseException as exc:  # a cell's error costs only the functions it defines
                    _write_json(_join(out_dir, "cell-%d.json" % index),
                                {"ename": type(exc).__name__, "evalue": str(exc)[:1000]})
                finally:
                    _setitimer(signal.ITIMER_REAL, 0)
                # A student's definition line (markers deleted) ran here: a fresh kernel would run
                # it again, so what it changed is put back and reported, and grading goes on.
                self._guarded(out_dir, "cell-%d" % index, job["defines"].get(str(index), []))
                # Graded as defined here: a later redefinition elsewhere changes nothing.
                for function in job["defines"].get(str(index), []):
                    if callable(namespace.get(function)):
                        graded[function] = namespace[function]
            clock["defined"] = _perf_counter()
            calls, data = read_values(_join(job_dir, "inputs.values"))
            for check in job["checks"]:
                self._check(check, calls[check], data, graded, out_dir, job["check_seconds"], stopped_by,
                            check == interrupted)
        finally:
            _setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        self._restore_outputs()
        _write_json(_join(out_dir, "done.json"), {
            "output_chars": job.get("output_chars", 0) - budget[0],
            "define_seconds": clock["defined"] - clock["started"],
            "check_seconds": _perf_counter() - clock["defined"]})

    def _guarded(self, out_dir, step, functions):
        """Put back what the step changed; report it for ``functions``. True when it changed anything."""
        changed = self.guard.changed()
        if _getsignal(signal.SIGALRM) is not self.on_alarm:
            changed.append("the SIGALRM handler")
            _signal(signal.SIGALRM, self.on_alarm)
        if not changed:
            return False
        self.guard.restore()
        _write_json(_join(out_dir, "changed-%s.json" % step), {"functions": functions, "changed": changed})
        return True

    def _check(self, check, spec, data, graded, out_dir, seconds, stopped_by, interrupted):
        out_path = _join(out_dir, check + ".values")
        if _exists(out_path):
            return
        if interrupted:  # the check that was running when the last kernel stopped
            timed_out = stopped_by == "timeout"
            if timed_out:
                self.timed_out.add(spec["function"])
            write_values(out_path, encode({
                "status": "timeout" if timed_out else "error",
                "ename": "GraderTimeout" if timed_out else "KernelDied",
                "evalue": "no answer within the time limit" if timed_out else
                "the kernel died during this check (a crash, os._exit, a kill or a limit)",
                "traceback": []}, None), [])
            return
        _mark(out_dir, check)
        kwargs = decode(spec["kwargs"], data)  # a fresh copy for every call; only this check's arrays
        function = graded.get(spec["function"]) or _undefined(spec["function"])
        if spec["function"] in self.timed_out:  # it looped once: its other checks get a short leash
            seconds = min(seconds, AFTER_TIMEOUT_SECONDS)
        _setitimer(signal.ITIMER_REAL, seconds)
        try:
            # SystemExit and the like are errors; CheckTimeout (a KeyboardInterrupt) a timeout.
            out = invoke(function, kwargs, spec.get("seed"), spec.get("observe", []), catch=BaseException)
        finally:
            _setitimer(signal.ITIMER_REAL, 0)
        if out["status"] == "timeout":
            self.timed_out.add(spec["function"])
        out_arrays = []
        try:  # the returned value's own methods are student code too: encoded before the guard looks
            if out["status"] == "ok" and spec.get("project") in self.projections:
                out = self._projected(out, self.projections[spec["project"]])
            skeleton_out = encode(out, out_arrays)
        except BaseException as exc:  # an output we cannot even describe
            skeleton_out = encode({"status": "error", "ename": type(exc).__name__,
                                   "evalue": "the result could not be sent back: %s" % exc, "traceback": []}, None)
            out_arrays = []
        changed = self._guarded(out_dir, check, [spec["function"]])
        write_values(out_path, skeleton_out, out_arrays)
        self.written[out_path] = (_stamp(out_path), skeleton_out, out_arrays)
        if changed:  # what it broke may not be put back (closed sockets, threads): a fresh kernel goes on
            _exit(0)

    @staticmethod
    def _projected(out, project):
        """``out`` with its value replaced by the check's projection, computed as the grader would
        compute it: from the value as the grader would decode it (no object of the student's)."""
        arrays = []
        skeleton = encode(out["value"], arrays)
        value = decode(skeleton, {"a%d" % i: a for i, a in enumerate(arrays)})
        try:
            projected = project(value)
        except Exception as exc:  # the output did not have the expected form: the grader says so
            return {**out, "value": None, "unprojectable": ("%s: %s" % (type(exc).__name__, exc))[:1000]}
        return {**out, "value": projected, "projected": True}

    def _restore_outputs(self):
        """Rewrite any result file that code run after it changed (a student spoiling files)."""
        for path, (stamp, skeleton, arrays) in self.written.items():
            if _stamp(path) != stamp:
                write_values(path, skeleton, arrays)

    def _enter(self, job_dir):
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
    with _open(tmp, "w", encoding="utf-8") as fh:
        _json_dump(data, fh)
    _replace(tmp, path)


def _mark(out_dir, check=None):
    """A step begins: the step file's time tells the grader's watch that the kernel is not silent.

    A check's step also writes the check's name on the file's first line (``running_check``).
    The file is touched or written over in place, never truncated, and created once per job:
    on a journalled disk, creating or truncating a file costs a hundred times more.
    """
    path = _join(out_dir, "step")
    if check is None:
        try:
            _utime(path)
            return
        except OSError:  # not there yet (or removed by student code)
            pass
    fd = _os_open(path, _STEP_FLAGS, 0o644)
    try:
        _pwrite(fd, b"" if check is None else (check + "\n").encode("utf-8"), 0)
    finally:
        _close(fd)


def running_check(out_dir):
    """The check named on the step file's first line: the one running when its kernel stopped
    (or the last one run). None when no check has begun. Student code can write there too:
    the name is only compared with the job's own checks."""
    try:
        with _open(_join(out_dir, "step"), "rb") as fh:
            lines = fh.read(4096).split(b"\n", 1)
    except OSError:
        return None
    return lines[0].decode("utf-8", "replace") if len(lines) == 2 else None


def _load_projections(job_dir, refs):
    """The projections a job's checks name, from the job's own copy of their file, loaded before
    any of its cells run and kept out of ``sys.modules``, so student code cannot swap them. One
    that does not load is left to the grader, which applies it to the full output."""
    found, modules = {}, {}
    for ref in refs:
        module, _, name = ref.partition(":")
        try:
            if module not in modules:
                path = _join(job_dir, module + ".py")
                modules[module] = {"__name__": "__grader_projection_%s__" % module, "__file__": path}
                with _open(path, encoding="utf-8") as fh:
                    _exec(_compile(fh.read(), path, "exec"), modules[module])
            found[ref] = modules[module][name]
        except Exception:
            continue
    return found


def _undefined(name):
    def missing(**_):
        raise NameError("%s is not defined" % name)
    return missing


def invoke(function, kwargs, seed=None, observe=(), catch=Exception):
    """Call one graded function as a check does; return what happened as plain data."""
    started = time.perf_counter()
    try:
        if seed is not None:
            _seed(seed)
        value = function(**kwargs)
        out = {"status": "ok", "value": value, "observed": {name: kwargs.get(name) for name in observe}}
    except catch as exc:
        out = {"status": "timeout" if isinstance(exc, KeyboardInterrupt) else "error",
               "ename": type(exc).__name__, "evalue": str(exc)[:1000], "traceback": _frames(exc)}
    out["seconds"] = time.perf_counter() - started
    return out


# In the kernel, the codec's and the guard's sources come first: their imports become no-ops.
OWN_IMPORTS = re.compile(r"^from grader\.(core\.codec|kernel\.guard) import .*$", re.M)
# The name under which a kernel finds the loaded harness until its first cell makes ``__grader__``.
LOADED_NAME = "__grader_harness__"


def load_harness():
    """The codec, the guard and the harness run as one module, in a namespace of their own.

    Compiled under one file name, so a student's traceback never shows them. Run where no
    student code has run yet (the fork server, or the launcher before containment): what
    they bind as they load (``json.dumps``, ``os.replace``…) is the genuine article.
    """
    from grader.core import codec
    from grader.kernel import guard

    parts = []
    for module_file in (codec.__file__, guard.__file__, __file__):
        with open(module_file, encoding="utf-8") as fh:
            parts.append(OWN_IMPORTS.sub("pass", fh.read()))
    namespace = {"__name__": "__grader_harness__"}
    exec(compile("\n".join(parts), HARNESS_FILENAME, "exec"), namespace)
    return namespace


def kernel_setup_source():
    """The first cell of every kernel: the harness, made from the loaded module, installed as ``__grader__``.

    Made here rather than when the module loads, so that its guard remembers the kernel as
    ipykernel has it when cells run.
    """
    return f"__grader__ = {LOADED_NAME}['KernelHarness']()\ndel {LOADED_NAME}\n"


def run_job_source(job_dir, stopped_by=None):
    return f"__grader__.run_job({job_dir!r}, {stopped_by!r})"
