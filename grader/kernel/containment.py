"""What a student's kernel may do: limits, environment, and (on Linux) namespaces.

``contain()`` runs in the kernel's own process after it is forked or spawned and
before any student code: it applies the resource limits, cuts the network, gives the
kernel a file system holding only what it needs (``fsview.py``; where the system refuses
that, the machine's read-only with the grader's folders behind empty mounts), and drops
to an unprivileged user. Each step that the operating system refuses is recorded, not
fatal: the result of every submission says which protections were active
(``Containment.active``) and why others were not (``Containment.inactive``).

What each step needs:

* resource limits (``setrlimit``): any POSIX system; the process limit binds only
  a non-root user, hence the switch of user;
* a user of its own (``setuid``): the grader running as root (as in CI);
* private mounts and no network (``unshare``): Linux, as root or with
  unprivileged user namespaces.
"""
from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from grader.kernel import fsview
from grader.kernel.fsview import (
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    within,
)

GiB = 1024 ** 3
MiB = 1024 ** 2

# Linux clone flags (linux/sched.h).
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
# The protection that gives the kernel only the files it needs (fsview.py), as results name it.
NEW_ROOT = "deny-by-default file system"

# Where a student may write: private, size-limited, gone when the kernel ends.
PRIVATE_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
# Kernel uids are this plus the grading worker's pid: unique among running kernels.
UID_BASE = 100_000


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits; every field can be set per assignment and from the CLI."""

    cell_seconds: float = 10.0  # one check (or one definition cell)
    submission_seconds: float = 60.0  # everything of one notebook
    cpu_seconds: int = 300  # CPU time of one kernel process
    memory_bytes: int = 4 * GiB  # address space of the kernel
    processes: int = 256  # processes and threads of the kernel's user
    file_bytes: int = 256 * MiB  # largest file the kernel may write
    output_bytes: int = 1 * MiB  # printed text kept per notebook
    network: bool = False
    contain: bool = True  # False: no namespaces, no user switch (limits still apply)

    def updated(self, **changes) -> Limits:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)


def parse_limit(text: str) -> tuple[str, object]:
    """``name=value`` from the command line: ``cell_seconds=5``, ``memory_bytes=2G``, ``network=yes``."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip().replace("-", "_"), raw.strip()
    known = {f.name: f.type for f in fields(Limits)}
    if not sep or name not in known:
        raise ValueError(f"--limit takes NAME=VALUE with NAME one of {', '.join(sorted(known))}; got {text!r}")
    if name in ("network", "contain"):
        if raw.lower() not in ("yes", "no", "true", "false", "1", "0"):
            raise ValueError(f"--limit {name}= takes yes or no, not {raw!r}")
        return name, raw.lower() in ("yes", "true", "1")
    scale = {"K": 1024, "M": MiB, "G": GiB}.get(raw[-1:].upper(), 1) if name.endswith("_bytes") else 1
    number = raw[:-1] if scale != 1 else raw
    try:
        value = float(number) * scale
    except ValueError:
        raise ValueError(f"--limit {name}= takes a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"--limit {name}= must be positive")
    return name, (value if name.endswith("_seconds") and name != "cpu_seconds" else int(value))


@dataclass
class Containment:
    """What one kernel got: protections that took effect, and why others did not."""

    active: list[str] = field(default_factory=list)
    inactive: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"active": list(self.active), "inactive": dict(self.inactive)}


