"""What student code must leave alone in its kernel, checked after every step it runs.

A region can replace functions that the harness and the kernel's own messaging call
(``json.dumps``, ``pickle``, ``zmq``, ``os.write``, ``sys.stdout``, ``threading``…) or close
the file descriptors of the kernel's sockets. ``KernelGuard`` remembers all of them as they
were before any student code ran; after a step it names what changed and puts back what
can be put back, so the harness can still write that step's result. The harness then
ends the kernel, and a fresh one runs the rest (see ``harness.py``).

Like the harness, this runs inside the kernel: its source is sent ahead of the harness's,
so it imports nothing but the standard library.
"""
import os
import stat
import sys

# Modules whose functions, classes and submodules the harness or the kernel's messaging use.
GUARDED_MODULES = (
    "builtins", "json", "json.decoder", "json.encoder", "pickle", "os", "posix", "io", "zipfile",
    "numpy", "numpy.random", "numpy.lib.format", "numpy.lib._npyio_impl", "signal", "time",
    "threading", "traceback", "linecache", "zmq", "zmq.sugar.socket", "zmq.sugar.context",
    "zmq.eventloop.zmqstream", "jupyter_client.session", "ipykernel.iostream", "ipykernel.kernelbase",
    "ipykernel.ipkernel",
)
# Classes whose methods run for every message the kernel sends, as (module, class name).
GUARDED_CLASSES = (
    ("zmq", "Socket"), ("zmq", "Context"), ("zmq.eventloop.zmqstream", "ZMQStream"),
    ("threading", "Thread"), ("jupyter_client.session", "Session"),
    ("ipykernel.iostream", "OutStream"), ("ipykernel.iostream", "IOPubThread"),
)
GUARDED_SYS = ("stdout", "stderr", "stdin", "displayhook", "excepthook")

# Bound now: student code may replace the builtins before the guard runs again.
_setattr, _getattr, _vars, _isinstance, _callable = setattr, getattr, vars, isinstance, callable
_sorted, _set, _str, _int, _dict, _type = sorted, set, str, int, dict, type
_fstat, _listdir = os.fstat, os.listdir
_MISSING = object()


def _watched(value):
    return _callable(value) or _isinstance(value, _type(sys))


class KernelGuard:
    """A snapshot of what the kernel relies on; ``changed`` and ``restore`` after each step."""

    def __init__(self, namespace=None):
        # (where, [(name, value, label), ...]): ``where`` is a module's or namespace's dict, or a
        # class; grouped by where, so a check after each step looks each place up once.
        self.groups = []
        self.modules = {}
        for name in GUARDED_MODULES:
            module = sys.modules.get(name)
            if module is None:
                continue
            self.modules[name] = module
            self.groups.append((vars(module), [(key, value, name + "." + key)
                                               for key, value in vars(module).items() if _watched(value)]))
        for module_name, class_name in GUARDED_CLASSES:
            cls = getattr(self.modules.get(module_name), class_name, None)
            if _isinstance(cls, type):
                prefix = "%s.%s." % (module_name, class_name)
                self.groups.append((cls, [(key, value, prefix + key) for key, value in vars(cls).items()]))
        if namespace is not None:  # the harness's own functions
            self.groups.append((namespace, [(key, value, "the harness's " + key)
                                            for key, value in namespace.items() if _watched(value)]))
        self.streams = {}
        self.descriptors = {}

    def remember_job_state(self):
        """The streams and file descriptors as a job starts (ipykernel may set them between cells)."""
        self.streams = {name: _getattr(sys, name, None) for name in GUARDED_SYS}
        self.descriptors = _open_descriptors()

    def changed(self):
        """Sorted names of what differs from the snapshot (empty when nothing does)."""
        names = []
        for where, entries in self.groups:
            now = _contents(where)
            names += [label for key, value, label in entries if now.get(key, _MISSING) is not value]
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                names.append("sys.modules[%r]" % name)
        for name, stream in self.streams.items():
            if _getattr(sys, name, None) is not stream:
                names.append("sys." + name)
        lost = [fd for fd, identity in self.descriptors.items() if _identity(fd) != identity]
        if lost:
            names.append("file descriptors " + ", ".join(_str(fd) for fd in lost))
        return _sorted(_set(names))

    def restore(self):
        """Put back every function, class, module and stream (closed descriptors stay closed)."""
        for where, entries in self.groups:
            now = _contents(where)
            for key, value, _ in entries:
                if now.get(key, _MISSING) is not value:
                    try:
                        if _isinstance(where, _dict):
                            where[key] = value
                        else:
                            _setattr(where, key, value)
                    except (AttributeError, TypeError):
                        pass
        for name, module in self.modules.items():
            sys.modules[name] = module
        for name, stream in self.streams.items():
            _setattr(sys, name, stream)


def _contents(where):
    """A namespace as it is now: the dict itself, or a class's own attributes."""
    return where if _isinstance(where, _dict) else _vars(where)


def _identity(fd):
    try:
        st = _fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _open_descriptors():
    """The kernel's sockets and pipes (its link to the grader), by number and identity."""
    try:
        numbers = [_int(n) for n in _listdir("/proc/self/fd")]
    except OSError:  # not Linux: the first few hundred
        numbers = list(range(256))
    found = {}
    for fd in numbers:
        try:
            mode = _fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
            found[fd] = _identity(fd)
    return found
