"""The kernel engine on the tiny assignment: restarts, time limits, containment, output caps.

Each test writes a submission whose region misbehaves in one way and asserts what
the student's result says, and that the check that did not misbehave still counts.
The tiny assignment has two checks: ``scale_public`` (factor 3) and the hidden
``scale_negative`` (factor -2).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classrun.pool import descendants
from grader.grading.catalog import Catalog
from grader.grading.grade import grade_notebook
from grader.kernel.containment import NEW_ROOT
from grader.kernel.execute import Options
from grader.kernel.kernels import ForkServer

pytestmark = pytest.mark.kernel

ON_LINUX = sys.platform.startswith("linux")
ROOT = Path(__file__).resolve().parent.parent
# Everything of /etc a contained kernel may see (grader/kernel/fsview.py says why each).
ETC_SEEN = {"group", "ld.so.cache", "localtime", "passwd"}


def _in_a_child(work) -> dict:
    """``work()`` in a forked child, as a kernel's process is; its JSON-able answer."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            answer = json.dumps(work())
        except BaseException as exc:
            answer = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        os.write(write_fd, answer.encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def catalog(tiny_warm):
    return Catalog(tiny_warm)


def checks_of(result: dict) -> dict[str, dict]:
    return {c["name"]: c for f in result["functions"] for c in f["checks"]}


@pytest.mark.skipif(not ON_LINUX, reason="kernels fork from a server on Linux only")
def test_a_fork_server_is_gone_when_its_owner_closes_it():
    with ForkServer() as server:
        server.wait_ready()  # it has imported what kernels need, and answers
        pid = server.process.pid
        assert pid in descendants(os.getpid())
    assert server.process.poll() is not None
    assert pid not in descendants(os.getpid())


@pytest.mark.skipif(not ON_LINUX, reason="kernels fork from a server on Linux only")
def test_grading_one_notebook_leaves_no_process_behind(catalog, tiny_submission):
    before = set(descendants(os.getpid()))
    result = grade_notebook(tiny_submission("correct_and_gone", "y = factor * x"), catalog)
    assert result.score == result.max_score
    assert set(descendants(os.getpid())) <= before  # its fork server lived for this call only


@pytest.mark.skipif(not ON_LINUX, reason="kernels fork from a server on Linux only")
def test_kernels_fork_from_the_server_their_owner_passes_down(catalog, tiny_submission):
    before = set(descendants(os.getpid()))
    with ForkServer() as server:
        options = Options(server=server)
        for name in ("first_of_two", "second_of_two"):
            result = grade_notebook(tiny_submission(name, "y = factor * x"), catalog, options=options)
            assert result.score == result.max_score
            assert server.process.poll() is None  # still the owner's, open for its next student
            assert set(descendants(os.getpid())) - before == {server.process.pid}  # and no other server
    assert set(descendants(os.getpid())) <= before


def test_a_crash_costs_its_check_and_a_fresh_kernel_runs_the_rest(catalog, tiny_submission):
    path = tiny_submission("exits_on_positive_factor",
                           "import os\nif factor > 0:\n    os._exit(1)\ny = factor * x")
    result = grade_notebook(path, catalog).to_dict()
    checks = checks_of(result)
    assert checks["scale_public"]["status"] == "error"
    assert "kernel died during this check" in checks["scale_public"]["message"]
    assert checks["scale_negative"]["status"] == "passed"
    assert result["score"] == checks["scale_negative"]["max_points"]
    assert any("restarted" in note for note in result["notes"])


def test_each_check_has_its_own_time_limit(catalog, tiny_submission):
    path = tiny_submission("loops_on_positive_factor", "while factor > 0:\n    pass\ny = factor * x")
    result = grade_notebook(path, catalog, limits={"cell_seconds": 1}).to_dict()
    checks = checks_of(result)
    assert checks["scale_public"]["status"] == "timeout"
    assert "did not finish within 1 s" in checks["scale_public"]["message"]
    assert checks["scale_negative"]["status"] == "passed"


def test_a_loop_that_swallows_the_timeout_is_stopped_by_the_notebook_budget(catalog, tiny_submission):
    region = ("while True:\n    try:\n        while True:\n            pass\n"
              "    except BaseException:\n        pass\ny = factor * x")
    result = grade_notebook(tiny_submission("swallows_interrupts", region), catalog,
                            limits={"cell_seconds": 1, "submission_seconds": 4}).to_dict()
    assert result["status"] == "graded"
    assert result["score"] == 0
    assert {c["status"] for c in checks_of(result).values()} <= {"timeout", "error"}
    assert any("time limit" in note for note in result["notes"]) or any(
        "time limit" in c["message"] for c in checks_of(result).values())


def test_printing_is_capped_and_the_grade_unchanged(catalog, tiny_submission):
    path = tiny_submission("prints_five_megabytes", "print('x' * 5_000_000)\ny = factor * x")
    result = grade_notebook(path, catalog).to_dict()
    assert result["score"] == result["max_score"]
    assert any("only the first" in note for note in result["notes"])


def test_spawned_kernel_grades_like_a_forked_one(catalog, tiny_submission):
    path = tiny_submission("correct_spawned", "y = factor * x")
    result = grade_notebook(path, catalog, options=Options(fork=False)).to_dict()
    assert result["score"] == result["max_score"]


def test_a_limit_too_small_for_any_kernel_is_reported_not_graded_zero(catalog, tiny_submission):
    path = tiny_submission("correct_but_no_memory", "y = factor * x")
    result = grade_notebook(path, catalog, limits={"memory_bytes": 20 * 2**20}).to_dict()
    assert result["status"] == "kernel_error"
    assert "kernel" in result["message"]


@pytest.mark.skipif(not ON_LINUX, reason="namespaces and user switching are Linux features")
class TestContainment:
    """What a kernel can see and do on Linux (CI runs as root, where everything applies)."""

    def test_protections_are_active_and_recorded(self, catalog, tiny_submission):
        result = grade_notebook(tiny_submission("correct_contained", "y = factor * x"), catalog).to_dict()
        active = set(result["containment"]["active"])
        assert {"memory limit", "CPU time limit", "file size limit", "scrubbed environment",
                "no network", NEW_ROOT, "hidden grader files", "private mounts"} <= active, result["containment"]
        if os.geteuid() == 0:
            assert "own user" in active

    def test_solutions_and_secrets_are_out_of_reach(self, catalog, tiny_submission, tiny_warm, monkeypatch):
        monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
        spec = tiny_warm / "Tiny.checks.py"
        region = (
            "import os\n"
            f"can_read = os.path.exists({str(spec)!r})\n"
            "leaked = 'GRADER_TEST_SECRET' in os.environ\n"
            "y = factor * x if not (can_read or leaked) else x * 0"
        )
        result = grade_notebook(tiny_submission("peeks_at_solutions_and_env", region), catalog).to_dict()
        assert result["score"] == result["max_score"], checks_of(result)

    def test_network_is_cut_and_writes_outside_stay_outside(self, catalog, tiny_submission, tmp_path):
        canary = tmp_path / "canary.txt"
        region = (
            "import socket\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
            "    online = True\n"
            "except OSError:\n"
            "    online = False\n"
            "try:\n"
            f"    open({str(canary)!r}, 'w').write('written by a student')\n"
            "except OSError:\n"
            "    pass\n"
            "y = factor * x if not online else x * 0"
        )
        result = grade_notebook(tiny_submission("phones_home_and_writes_out", region), catalog).to_dict()
        assert result["score"] == result["max_score"], checks_of(result)
        assert not canary.exists()

    def test_the_kernel_sees_only_what_it_needs(self, catalog, tiny_submission):
        """A world-readable file outside /tmp and every hidden folder, the machine's /etc,
        /sys, /home and other processes: none of them exists for student code."""
        outside = ROOT / "build" / f"world-readable-{os.getpid()}"
        outside.mkdir(parents=True, exist_ok=True)
        outside.chmod(0o755)
        canary = outside / "notes.txt"
        canary.write_text("another course's notes")
        canary.chmod(0o644)
        region = (
            "import os\n"
            f"seen = [p for p in ({str(canary)!r}, '/etc/os-release', '/etc/hostname', '/sys', '/home', '/root/.bashrc')\n"
            "        if os.path.exists(p)]\n"
            f"extra = set(os.listdir('/etc')) - set({sorted(ETC_SEEN)!r})\n"
            "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
            f"if seen or extra or ({os.geteuid() == 0} and others):\n"
            "    raise RuntimeError(f'seen {seen}, in /etc {sorted(extra)}, processes {others}')\n"
            "y = factor * x"
        )
        try:
            result = grade_notebook(tiny_submission("looks_around_the_machine", region), catalog)
        finally:
            shutil.rmtree(outside, ignore_errors=True)
        assert result.score == result.max_score, [c.message for c in result.checks]
        active = set(result.containment["active"])
        assert NEW_ROOT in active, result.containment
        if os.geteuid() == 0:
            assert "own /proc" in active, result.containment

    def test_a_refused_new_root_falls_back_to_the_masked_machine_and_says_so(self, tmp_path, monkeypatch):
        """Where the system has no pivot_root, the kernel is still contained, and its report says how."""
        from grader.kernel import fsview
        from grader.kernel.containment import Limits, contain

        monkeypatch.setattr(fsview, "PIVOT_ROOT", {})  # as on a machine whose call number is unknown
        workdir = tmp_path / "grader-run-fallback"
        workdir.mkdir()
        hidden = tmp_path / "solutions"
        hidden.mkdir()
        (hidden / "answers.txt").write_text("the answers")
        report = _in_a_child(lambda: {
            "containment": contain(Limits(), str(workdir), [str(hidden)], None).to_dict(),
            "answers_visible": (hidden / "answers.txt").exists()})
        assert NEW_ROOT in report["containment"]["inactive"], report
        assert "pivot_root" in report["containment"]["inactive"][NEW_ROOT]
        assert {"hidden grader files", "read-only file system", "private mounts"} <= set(report["containment"]["active"])
        assert report["answers_visible"] is False

    def test_processes_a_student_starts_do_not_outlive_the_grading(self, catalog, tiny_submission):
        marker = "2718281"
        region = ("import subprocess\n"
                  f"subprocess.Popen(['sleep', '{marker}'])\n"
                  "y = factor * x")
        result = grade_notebook(tiny_submission("leaves_a_process_behind", region), catalog).to_dict()
        assert result["score"] == result["max_score"], checks_of(result)
        left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
        assert left.strip() == ""


def test_limits_from_the_command_line_reach_the_kernel(tiny_warm, tiny_submission, tmp_path):
    from grader.cli import main

    path = tiny_submission("loops_for_the_cli", "while factor > 0:\n    pass\ny = factor * x",
                           folder=tmp_path / "class")
    out = tmp_path / "out"
    code = main(["grade", str(tmp_path / "class"), "--solutions", str(tiny_warm), "--out", str(out), "-q",
                 "--limit", "cell_seconds=1", "--no-contain"])
    assert code == 0
    result = json.loads(next(out.glob("loops_for_the_cli/*.json")).read_text())
    checks = checks_of(result)
    assert "within 1 s" in checks["scale_public"]["message"]
    assert checks["scale_negative"]["status"] == "passed"
    assert "no network" not in result["containment"]["active"]
    assert path.exists()


def _in_fresh_interpreter(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_fork_server_loads_ipykernel_without_its_debugger_yet_students_may_import_it():
    pytest.importorskip("debugpy")
    out = _in_fresh_interpreter(
        "import sys\n"
        "from grader.kernel.kernels import warm_imports\n"
        "warm_imports()\n"
        "from ipykernel.debugger import _is_debugpy_available\n"
        "print('debugpy' in sys.modules, _is_debugpy_available)\n"
        "import debugpy\n"  # a student's import still finds it
        "print(debugpy.__name__)")
    assert out.splitlines() == ["False False", "debugpy"]


def test_a_kernel_manager_describes_its_kernel_without_loading_ipython_in_the_grader():
    out = _in_fresh_interpreter(
        "import sys\n"
        "from pathlib import Path\n"
        "from grader.kernel.kernels import Sandbox, kernel_manager\n"
        "km = kernel_manager(Sandbox(Path('.')))\n"
        "print(km.kernel_spec.language, km.kernel_spec.interrupt_mode, 'IPython' in sys.modules)")
    assert out == "python signal False"
