"""Write the attack fixtures under tests/attacks/: hostile or broken submissions.

Each attack starts from the correct Gradient Checking notebook (the reference code in
every region, as tests/make_submissions.py builds scenarios) and puts the attack inside
a student region, or breaks the file itself. ``attacks.json`` says, for each, the grade
it must get and the text its result must contain; tests/test_attacks.py grades them all
in one batch together with a correct submission. Re-run after changing a solution:

    .venv/bin/python tests/make_attacks.py

Most attacks sit in the last region of gradient_check_n (12 of the 30 points), the
last function graded, so an attack that stops the kernel costs nothing else. Attacks on
the kernel itself (its messaging, the harness's result files, its time limit) sit in
gradient_check's last region (9 points) instead, so that gradient_check_n, graded after
it, shows that such an attack costs only the function it sits in. An attack
that must not do real damage when a limit fails bounds itself (forks, bytes written,
memory) and then returns a value saying it went unhindered, which fails the test.

Words between @@ (paths of the grading machine, a port) are filled in by the test
when it copies a fixture into its batch; everything else is graded as written.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import GC, INIT, _apply_edits, delete_markers_of  # noqa: E402

OUT = Path(__file__).resolve().parent / "attacks"
ASSIGNMENT = "gradient_checking"
POINTS = 30
GCN_POINTS = 12  # gradient_check_n: what an attack confined to it may cost
HARD_CODED = "passes only on the released inputs; the output looks hard-coded"
PUBLIC_GCN_CHECK = "gradient_check_n_given_backprop"


def released_expected(check: str):
    """A public check's expected output, read from the released files like a student would."""
    from grader.core.codec import decode

    data = json.loads((ROOT / "assignments" / "checks" / "Gradient_Checking.json").read_text())
    item = next(c for c in data["checks"] if c["name"] == check)
    return decode(item["expected"], None)["return"].item()


PUBLIC_GCN = repr(released_expected(PUBLIC_GCN_CHECK))
WRONG = "difference = -1.0  # the attack's own answer: wrong"
WRONG_MESSAGE = f"result: is -1, expected {float(PUBLIC_GCN):.8f}"
GC_POINTS = 9  # gradient_check, where the attacks on the kernel itself sit
PUBLIC_GC_CHECK = "gradient_check_x2_theta4"
WRONG_GC_MESSAGE = f"result: is -1, expected {float(released_expected(PUBLIC_GC_CHECK)):.8g}"
KERNEL_CHANGED = "gradient_check changed the grader's kernel"

# Bounds an attack keeps to when a limit fails to stop it (the test sets lower limits).
FORK_CAP = 100
WRITE_CAP_MB = 256
ALLOCATE_GB = 50


@dataclass(frozen=True)
class Attack:
    name: str
    why: str
    score: float  # the grade the result must get
    message: str  # text the result must contain, where ``look_in`` says
    look_in: str = f"check:{PUBLIC_GCN_CHECK}"  # "result", "flags", "notes" or "check:<name>"
    region: str | None = None  # new body of gradient_check_n's last region
    edits: dict = field(default_factory=dict)  # (function, region index) -> body, as in make_submissions
    transform: Callable | None = None  # changes the notebook object
    raw: Callable[[], bytes] | None = None  # the file's bytes, for attacks on the file itself
    status: str = "graded"
    defence: str = ""  # what makes it end well (docs/security.md lists them)
    limits: dict = field(default_factory=dict)  # limits of its own, over the batch's
    generated: bool = False  # too big to commit: written by the test into its batch
    function: str = "gradient_check_n"  # the function the attack sits in (only it may lose points)
    flag: str = ""  # text the result's flags must contain as well
    in_gc: str | None = None  # new body of gradient_check's last region


# ---- notebook transforms ------------------------------------------------------------

def _code_cell_defining(nb, function):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f"def {function}(" in c.source)


def delete_every_marker(nb):
    for function in ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n"):
        delete_markers_of(function)(nb)


def duplicate_a_region(nb):
    """gradient_check_n's last region, markers and all, pasted twice."""
    cell = nb.cells[_code_cell_defining(nb, "gradient_check_n")]
    lines = cell.source.split("\n")
    start = max(i for i, line in enumerate(lines) if "START CODE HERE" in line)
    end = max(i for i, line in enumerate(lines) if "END CODE HERE" in line)
    lines[end + 1:end + 1] = lines[start:end + 1]
    cell.source = "\n".join(lines)