def kernel_environment(workdir: str) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's (credentials, paths) gets through."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",  # no display; plots in given code must not fail
        "MPLCONFIGDIR": os.path.join(workdir, ".config", "matplotlib"),
        "IPYTHONDIR": os.path.join(workdir, ".ipython"),
        "JUPYTER_RUNTIME_DIR": os.path.join(workdir, ".jupyter"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per BLAS: kernels already run one per core.
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


def kernel_uid(worker_pid: int | None = None) -> int:
    return UID_BASE + (worker_pid or os.getpid())


def contain(limits: Limits, workdir: str, hidden: list[str], uid: int | None) -> Containment:
    """Apply everything to the calling process; call it in the kernel's process only."""
    done = Containment()
    # The process limit counts every process of the user: it may only bind a user of our own.
    own_user = limits.contain and os.geteuid() == 0 and uid is not None
    _resource_limits(limits, done, processes=own_user)
    if limits.contain and sys.platform.startswith("linux"):
        _namespaces(limits, workdir, hidden, uid, done)
    elif limits.contain:
        for name in (NEW_ROOT, "private mounts", "hidden grader files", "no network"):
            done.inactive[name] = f"needs Linux namespaces ({sys.platform})"
    if limits.contain:
        _switch_user(uid, workdir, done)
    os.environ.clear()
    os.environ.update(kernel_environment(workdir))
    done.active.append("scrubbed environment")
    os.chdir(workdir)
    return done


def _resource_limits(limits: Limits, done: Containment, *, processes: bool) -> None:
    try:
        import resource
    except ImportError:  # Windows
        done.inactive["resource limits"] = "no setrlimit on this system"
        return
    wanted = [
        ("memory", "RLIMIT_AS", limits.memory_bytes),
        ("CPU time", "RLIMIT_CPU", int(limits.cpu_seconds)),
        ("processes", "RLIMIT_NPROC", limits.processes),
        ("file size", "RLIMIT_FSIZE", limits.file_bytes),
        ("core dumps", "RLIMIT_CORE", 0),
    ]
    if not processes:
        wanted = [w for w in wanted if w[0] != "processes"]
        done.inactive["processes limit"] = "binds only a user of the kernel's own (the grader must run as root)"
    for label, name, value in wanted:
        which = getattr(resource, name, None)
        if which is None:
            done.inactive[f"{label} limit"] = f"{name} does not exist here"
            continue
        try:
            resource.setrlimit(which, (value, value))
            done.active.append(f"{label} limit")
        except (ValueError, OSError) as exc:
            done.inactive[f"{label} limit"] = str(exc)


def _namespaces(limits: Limits, workdir: str, hidden: list[str], uid: int | None, done: Containment) -> None:
    libc = fsview.libc()
    flags = CLONE_NEWNS | (0 if limits.network else CLONE_NEWNET)
    as_root = os.geteuid() == 0
    if not as_root:
        flags |= CLONE_NEWUSER
        own_uid, own_gid = os.geteuid(), os.getegid()
    if libc.unshare(flags) != 0:
        reason = os.strerror(ctypes.get_errno())
        for name in (NEW_ROOT, "private mounts", "hidden grader files", "no network"):
            done.inactive[name] = f"unshare refused: {reason}"
        return
    if not as_root:  # map ourselves to root inside the namespace, so that mounts are allowed
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {own_uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {own_gid} 1")
    if not limits.network:
        done.active.append("no network")
    try:
        fsview.mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks out
    except OSError as exc:
        for name in (NEW_ROOT, "private mounts", "hidden grader files"):
            done.inactive[name] = str(exc)
        return
    try:
        proc = fsview.new_root(libc, workdir, hidden, _scratch_bytes(limits), uid if as_root else None)
        done.active += [NEW_ROOT, "hidden grader files", "read-only file system", "private mounts"]
        if proc:
            done.inactive["own /proc"] = proc
        else:
            done.active.append("own /proc")
        return
    except OSError as exc:  # the machine's whole view, masked, is the fallback
        done.inactive[NEW_ROOT] = f"{exc}; the kernel sees the machine read-only, grader folders hidden"
    _masked_machine(libc, limits, workdir, hidden, done)


def _masked_machine(libc, limits: Limits, workdir: str, hidden: list[str], done: Containment) -> None:
    """The fallback view: the whole machine read-only, the grader's folders behind empty mounts."""
    try:
        _make_reachable(libc, [sys.prefix, sys.base_prefix])
        for path in sorted(set(hidden)):
            if os.path.isdir(path) and not within(path, PRIVATE_SCRATCH):
                fsview.mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
        done.active.append("hidden grader files")
        fsview.read_only_everywhere(libc)
        done.active.append("read-only file system")
        # Fresh scratch space; the working directory (itself under /tmp) is bound back in.
        keep = os.open(workdir, os.O_PATH | os.O_DIRECTORY)
        # A Python installed under /tmp (a throw-away venv) must stay visible, read-only.
        pythons = [(os.open(p, os.O_PATH | os.O_DIRECTORY), p) for p in
                   sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
                   if within(p, PRIVATE_SCRATCH)]
        size = f"size={_scratch_bytes(limits)},mode=1777"
        for path in PRIVATE_SCRATCH:
            if os.path.isdir(path):
                fsview.mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, size)
        for fd, path in pythons:
            os.makedirs(path, exist_ok=True)
            fsview.mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
        os.makedirs(workdir, exist_ok=True)  # inside the fresh scratch, when it lies there
        fsview.mount(libc, f"/proc/self/fd/{keep}", workdir, None, MS_BIND)
        fsview.mount(libc, None, workdir, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)  # the one writable place
        os.close(keep)
        done.active.append("private mounts")
    except OSError as exc:
        done.inactive.setdefault("hidden grader files", str(exc))
        done.inactive.setdefault("private mounts", str(exc))


def _scratch_bytes(limits: Limits) -> int:
    return max(limits.file_bytes, 16 * MiB)


def _make_reachable(libc, keep: list[str]) -> None:
    """Let another user reach the Python the kernel runs on, and nothing next to it.

    Python often lives under a folder only root may enter (``/root/.pyenv``): that folder
    is covered with an empty one in which only the Python installation is bound back.
    """
    import stat

    by_blocker: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in keep}):
        parts = Path(path).parts
        for depth in range(2, len(parts) + 1):
            folder = os.path.join(*parts[:depth])
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                by_blocker.setdefault(folder, []).append(path)
                break
    for blocker, paths in by_blocker.items():
        fds = [(os.open(p, os.O_PATH | os.O_DIRECTORY), p) for p in paths]
        fsview.mount(libc, "tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for fd, path in fds:
            os.makedirs(path, exist_ok=True)
            fsview.mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)


def _switch_user(uid: int | None, workdir: str, done: Containment) -> None:
    if os.geteuid() != 0:
        done.inactive["own user"] = "the grader does not run as root; the kernel keeps its user"
        return
    if uid is None:
        done.inactive["own user"] = "no uid given"
        return
    try:
        for root, dirs, files in os.walk(workdir):
            for name in dirs + files:
                path = os.path.join(root, name)
                # A file with other links is shared with other students' kernels (the inputs):
                # it stays the grader's, read-only.
                if name in dirs or os.lstat(path).st_nlink == 1:
                    os.lchown(path, uid, uid)
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        done.active.append("own user")
    except OSError as exc:
        done.inactive["own user"] = str(exc)


def kill_user_processes(uid: int) -> None:
    """Kill every process of ``uid`` (a student's strays, a fork bomb): root only."""
    if os.geteuid() != 0 or not hasattr(os, "fork"):
        return
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a throw-away child becomes the user, so kill(-1) reaches exactly its processes
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, 9)
        except OSError:
            pass
        os._exit(0)
    os.close(done_w)
    os.read(done_r, 1)  # EOF when the child has exited (it may be reaped by the system)
    os.close(done_r)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
