"""The file system a contained kernel sees: what it needs, and nothing else of the machine.

``new_root`` runs in the kernel's own process, inside its private mount namespace and
before any student code. It builds a fresh, empty root on a small tmpfs and binds into
it only:

* the operating system's programs and shared libraries (``/usr``, and ``/bin``, ``/lib``…
  as the machine has them): the interpreter and NumPy link against them;
* the Python environment the kernel runs on (``sys.prefix``, ``sys.base_prefix`` and the
  real folders they point to: interpreter, standard library, site-packages), read-only;
* the kernel's working directory (which holds the assignment's files), the one
  writable place besides a private, size-limited ``/tmp``, ``/var/tmp`` and ``/dev/shm``;
* from ``/etc`` only ``ld.so.cache`` (where the loader finds shared libraries) and
  ``localtime`` (the time zone), plus a ``passwd`` and ``group`` written fresh that name
  root and the kernel's own user, so that user lookups answer without the machine's list;
* from ``/dev`` only ``null``, ``zero``, ``full``, ``random`` and ``urandom``, and the
  ``fd``/``stdin``/``stdout``/``stderr`` links into ``/proc``;
* a ``/proc`` of its own that shows only the kernel user's processes (``hidepid``), where
  the system allows one; else the machine's, reported as such.

``pivot_root`` then makes this the root and the machine's tree is detached: other
courses, other users' homes, the rest of ``/etc`` and ``/sys`` simply do not exist for
student code. Anything refused before the switch raises ``OSError`` with the machine's
view untouched, so the caller can fall back to the masked view and say so; a failure
after it raises ``RuntimeError``, which stops the kernel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

# Linux mount flags (linux/mount.h) and umount2's detach flag.
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
# pivot_root has no libc wrapper: its system call number, per machine.
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217,
              "i686": 217, "armv7l": 218}

SYSTEM = ("/usr",)
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # links into /usr, or folders
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
DEV_LINKS = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
             "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
KERNEL_FILESYSTEMS = ("/proc", "/sys", "/dev")  # left as they are when everything else turns read-only

# Mount options a read-only remount must keep (inside a user namespace they are locked).
_KEPT_OPTIONS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
                 "nodiratime": 2048, "relatime": 1 << 21}


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def mount(lib, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if lib.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def python_paths() -> list[str]:
    """The folders of the Python environment, none inside another (their real paths too)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    prefixes |= {os.path.realpath(p) for p in prefixes}
    prefixes.add(os.path.dirname(os.path.realpath(sys.executable)))
    return outermost(p for p in prefixes if os.path.isdir(p))