def nest_regions(nb):
    """In gradient_check, the first region's END moved below the second region."""
    cell = nb.cells[_code_cell_defining(nb, "gradient_check")]
    lines = cell.source.split("\n")
    ends = [i for i, line in enumerate(lines) if "END CODE HERE" in line]
    moved = lines.pop(ends[0])
    lines.insert(ends[1], moved)
    cell.source = "\n".join(lines)


def second_copy_hard_coded(nb):
    """A later cell with a copy of gradient_check_n whose last region returns the released answer."""
    index = _code_cell_defining(nb, "gradient_check_n")
    copy = nbformat.v4.new_code_cell(nb.cells[index].source, id="second-copy")
    nb.cells.insert(index + 1, copy)
    _apply_edits_to_cell(copy, "gradient_check_n", 4, f"difference = {PUBLIC_GCN}")


def _apply_edits_to_cell(cell, function, index, body):
    from grader.notebook.build import splice
    from grader.notebook.regions import extract, normalise_source

    text = normalise_source(cell.source)
    found = extract(text, function)
    bodies = [r.body for r in found.regions]
    bodies[index - 1] = body
    cell.source = splice(text, found, bodies, None)


def redefine_in_another_cell(nb):
    """A cell of the student's after gradient_check_n's, replacing it by the released answer."""
    index = _code_cell_defining(nb, "gradient_check_n")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(
        f"gradient_check_n = lambda *args, **kwargs: {PUBLIC_GCN}  # my shortcut", id="shortcut"))


# ---- files that are not notebooks -----------------------------------------------------

def _correct_notebook_text() -> str:
    nb = nbformat.read(str(ROOT / "solutions" / GC), as_version=4)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def invalid_json() -> bytes:
    text = _correct_notebook_text()
    cut = text.index('"cell_type": "code"')
    return (text[:cut] + text[cut:].replace(",", "", 1)).encode()  # one comma missing


def renamed_python() -> bytes:
    nb = nbformat.read(str(ROOT / "solutions" / GC), as_version=4)
    code = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return ("# exported from the notebook as a script, then renamed back to .ipynb\n" + code + "\n").encode()


def wrong_assignment() -> bytes:
    return (ROOT / "solutions" / INIT).read_bytes()


# ---- region code of the attacks ------------------------------------------------------

HONEST = ("numerator = np.linalg.norm(grad - gradapprox)\n"
          "denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)\n"
          "difference = numerator / denominator")

FORK_BOMB = f"""import os, time
children = 0
while children < {FORK_CAP}:  # bounded: a failed process limit cannot take the machine down
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
    children += 1
difference = "forked %d processes unhindered" % children"""

ALLOCATE = f"""blocks = []
for _ in range({ALLOCATE_GB}):  # 1 GB each, never touched: costs address space, not memory
    blocks.append(np.empty(2 ** 30, dtype=np.uint8))
difference = "allocated %d GB unhindered" % len(blocks)"""

BIG_FILE = f"""chunk = b"x" * 2 ** 20
with open("big.bin", "wb") as fh:
    for written in range({WRITE_CAP_MB}):  # real bytes, bounded at {WRITE_CAP_MB} MB of the 10 GB aimed at
        fh.write(chunk)
        fh.flush()
difference = "wrote %d MB unhindered" % (written + 1)"""

PRINT_100_MB = """line = "spam " * 200 + "\\n"
for _ in range(100 * 2 ** 20 // len(line)):
    print(line, end="")
""" + HONEST

READ_SOLUTIONS = """with open("@@SOLUTIONS@@/Gradient_Checking.checks.py") as fh:
    raise RuntimeError("read: " + fh.read(300))"""

READ_GRADEBOOK = """with open("@@GRADEBOOK@@") as fh:
    raise RuntimeError("read: " + fh.read(300))"""

READ_OTHER_STUDENT = """with open("@@OTHER_STUDENT@@") as fh:
    raise RuntimeError("read: " + fh.read(300))"""

WRITE_OUTSIDE = """written = []
for target in ("@@CANARY@@", "@@SOLUTIONS@@/planted.py", "@@REPOSITORY@@/planted.py", "@@OUTSIDE@@"):
    try:
        with open(target, "w") as fh:
            fh.write("written by a student's notebook")
        written.append(target)
    except OSError:
        pass
if written:
    raise RuntimeError("wrote outside the working directory: %s" % written)
""" + HONEST

