"""Start student kernels fast and contained, for nbclient to drive.

Starting a Jupyter kernel the usual way costs about 0.6 s, nearly all of it Python
importing ipykernel, IPython and NumPy. A *fork server* pays that once: a helper
process imports them and then forks one child per kernel. The child applies the
containment (``containment.contain``), starts ``IPKernelApp`` on the connection
file nbclient wrote, and tells the server when its sockets are bound. Every
student still gets a fresh process that no other student's code has touched.

Where ``fork`` is unsafe or missing (not Linux), or for a ``Sandbox`` without a server
(``Options(fork=False)``), the same child code runs in a spawned
``python -m grader.kernel.kernels launch`` instead.

nbclient talks to these kernels through ``GraderKernelManager``, an ordinary
``AsyncKernelManager`` whose provisioner launches through the server, over IPC
sockets inside the kernel's working directory (so a kernel without network is
still reachable).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from jupyter_client.utils import ensure_async

from grader.core.imports import modules_hidden
from grader.kernel.containment import Containment, Limits, kill_user_processes
from grader.kernel.harness import LOADED_NAME, load_harness
from grader.kernel.serverprocess import SERVER_ENV, start_server_process

READY = b"R"
KERNEL_ARGS = ["--IPKernelApp.quiet=True", "--HistoryManager.enabled=False"]
# Imported once by the fork server, so that no kernel imports them after its fork: what
# ipykernel and IPython load while a kernel starts, and what the harness binds as it loads.
WARM_MODULES = ("numpy", "numpy.random", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
                "ipykernel.debugger", "IPython.core.interactiveshell", "IPython.core.debugger",
                "IPython.core.completerlib", "IPython.core.oinspect", "IPython.core.logger",
                "IPython.extensions.storemagic", "IPython.utils.wildcard", "tornado.platform.asyncio",
                "pdb", "faulthandler", "resource", "secrets", "runpy")


@dataclass
class Sandbox:
    """Where and how one student's kernels run."""

    workdir: Path
    limits: Limits = field(default_factory=Limits)
    hidden: list[str] = field(default_factory=list)  # folders the kernel must not see
    uid: int | None = None
    server: ForkServer | None = None  # kernels fork from it; None: each is a fresh interpreter

    def request(self, connection_file: str) -> dict:
        return {"connection_file": connection_file, "workdir": str(self.workdir), "hidden": self.hidden,
                "uid": self.uid, "limits": self.limits.to_dict()}


# --- the kernel's own process --------------------------------------------------------

def kernel_main(request: dict, ready_fd: int, harness: dict) -> None:
    """Contain this process, start the kernel with ``harness`` (``harness.load_harness``) in its
    namespace, report on ``ready_fd``; never returns."""
    from grader.kernel.containment import contain

    try:
        import numpy.random

        numpy.random.seed()  # NumPy's global generator, seeded afresh as if imported here: not the server's
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server ignores it; students may wait()
        if os.getsid(0) != os.getpid():
            os.setsid()  # a process group of its own, killed as one
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        limits = Limits(**request["limits"])
        done = contain(limits, request["workdir"], request["hidden"], request["uid"])
        sys.path[:] = [p for p in sys.path if p and not p.startswith(os.getcwd())]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", request["connection_file"], *KERNEL_ARGS])
        assert app.shell is not None  # a kernel app, not a subcommand
        app.shell.user_ns[LOADED_NAME] = harness
        os.write(ready_fd, json.dumps(done.to_dict()).encode() + b"\n" + READY)
        os.close(ready_fd)
        app.start()
    except BaseException as exc:  # report why, then die: the grader turns it into a message
        try:
            import traceback

            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = f"{type(exc).__name__}: {exc} (in {Path(where.filename).name}, line {where.lineno})"
            os.write(ready_fd, json.dumps({"error": message}).encode() + b"\n")
        except OSError:
            pass
    os._exit(1)


def _read_ready(fd: int, timeout: float) -> dict:
    """What the kernel reported before it started serving (or why it never did)."""
    import select

    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(READY):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return {"error": f"the kernel did not start within {timeout:g} s"}
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    line = data.rstrip(READY).strip().splitlines()
    try:
        report = json.loads(line[0]) if line else {}
    except ValueError:
        report = {}
    if not data.endswith(READY):
        report.setdefault("error", "the kernel exited while starting")
    return report


# --- the fork server ----------------------------------------------------------------

# ipykernel offers a debugger when debugpy is installed: importing debugpy cost the fork server
# about 0.12 CPU s, and each kernel then made a Debugger that no graded kernel ever uses.
NOT_FOR_KERNELS = ("debugpy",)


def warm_imports() -> None:
    """Import what every kernel needs, with ``NOT_FOR_KERNELS`` read as not installed while
    ipykernel loads (it then starts its kernels without a debugger); student code that imports
    one of them later still gets it."""
    with modules_hidden(NOT_FOR_KERNELS):
        for name in WARM_MODULES:
            __import__(name)