def outermost(paths) -> list[str]:
    """The paths that lie inside no other of them."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def within(path: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def new_root(lib, workdir: str, hidden: list[str], scratch_bytes: int, uid: int | None) -> str:
    """Make the minimal view this process's root; return why ``/proc`` is the machine's, or ""."""
    if platform.machine() not in PIVOT_ROOT:
        raise OSError(f"pivot_root: system call number unknown on {platform.machine()}")
    read_only = [p for p in (*SYSTEM, *python_paths()) if os.path.isdir(p)]
    read_only += [p for p in TOP_LEVEL if os.path.isdir(p) and not os.path.islink(p)]
    files = [p for p in (*ETC_FILES, *DEVICES) if os.path.exists(p)]
    # Held open before anything is mounted: the sources stay reachable whatever covers them.
    held = {p: os.open(p, os.O_PATH) for p in [*read_only, *files, workdir]}
    # Any existing folder will do that is not itself a source (a source covered by the
    # stage would be reached through its fd as the stage): the working directory's parent.
    stage = os.path.dirname(os.path.normpath(workdir))
    if stage == "/" or stage in held:
        raise OSError(f"no folder to build the kernel's root in (working directory {workdir})")
    try:
        mount(lib, "tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for path in read_only:
            _bind(lib, held[path], stage + path, folder=True)
        for path in files:
            _bind(lib, held[path], stage + path, folder=False)
        for path in TOP_LEVEL:
            if os.path.islink(path):
                os.symlink(os.readlink(path), stage + path)
        for link, target in DEV_LINKS.items():
            os.makedirs(os.path.dirname(stage + link), exist_ok=True)
            os.symlink(target, stage + link)
        _write_users(stage, workdir, uid)
        proc_reason = _proc(lib, stage + "/proc")
        size = f"size={scratch_bytes},mode=1777"
        for path in SCRATCH:
            os.makedirs(stage + path, exist_ok=True)
            mount(lib, "tmpfs", stage + path, "tmpfs", MS_NOSUID | MS_NODEV, size)
        _bind(lib, held[workdir], stage + workdir, folder=True)
        # A grader folder inside a bound tree stays out of sight (never one that holds what is bound).
        needed = [*read_only, workdir]
        for path in sorted(set(hidden)):
            if (os.path.isdir(stage + path) and not within(path, SCRATCH)
                    and not any(within(n, (path,)) for n in needed)):
                mount(lib, "tmpfs", stage + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
        os.chdir(stage)
        if lib.syscall(PIVOT_ROOT[platform.machine()], b".", b".") != 0:
            raise OSError(ctypes.get_errno(), f"pivot_root: {os.strerror(ctypes.get_errno())}")
    except OSError:
        os.chdir("/")
        lib.umount2(stage.encode(), MNT_DETACH)  # back to the machine's view, for the fallback
        raise
    finally:
        for fd in held.values():
            os.close(fd)
    try:  # past the switch there is no way back: a failure stops the kernel instead
        # The machine's tree now sits on top of ours: detach it, for good.
        if lib.umount2(b".", MNT_DETACH) != 0:
            raise OSError(ctypes.get_errno(), f"umount the machine's root: {os.strerror(ctypes.get_errno())}")
        os.chdir("/")
        read_only_everywhere(lib, writable=(*SCRATCH, workdir))
        mount(lib, None, workdir, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)
    except OSError as exc:
        raise RuntimeError(f"the kernel's file system view is incomplete: {exc}") from None
    return proc_reason


def _bind(lib, fd: int, target: str, *, folder: bool) -> None:
    if folder:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(lib, f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)


def _write_users(stage: str, workdir: str, uid: int | None) -> None:
    """Root and the kernel's own user, nobody else of the machine."""
    users = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
    groups = ["root:x:0:"]
    if uid is not None:
        users.append(f"student:x:{uid}:{uid}:student:{workdir}:/usr/sbin/nologin")
        groups.append(f"student:x:{uid}:")
    os.makedirs(stage + "/etc", exist_ok=True)
    for name, lines in (("passwd", users), ("group", groups)):
        with open(f"{stage}/etc/{name}", "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def _proc(lib, target: str) -> str:
    """A /proc of the kernel's own, showing only its user's processes; else the machine's."""
    os.makedirs(target, exist_ok=True)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    errors = []
    for option in ("hidepid=invisible", "hidepid=2"):  # the name since Linux 5.8, the number before
        try:
            mount(lib, "proc", target, "proc", flags, option)
            return ""
        except OSError as exc:
            errors.append(exc.strerror or str(exc))
    fd = os.open("/proc", os.O_PATH)
    try:
        _bind(lib, fd, target, folder=True)
    finally:
        os.close(fd)
    return f"a fresh /proc was refused ({errors[-1]}); the machine's is bound instead"


def read_only_everywhere(lib, writable: tuple[str, ...] = ()) -> None:
    """Every mount read-only, but kernel file systems and the ``writable`` places."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        mounts = [line.split() for line in fh]
    for fields_ in mounts:
        target = fields_[4].encode().decode("unicode_escape")
        options = fields_[5].split(",")
        if target in writable or target.startswith(KERNEL_FILESYSTEMS) or "ro" in options:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for option in options:
            flags |= _KEPT_OPTIONS.get(option, 0)
        mount(lib, None, target, None, flags)