NETWORK = """import socket
with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=2) as connection:
    connection.sendall(b"a student's notebook calling home")
""" + HONEST

ENVIRONMENT = """import os
found = sorted(value for key, value in os.environ.items()
               if any(word in key.upper() for word in ("SECRET", "TOKEN", "KEY", "PASSWORD")))
raise RuntimeError("secrets seen: %d %s" % (len(found), found))"""

PATCH_NUMPY = """np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
np.testing.assert_equal = lambda *args, **kwargs: None
""" + WRONG

PATCH_PRINT = """import builtins
builtins.print = lambda *args, **kwargs: None
""" + WRONG

PATCH_JSON = f"""import json
if not getattr(json.dumps, "forged", False):
    real_dumps = json.dumps
    def forged_dumps(obj, *args, **kwargs):
        # every result the kernel writes claims success with the released answer
        if isinstance(obj, dict) and "status" in obj:
            obj = dict(obj, status="ok", value={PUBLIC_GCN})
        return real_dumps(obj, *args, **kwargs)
    forged_dumps.forged = True
    json.dumps = forged_dumps
difference = {PUBLIC_GCN}"""

FORGE_CHANNEL = f"""import gc
for harness in [o for o in gc.get_objects() if type(o).__name__ == "KernelHarness"]:
    space = type(harness).__init__.__globals__
    if "real_invoke" not in space:
        space["real_invoke"] = space["invoke"]
        def forged_invoke(function, kwargs, seed=None, observe=(), catch=Exception, _space=space):
            out = _space["real_invoke"](lambda **kw: None, kwargs, seed, observe, catch)
            out.update(status="ok", value={PUBLIC_GCN})
            return out
        space["invoke"] = forged_invoke
difference = {PUBLIC_GCN}"""

PATCH_IPYTHON_PICKLE = """import pickle
pickle.loads = lambda *args, **kwargs: {"status": "ok"}
pickle.load = lambda *args, **kwargs: {"status": "ok"}
shell = get_ipython()
shell.showtraceback = lambda *args, **kwargs: None
shell.run_cell = lambda *args, **kwargs: None
""" + WRONG

FAKE_PASSING_OUTPUT = """from IPython.display import display
print("gradient_check_n_given_backprop  passed  5/5")
print("Gradient Checking: 30 / 30")
display({"application/json": {"status": "passed", "points": 5, "score": 30}}, raw=True)
with open("results.json", "w") as fh:
    fh.write('{"score": 30, "max_score": 30, "status": "graded"}')
""" + WRONG

IMPORT_GRADER = """try:
    import grader, grader.checks.compare, grader.checks.score, grader.grading.grade
    grader.checks.compare.compare = lambda *args, **kwargs: grader.checks.compare.Verdict(1, ())
    grader.checks.score.check_points = lambda *args, **kwargs: 100.0
    grader.grading.grade.judge = lambda *args, **kwargs: {"status": "passed", "points": 100.0}
except Exception:
    pass  # not importable in this kernel: nothing to patch
""" + WRONG

TAMPER_SHARED_FILES = """import glob, os
changed = []
for path in glob.glob(os.path.join(os.getcwd(), "**", "*"), recursive=True):
    if os.path.isfile(path) and not path.endswith((".py", ".json")):
        try:
            os.chmod(path, 0o666)
            with open(path, "r+b") as fh:  # spoil whatever the next student's kernel may read
                fh.seek(64)
                fh.write(b"spoiled by a student")
            changed.append(os.path.basename(path))
        except OSError:
            pass
""" + HONEST

REDEFINE_IN_ANOTHER_REGION = """global gradient_check_n
gradient_check_n = lambda *args, **kwargs: -1.0  # spoils the function graded after this one
J = theta * x"""

HARD_CODED_EDITS = {
    ("forward_propagation", 1): "J = 8",
    ("backward_propagation", 1): "dtheta = 2",
    ("gradient_check", 1): "gradapprox = 2.0",
    ("gradient_check", 2): "grad = 2",
    ("gradient_check", 3): f"difference = {released_expected('gradient_check_x2_theta4')!r}",
    ("gradient_check_n", 1): "pass",
    ("gradient_check_n", 2): "pass",
    ("gradient_check_n", 3): "pass",
    ("gradient_check_n", 4): f"difference = {PUBLIC_GCN}",
}