def serve() -> None:
    """Answer JSON requests on stdin, one per line: start a kernel, or kill a uid's processes."""
    warm_imports()
    harness = load_harness()  # before any fork, and the same for every kernel
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the protocol stream
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "kill_uid":
            kill_user_processes(request["uid"])
            reply: dict[str, Any] = {"ok": True}
        else:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                kernel_main(request, write_fd, harness)
            os.close(write_fd)
            reply = {"pid": pid, **_read_ready(read_fd, timeout=30)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


class ForkServer:
    """The client side of ``serve``: one server per owner, who closes it (``close()`` or ``with``).

    Its owner is whoever runs kernels for a while: a pool worker for all its students, one
    ``grade_student`` call otherwise (``execute.serving``). It reaches the kernels it starts
    through ``Sandbox.server``. The server starts importing at once, while its owner reads
    and builds notebooks; the first request waits until it is ready.
    """

    def __init__(self, process: subprocess.Popen | None = None) -> None:
        # ``process``: one its owner started already (serverprocess.start_server_process).
        self.process = process if process is not None else start_server_process()
        self.ready = False
        self._lock = threading.Lock()  # one request at a time on the pipe

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self) -> None:
        """Block until the server has imported what kernels need (call with the lock held)."""
        stdout = self.process.stdout
        assert stdout is not None  # started piped
        if not self.ready:
            if stdout.readline().strip() != "ready":
                raise RuntimeError("the kernel fork server did not start")
            self.ready = True

    def ask(self, request: dict) -> dict:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # started with both piped
        with self._lock:
            self.wait_ready()
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
        if not line:
            raise RuntimeError("the kernel fork server stopped")
        return json.loads(line)

    def close(self) -> None:
        """Stop the server. The kernels it forked are not stopped here: the run that started
        each one stops it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def spawn_kernel(request: dict) -> dict:
    """The same child as the server's, as a fresh interpreter (no fork)."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, **SERVER_ENV, "GRADER_READY_FD": str(write_fd)}
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.kernel.kernels", "launch", json.dumps(request)],
        pass_fds=(write_fd,), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    os.close(write_fd)
    return {"pid": process.pid, "process": process, **_read_ready(read_fd, timeout=60)}


# --- what nbclient sees --------------------------------------------------------------

class _Process:
    """Enough of ``Popen`` for the provisioner, for a kernel that is not our child."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, popen: subprocess.Popen | None = None):
        self.pid, self.popen = pid, popen

    def poll(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return -signal.SIGKILL
        except PermissionError:
            return None
        return None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if timeout is not None and deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            time.sleep(0.005)
        return code

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:  # already gone: nothing left to signal
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class SandboxProvisioner(LocalProvisioner):
    """Launches through the fork server (or the spawned launcher), inside the manager's ``Sandbox``."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        km = self.parent
        assert isinstance(km, SandboxedKernelManager)
        sandbox = km.sandbox
        request = sandbox.request(km.connection_file)
        reply = sandbox.server.ask(request) if sandbox.server is not None else spawn_kernel(request)
        self.process = _Process(reply["pid"], reply.get("process"))  # type: ignore[assignment]  # Popen's duck
        self.pid = self.pgid = reply["pid"]
        self.cwd = str(sandbox.workdir)
        km.containment = Containment(reply.get("active", []), reply.get("inactive", {}))
        if "error" in reply:
            await self.kill()
            raise RuntimeError(reply["error"])
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        await super().kill(restart)
        assert isinstance(self.parent, SandboxedKernelManager)
        sandbox = self.parent.sandbox
        if sandbox.uid is not None:  # whatever the student started, under their uid
            if sandbox.server is not None:
                sandbox.server.ask({"op": "kill_uid", "uid": sandbox.uid})
            else:
                kill_user_processes(sandbox.uid)

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return 0.5


class QuickClient(AsyncKernelClient):
    """Ready as soon as the kernel answers kernel_info. The kernel is known to be up when
    it is launched, so the stock client's 0.2 s wait for stray IOPub messages buys nothing."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 60)
        while True:
            self.kernel_info()
            try:
                msg = await ensure_async(self.shell_channel.get_msg(timeout=1))
                if msg["msg_type"] == "kernel_info_reply":
                    self._handle_kernel_info_reply(msg)
                    return
            except Empty:
                pass
            if time.monotonic() > deadline or not await self._async_is_alive():
                raise RuntimeError("the kernel did not answer")

    wait_for_ready = _async_wait_for_ready  # the base class binds the name to its own method


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that knows its ``Sandbox`` and, once started, what containment took effect."""

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox = sandbox
        self.containment = Containment()


class SandboxSpecs(KernelSpecManager):
    """The one kernel a sandbox runs, without searching the kernel folders: that search imports
    ipykernel and IPython into the grader's process (about 0.07 CPU s in every worker and in every
    ``grader check``) to describe a command that is never run, since kernels start through the
    fork server or ``spawn_kernel``."""

    def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python 3 (ipykernel)", language="python", interrupt_mode="signal",
                          name=kernel_name)


def kernel_manager(sandbox: Sandbox) -> SandboxedKernelManager:
    """A kernel manager that starts its kernel in ``sandbox``."""
    kernel_id = uuid.uuid4().hex
    # Socket paths of their own: a restarted kernel must not meet its predecessor's clients.
    prefix = sandbox.workdir / f".kernel-{kernel_id[:8]}"
    km = SandboxedKernelManager(sandbox, kernel_name="python3", transport="ipc", ip=str(prefix),
                                client_class=f"{__name__}.QuickClient", kernel_spec_manager=SandboxSpecs())
    km.kernel_id = kernel_id
    km.connection_file = f"{prefix}.json"
    km.provisioner = SandboxProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    return km


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        serve()
    elif argv[:1] == ["launch"]:
        kernel_main(json.loads(argv[1]), int(os.environ["GRADER_READY_FD"]), load_harness())
    else:
        raise SystemExit("usage: python -m grader.kernel.kernels serve | launch REQUEST")


if __name__ == "__main__":
    main(sys.argv[1:])
