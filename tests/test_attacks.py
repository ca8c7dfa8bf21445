"""Every hostile or broken submission ends well (tests/attacks/, written by make_attacks.py).

All attacks are graded in one batch, between two correct submissions, each student in
a kernel of their own as a class run does, with small limits so the batch stays short.
Around the batch the test plants what an attack goes after (a secret in the grader's
environment, a gradebook, another student's notebook, a canary file, a listening port)
and afterwards checks that nothing leaked, nothing changed outside the sandbox, and no
kernel process or working directory was left behind. Two canaries lie outside every
folder the grader hides, readable by anyone: another course's file, and a file in
another user's home under /home (planted only where the test may write there).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.grading.catalog import Catalog
from grader.grading.grade import grade_student
from grader.kernel.containment import kernel_uid
from grader.kernel.execute import Options

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent
ATTACKS_DIR = Path(__file__).resolve().parent / "attacks"
ATTACKS = json.loads((ATTACKS_DIR / "attacks.json").read_text(encoding="utf-8"))
NOTEBOOK = "Gradient_Checking.ipynb"
ASSIGNMENT = "gradient_checking"
HONEST = ("honest_first", "honest_last")
GCN = "gradient_check_n"
PUBLIC_GCN = "gradient_check_n_given_backprop"
# Small budgets: a check gets 2 s; a kernel 64 processes and 16 MB per file.
LIMITS = {"cell_seconds": 2.0, "processes": 64, "file_bytes": 16 * 2 ** 20}
TOKEN = hashlib.sha256(str(os.getpid()).encode() + str(time.time()).encode()).hexdigest()[:12]
SECRET = f"secret-{TOKEN}"
SECRET_NAME = "NBAUTOGRADE_TEST_SECRET"


class Listener:
    """A TCP port on this machine that records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file below the roots with a hash of its bytes."""
    files = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def kernel_processes() -> list[int]:
    """Processes a grading run of this test process may have left: kernels (forked by the
    grader's kernel server) and anything running as the kernels' own user."""
    me, uid = os.getpid(), kernel_uid()
    parents, owners = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue
        parents[int(entry.name)] = int(fields["PPid"])
        owners[int(entry.name)] = int(fields["Uid"].split()[0])
    servers = {pid for pid, ppid in parents.items() if ppid == me}  # the grader's own helpers
    found = {pid for pid, ppid in parents.items() if ppid in servers}
    found |= {pid for pid, owner in owners.items() if owner == uid}
    return sorted(found)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled(count, want: int = 0, tries: int = 50):
    """``count()`` once it reaches ``want`` (processes take a moment to be reaped), else its last value."""
    for _ in range(tries):
        value = count()
        if len(value) <= want:
            return value
        time.sleep(0.1)
    return value


def plant_world_readable(path: Path, text: str) -> Path:
    """A file anyone on the machine may read, in folders anyone may enter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    path.parent.chmod(0o755)
    return path


def plant_other_home(text: str) -> Path | None:
    """A file in the home folder of a throw-away user under /home; None where /home is not ours to write."""
    home = Path("/home") / f"nbautograde-{TOKEN}"
    try:
        home.mkdir()
    except OSError:
        return None
    path = plant_world_readable(home / "notes.txt", text)
    if os.geteuid() == 0:  # owned by a user that is neither the grader nor a kernel
        os.chown(path, 4242, 4242)
        os.chown(home, 4242, 4242)
    return path


def write_attacks(class_dir: Path, fill: dict[str, str]) -> None:
    """Each attack as ``<scenario>/Gradient_Checking.ipynb``, with the machine's paths filled in."""
    from make_attacks import big_notebook

    for attack in ATTACKS:
        path = class_dir / attack["scenario"] / NOTEBOOK
        path.parent.mkdir()
        if attack["generated"]:
            path.write_bytes(big_notebook())
            continue
        data = (ATTACKS_DIR / attack["file"]).read_bytes()
        for word, value in fill.items():
            data = data.replace(word.encode(), value.encode())
        path.write_bytes(data)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every attack and two correct submissions; return what the test checks afterwards."""
    # The batch lives outside /tmp, where a class folder usually is: kernels see /tmp as empty.
    base = ROOT / "build" / f"attack-batch-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    try:
        class_dir, out_dir, outside = base / "class", base / "reports", base / "world-writable"
        for folder in (class_dir, out_dir, outside):
            folder.mkdir(parents=True)
        outside.chmod(0o1777)  # like /run/lock: a folder anyone may write to
        canary = base / "canary.txt"
        canary.write_text(f"canary {TOKEN}\n")
        other_course = plant_world_readable(base / "other-course" / "answers.txt", f"other course {TOKEN}\n")
        other_home = plant_other_home(f"other user {TOKEN}\n")
        gradebook = out_dir / "gradebook.sqlite"
        gradebook.write_text(f"gradebook {TOKEN}: honest_first 30/30\n")
        listener = Listener()

        correct = (ROOT / "tests" / "submissions" / "gc_reference_code.ipynb").read_text(encoding="utf-8")
        marked = json.loads(correct)  # another student's notebook, with a line only they wrote
        marked["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [f"other student {TOKEN}"]})
        paths = {}
        for student in HONEST:
            paths[student] = class_dir / student / NOTEBOOK
            paths[student].parent.mkdir()
            paths[student].write_text(json.dumps(marked) if student == "honest_first" else correct, encoding="utf-8")
        fill = {"@@SOLUTIONS@@": str(ROOT / "solutions"), "@@GRADEBOOK@@": str(gradebook),
                "@@OTHER_STUDENT@@": str(paths["honest_first"]), "@@CANARY@@": str(canary),
                "@@OUTSIDE@@": str(outside / f"written-{TOKEN}.txt"), "@@PORT@@": str(listener.port),
                "@@REPOSITORY@@": str(ROOT), "@@OTHER_COURSE@@": str(other_course),
                "@@OTHER_HOME@@": str(other_home or "/home/nobody-here/notes.txt")}
        write_attacks(class_dir, fill)
        order = ["honest_first", *[a["scenario"] for a in ATTACKS], "honest_last"]
        own_limits = {a["scenario"]: a["limits"] for a in ATTACKS}

        catalog = Catalog(ROOT / "solutions")
        catalog.expected(catalog.get(ASSIGNMENT))  # the reference run, before the snapshot
        watched = (ROOT / "solutions", class_dir, out_dir, canary, outside, other_course,
                   *([other_home] if other_home else []))
        before = snapshot(*watched)
        kernels_before = kernel_processes()
        descriptors_before = open_descriptors()
        private_tmp = tmp_path_factory.mktemp("grader-tmp")
        saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
        os.environ[SECRET_NAME] = SECRET
        results = {}
        try:
            for student in order:
                # As a class run does: the reports and the gradebook's folder are hidden from kernels.
                options = Options(hidden=[str(out_dir), str(gradebook.parent)])
                [result] = grade_student([class_dir / student / NOTEBOOK], catalog, student=student,
                                         assignments=[ASSIGNMENT], options=options,
                                         limits={**LIMITS, **own_limits.get(student, {})})
                results[student] = result.to_dict()
        finally:
            os.environ.pop(SECRET_NAME, None)
            tempfile.tempdir = saved_tempdir
            listener.close()
        after = snapshot(*watched)
        planted = [p for p in (ROOT / "planted.py", ROOT / "solutions" / "planted.py") if p.exists()]
        for path in planted:  # a failed defence must not leave the repository dirty
            path.unlink()
        yield {"results": results, "order": order, "before": before, "after": after,
               "kernels_before": kernels_before, "kernels_after": settled(kernel_processes, len(kernels_before)),
               "run_dirs": settled(lambda: sorted(private_tmp.glob("grader-run-*"))),
               "connections": listener.connections,
               "descriptors": (descriptors_before, open_descriptors(), len(order)),
               "planted": planted, "other_home": other_home}
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(Path("/home") / f"nbautograde-{TOKEN}", ignore_errors=True)


def checks_of(result: dict) -> dict[str, dict]:
    return {c["name"]: c for f in result["functions"] for c in f["checks"]}


def texts_in(result: dict, look_in: str) -> list[str]:
    if look_in == "result":
        return [result["message"]]
    if look_in in ("flags", "notes"):
        return list(result[look_in])
    assert look_in.startswith("check:")
    return [checks_of(result)[look_in[len("check:"):]]["message"]]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["scenario"] for a in ATTACKS])
def test_attack_ends_with_its_grade_and_message(batch, attack):
    if attack["scenario"] == "read_other_users_home" and batch["other_home"] is None:
        pytest.skip("/home is not writable here: no other user's home to plant a canary in")
    result = batch["results"][attack["scenario"]]
    assert result["status"] == attack["status"], result["message"]
    assert result["score"] == pytest.approx(attack["score"]), {
        n: (c["status"], c["message"]) for n, c in checks_of(result).items() if c["status"] != "passed"}
    assert result["max_score"] == attack["max_score"]
    texts = texts_in(result, attack["look_in"])
    if attack["message"]:
        assert any(attack["message"] in t for t in texts), texts
    else:
        assert texts == [""] or not texts, texts
    if attack["flag"]:
        assert any(attack["flag"] in f for f in result["flags"]), result["flags"]
    if result["status"] != "graded":
        assert result["functions"] == [] and "\n" not in result["message"]


# What each function is worth: an attack that costs exactly that is confined to it.
FUNCTION_POINTS = {GCN: 12, "gradient_check": 9}
CONFINED = [a for a in ATTACKS if a["look_in"].startswith("check:")
            and a["score"] == 30 - FUNCTION_POINTS.get(a["function"], 30)]


@pytest.mark.parametrize("attack", CONFINED, ids=[a["scenario"] for a in CONFINED])
def test_an_attack_inside_one_function_costs_only_that_function(batch, attack):
    result = batch["results"][attack["scenario"]]
    for function in result["functions"]:
        statuses = {c["status"] for c in function["checks"]}
        if function["name"] == attack["function"]:
            assert "passed" not in statuses
        else:
            assert statuses == {"passed"}, function["name"]


def test_the_batch_carried_on_and_correct_work_got_full_marks(batch):
    assert list(batch["results"]) == batch["order"]
    for student in HONEST:
        result = batch["results"][student]
        assert result["status"] == "graded"
        assert result["score"] == result["max_score"] == 30
        assert not [f for f in result["flags"] if "changed the grader's kernel" in f], result["flags"]
        assert not [n for n in result["notes"] if "restarted" in n], result["notes"]


def test_nothing_secret_reached_any_result(batch):
    everything = json.dumps(list(batch["results"].values()), default=str)
    assert SECRET not in everything, "the grader's environment reached a kernel"
    assert f"gradebook {TOKEN}" not in everything, "a kernel read the gradebook"
    assert f"other student {TOKEN}" not in everything, "a kernel read another student's notebook"
    assert "Checks for the Gradient Checking notebook" not in everything, "a kernel read solutions/"
    assert f"other course {TOKEN}" not in everything, "a kernel read a world-readable file of the machine"
    assert f"other user {TOKEN}" not in everything, "a kernel read a file in another user's home"
    assert batch["connections"] == 0, "a kernel reached a port of the grading machine"


def test_no_file_changed_outside_the_sandbox(batch):
    assert batch["after"] == batch["before"]
    assert batch["planted"] == []


def test_no_kernel_process_or_working_directory_is_left(batch):
    assert set(batch["kernels_after"]) <= set(batch["kernels_before"]), "kernels or their processes outlived the batch"
    assert batch["run_dirs"] == []


def test_the_grader_keeps_no_descriptor_of_a_finished_kernel(batch):
    # Each kernel, restarted or not, once held a dozen: a leak would stop a large class run with
    # "filedescriptor out of range" long before its end.
    before, after, students = batch["descriptors"]
    assert after - before < students, (before, after)


def test_every_attack_file_is_listed():
    listed = {a["file"] for a in ATTACKS if not a["generated"]}
    on_disk = {p.name for p in ATTACKS_DIR.glob("*.ipynb")}
    assert listed == on_disk


def test_every_attack_is_in_the_security_doc():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert not [a["scenario"] for a in ATTACKS if f"`{a['scenario']}`" not in text]