# ---- attacks on the kernel itself (in gradient_check's last region) --------------------

BREAK_JSON = """import json
json.dumps = lambda *args, **kwargs: "{}"  # every message of the kernel, every result file: "{}"
json.dump = lambda obj, fh, *args, **kwargs: fh.write("{}")
""" + WRONG

BREAK_PICKLE = """import pickle
def broken(*args, **kwargs):
    raise RuntimeError("pickle is broken")
pickle.dumps = pickle.loads = pickle.dump = pickle.load = broken
pickle.Pickler = pickle.Unpickler = broken
""" + WRONG

SILENCE_ZMQ = """import zmq
zmq.Socket.send = lambda *args, **kwargs: None  # the kernel would never answer again
zmq.Socket.send_multipart = lambda *args, **kwargs: None
""" + WRONG

BREAK_OS_WRITE = """import os
os.write = lambda fd, data: len(data)  # every low-level write pretends to succeed
os.replace = os.rename = lambda *args, **kwargs: None
""" + WRONG

BREAK_STDOUT = """import sys
class Broken:
    def write(self, text):
        raise OSError("stdout is broken")
    def flush(self):
        raise OSError("stdout is broken")
sys.stdout = sys.stderr = Broken()
""" + WRONG

STOP_THREADS = """import threading
threading.Thread.start = threading.Thread.run = lambda self: None
threading.Lock = threading.RLock = threading.Event = None
""" + WRONG

CLOSE_FDS = """import os
os.closerange(3, 4096)  # the kernel's sockets among them
""" + WRONG

FORGE_KERNEL_MESSAGES = """import itertools
counter = itertools.count()
kernel = get_ipython().kernel
kernel.session.pack = lambda obj: b'{"forged": %d}' % next(counter)  # no header, no msg_id
""" + WRONG

IGNORE_CHECK_TIMEOUT = """import os, signal
if not os.path.exists("looped-once"):  # the first check only, so that the batch stays short
    open("looped-once", "w").close()
    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the harness's time limit per check, switched off
    while True:
        pass
""" + WRONG

KERNEL_DEFENCE = ("the harness binds what it uses before student code runs; after each check the guard puts "
                  "back what the check replaced, and a fresh kernel runs every later check")
AFTER_GC = POINTS - GC_POINTS

AFTER_GCN = POINTS - GCN_POINTS

ATTACKS = [
    # --- the kernel's time, memory, processes, files
    Attack("infinite_loop", "while True: pass", AFTER_GCN, "did not finish within 2 s",
           region="while True:\n    pass", defence="time limit per check; the kernel is interrupted"),
    Attack("sleep_forever", "time.sleep(10**6)", AFTER_GCN, "did not finish within 2 s",
           region="import time\ntime.sleep(10 ** 6)\n" + HONEST, defence="time limit per check"),
    Attack("whole_notebook_too_slow", "an endless loop in the first function, under a 3 s limit for the "
           "whole notebook: no later check may run", 0, "the time limit for a whole notebook",
           look_in="check:backward_x2_theta4", edits={("forward_propagation", 1): "while True:\n    pass"},
           limits={"submission_seconds": 3.0}, defence="time limit per notebook"),
    Attack("allocate_50_gb", "50 GB of memory, in 1 GB blocks", AFTER_GCN, "MemoryError: Unable to allocate",
           region=ALLOCATE, defence="memory limit (address space)"),
    Attack("fork_bomb", f"fork until the process limit stops it (at most {FORK_CAP})", AFTER_GCN,
           "BlockingIOError: [Errno 11] Resource temporarily unavailable", region=FORK_BOMB,
           # A low process limit fails fast; the time per check is generous, so a busy machine cannot
           # turn the process limit's BlockingIOError into a timeout.
           limits={"processes": 48, "cell_seconds": 20},
           defence="process limit, binding because the kernel runs as a user of its own; "
                   "the user's processes are killed with the kernel"),
    Attack("sys_exit", "sys.exit()", AFTER_GCN, "SystemExit", region="import sys\nsys.exit()",
           defence="the harness catches BaseException"),
    Attack("os_exit", "os._exit(1): the kernel process ends", AFTER_GCN, "KernelDied",
           region="import os\nos._exit(1)", defence="a fresh kernel carries on after the check that killed it"),
    Attack("kill_own_kernel", "os.kill(os.getpid(), 9)", AFTER_GCN, "KernelDied",
           region="import os\nos.kill(os.getpid(), 9)",
           defence="a fresh kernel carries on after the check that killed it"),
    Attack("segfault", "a segfault through ctypes", AFTER_GCN, "KernelDied",
           region="import ctypes\nctypes.string_at(0)",
           defence="a fresh kernel carries on after the check that killed it"),
    Attack("print_100_mb", "100 MB printed, then the honest answer", POINTS, "only the first 1,048,576 were kept",
           look_in="notes", region=PRINT_100_MB, defence="printed output capped per notebook"),
    Attack("write_10_gb_file", f"a 10 GB file of real bytes (the attack stops itself at {WRITE_CAP_MB} MB)",
           AFTER_GCN, "OSError: [Errno 27] File too large", region=BIG_FILE, defence="file size limit"),
    # --- what the kernel must not see or touch
    Attack("read_solutions", "read solutions/", AFTER_GCN, "FileNotFoundError", region=READ_SOLUTIONS,
           defence="the instructor's folder is hidden behind an empty mount"),
    Attack("read_gradebook", "read the gradebook", AFTER_GCN, "FileNotFoundError", region=READ_GRADEBOOK,
           defence="the reports and gradebook folders are hidden behind empty mounts"),
    Attack("read_other_student", "read another student's notebook", AFTER_GCN, "FileNotFoundError",
           region=READ_OTHER_STUDENT, defence="the submissions are hidden behind empty mounts"),
    Attack("write_outside", "overwrite a canary file, write into solutions/, the repository and a folder "
           "everyone may write to; then the honest answer", POINTS, "", look_in="result", region=WRITE_OUTSIDE,
           defence="a user of its own; hidden folders; a read-only view of everything else"),
    Attack("open_network", "open a TCP connection to a listener on the grading machine", AFTER_GCN,
           "OSError: [Errno 101] Network is unreachable", region=NETWORK,
           defence="a network namespace of its own, without interfaces"),
    Attack("read_environment", "look for credentials in the environment", AFTER_GCN,
           "RuntimeError: secrets seen: 0 []", region=ENVIRONMENT, defence="a scrubbed environment"),
    # --- tampering with what the kernel reports
    Attack("patch_numpy_allclose", "numpy.allclose, isclose, array_equal and numpy.testing always agree",
           AFTER_GCN, WRONG_MESSAGE, region=PATCH_NUMPY, defence="comparison in the grader's process"),
    Attack("patch_print", "builtins.print silenced", AFTER_GCN, WRONG_MESSAGE, region=PATCH_PRINT,
           defence="results travel as data, not as printed text"),
    Attack("patch_json_dumps", "json.dumps rewrites every result to success with the released answer",
           AFTER_GCN, HARD_CODED, region=PATCH_JSON,
           defence="a forged result is no more than a returned value: twins and hidden checks"),
    Attack("forge_result_channel", "the harness's invoke replaced: every later check reports the released answer",
           AFTER_GCN, HARD_CODED, region=FORGE_CHANNEL,
           defence="a forged result is no more than a returned value: twins and hidden checks"),
    Attack("patch_ipython_and_pickle", "IPython's run_cell and showtraceback, pickle.load(s) replaced",
           AFTER_GCN, WRONG_MESSAGE, region=PATCH_IPYTHON_PICKLE,
           defence="results are read from files without pickle; comparison in the grader's process"),
    Attack("fake_passing_output", "prints, displays and writes text that looks like full marks",
           AFTER_GCN, WRONG_MESSAGE, region=FAKE_PASSING_OUTPUT,
           defence="printed and displayed output is never read for grading"),
    Attack("import_grader", "imports grader and patches compare, score and judge", AFTER_GCN,
           WRONG_MESSAGE, region=IMPORT_GRADER, defence="comparison and scoring in the grader's process",
           # importing the grader in a kernel takes seconds (nbformat's schema checks): its patches
           # must be seen to fail, not cut short by the 2 s per check
           limits={"cell_seconds": 30}),
    Attack("hard_coded_public_outputs", "every region returns the released expected output", 0,
           HARD_CODED, edits=HARD_CODED_EDITS, defence="twins of the public checks; hidden checks"),
    Attack("redefined_in_another_region", "forward_propagation's region replaces gradient_check_n",
           POINTS, "", look_in="result", edits={("forward_propagation", 1): REDEFINE_IN_ANOTHER_REGION},
           defence="each function is graded as its own cell defined it"),
    Attack("redefined_in_another_cell", "a cell of the student's replaces gradient_check_n",
           POINTS, "outside the marked regions", look_in="notes", transform=redefine_in_another_cell,
           defence="only the regions are graded; other cells are not run"),
    Attack("two_copies_of_a_graded_function", "a second, hard-coded copy of gradient_check_n", AFTER_GCN,
           "gradient_check_n is defined 2 times; the last definition", look_in="flags",
           transform=second_copy_hard_coded, defence="the last definition is graded, and flagged"),
    # --- notebooks that are broken or are not what they claim
    Attack("every_marker_deleted", "all START/END markers deleted: whole definitions graded", POINTS,
           "gradient_check_n: START/END markers deleted", look_in="flags", transform=delete_every_marker,
           defence="whole definitions graded, and flagged"),
    Attack("markers_duplicated", "gradient_check_n's last region pasted twice, markers and all", POINTS,
           "markers duplicated or deleted", look_in="flags", transform=duplicate_a_region,
           defence="regions are counted against the assignment's; broken markers: the whole definition, flagged"),
    Attack("regions_nested", "gradient_check's first region closed after the second", POINTS,
           "nested or missing END marker", look_in="flags", transform=nest_regions,
           defence="markers are paired; broken markers: the whole definition, flagged"),
    Attack("notebook_50_mb", "a correct notebook carrying 50 MB of saved output", POINTS, "",
           look_in="result", generated=True, defence="saved outputs are never run or graded"),
    Attack("invalid_json", "a comma missing", 0, "not valid JSON", look_in="result", raw=invalid_json,
           status="unreadable", defence="the reader's one-line reasons"),
    Attack("empty_file", "zero bytes", 0, "the file is empty", look_in="result", raw=lambda: b"",
           status="unreadable", defence="the reader's one-line reasons"),
    Attack("renamed_python", "a .py script renamed to .ipynb", 0, "looks like a Python script",
           look_in="result", raw=renamed_python, status="unreadable", defence="the reader's one-line reasons"),
    Attack("wrong_assignment", "the Initialization notebook handed in as Gradient Checking", 0,
           "this is a notebook of Initialization, not of Gradient Checking", look_in="result",
           raw=wrong_assignment, status="unrecognised", defence="assignments are recognised by their functions"),
    # --- the kernel's own machinery: messaging, result files, its clock
    Attack("break_json_dumps", "json.dumps and json.dump return \"{}\": the kernel's messages and the harness's "
           "result files", AFTER_GC, WRONG_GC_MESSAGE, look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=BREAK_JSON,
           function="gradient_check", flag=KERNEL_CHANGED + " (json.dump, json.dumps)", defence=KERNEL_DEFENCE),
    Attack("break_pickle", "every pickle function and class raises", AFTER_GC, WRONG_GC_MESSAGE,
           look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=BREAK_PICKLE, function="gradient_check",
           flag=KERNEL_CHANGED + " (pickle.Pickler", defence=KERNEL_DEFENCE),
    Attack("silence_zmq", "zmq's send and send_multipart do nothing: the kernel can no longer answer", AFTER_GC,
           WRONG_GC_MESSAGE, look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=SILENCE_ZMQ, function="gradient_check",
           flag=KERNEL_CHANGED + " (zmq.Socket.send, zmq.Socket.send_multipart)", defence=KERNEL_DEFENCE),
    Attack("break_os_write", "os.write, os.replace and os.rename pretend to succeed", AFTER_GC, WRONG_GC_MESSAGE,
           look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=BREAK_OS_WRITE, function="gradient_check",
           flag=KERNEL_CHANGED + " (os.rename, os.replace, os.write)", defence=KERNEL_DEFENCE),
    Attack("break_stdout", "sys.stdout and sys.stderr raise on every write (gradient_check_n prints too)",
           AFTER_GC, "OSError: stdout is broken", look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=BREAK_STDOUT,
           function="gradient_check", flag=KERNEL_CHANGED + " (sys.stderr, sys.stdout)", defence=KERNEL_DEFENCE),
    Attack("stop_threads", "threading's Thread.start and run do nothing; Lock, RLock and Event gone", AFTER_GC,
           WRONG_GC_MESSAGE, look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=STOP_THREADS, function="gradient_check",
           flag=KERNEL_CHANGED + " (threading.Event", defence=KERNEL_DEFENCE),
    Attack("close_file_descriptors", "every file descriptor from 3 up closed, the kernel's sockets among them",
           AFTER_GC, "KernelDied", look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=CLOSE_FDS, function="gradient_check",
           defence="the kernel dies or its link fails; a fresh kernel carries on after the check"),
    Attack("forge_kernel_messages", "the kernel's session packs every message as \"{}\" (KeyError: 'msg_id' "
           "in the grader)", AFTER_GC, WRONG_GC_MESSAGE, look_in=f"check:{PUBLIC_GC_CHECK}",
           in_gc=FORGE_KERNEL_MESSAGES, function="gradient_check",
           defence="results travel in files; a kernel whose messages cannot be read is ended like a crashed one"),
    Attack("ignore_check_timeout", "SIGALRM ignored, then an endless loop: the harness's time limit cannot fire",
           AFTER_GC, "did not finish within 2 s", look_in=f"check:{PUBLIC_GC_CHECK}", in_gc=IGNORE_CHECK_TIMEOUT,
           function="gradient_check",
           defence="the grader's watch: a kernel that takes no step for two check times and 10 s is ended"),
    Attack("spoil_shared_files", "overwrite every file in the kernel's folders that a later student's "
           "kernel might read (inputs, support files); then the honest answer", POINTS, "", look_in="result",
           region=TAMPER_SHARED_FILES, defence="the next student's inputs are not writable by this one"),
]


# ---- files of the machine outside the hidden folders: the kernel's view holds none of them
READ_OTHER_COURSE = """with open("@@OTHER_COURSE@@") as fh:
    raise RuntimeError("read: " + fh.read(300))"""

READ_OTHER_USERS_HOME = """with open("@@OTHER_HOME@@") as fh:
    raise RuntimeError("read: " + fh.read(300))"""

ATTACKS += [
    Attack("read_other_course", "read a world-readable file of another course on the grading machine, "
           "in a folder no grader option hides", AFTER_GCN, "FileNotFoundError", region=READ_OTHER_COURSE,
           defence="deny by default: the kernel's file system holds only what it needs"),
    Attack("read_other_users_home", "read a world-readable file in another user's home under /home",
           AFTER_GCN, "FileNotFoundError", region=READ_OTHER_USERS_HOME,
           defence="deny by default: the kernel's file system holds only what it needs"),
]

# Attacks that do not end well yet (docs/security.md, "Still open"); each moves to ATTACKS
# once the engine defends against it.
OPEN_ATTACKS: list = []


def build(attack: Attack) -> bytes:
    """The bytes of one attack's notebook."""
    if attack.raw is not None:
        return attack.raw()
    nb = nbformat.read(str(ROOT / "solutions" / GC), as_version=4)
    edits = dict(attack.edits)
    if attack.region is not None:
        edits[("gradient_check_n", 4)] = attack.region
    if attack.in_gc is not None:
        edits[("gradient_check", 3)] = attack.in_gc
    _apply_edits(nb, edits)
    if attack.transform is not None:
        attack.transform(nb)
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def big_notebook(size: int = 50 * 2 ** 20) -> bytes:
    """The correct notebook with a demo cell carrying ``size`` bytes of saved PNG output."""
    import base64

    nb = nbformat.read(str(ROOT / "solutions" / GC), as_version=4)
    demo = next(c for c in nb.cells if c.cell_type == "code" and "demo" in c.metadata.get("tags", []))
    data = base64.b64encode(bytes(range(256)) * (size * 3 // 4 // 256 + 1)).decode()[:size]
    demo.outputs = [nbformat.v4.new_output("display_data", data={"image/png": data})]
    return (json.dumps(nb, indent=1, sort_keys=True) + "\n").encode()


def manifest() -> list[dict]:
    return [{"file": f"{a.name}.ipynb", "scenario": a.name, "why": a.why, "status": a.status,
             "score": a.score, "max_score": POINTS, "message": a.message, "look_in": a.look_in,
             "defence": a.defence, "limits": a.limits, "generated": a.generated,
             "function": a.function, "flag": a.flag} for a in ATTACKS]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for attack in ATTACKS:
        if attack.generated:
            continue
        path = OUT / f"{attack.name}.ipynb"
        path.write_bytes(build(attack))
        print(path.relative_to(ROOT))
    (OUT / "attacks.json").write_text(json.dumps(manifest(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
