"""The errors a user can fix, and the exit codes every command uses.

The CLI turns a ``GraderError`` into one ``error:`` line and its exit code; any other
exception is a bug in the grader and keeps its traceback.
"""
from __future__ import annotations

EXIT_OK = 0  # done (for ``check``: every public check passes)
EXIT_SOME_FAILED = 1  # some submission got no result, or (``check``) a public check fails
EXIT_USAGE = 2  # the command line or its input was wrong
EXIT_ASSIGNMENT = 3  # the assignment itself is broken (its solution fails its own checks)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; finished students are kept


class GraderError(Exception):
    """An error the user can fix; its message is one line that says how."""

    exit_code = EXIT_USAGE


class UsageError(GraderError, ValueError):
    """The command line, a file it names, or an option's value is wrong."""


class UnknownName(UsageError, KeyError):
    """A name the user gave (an assignment's slug, a function) that nothing here knows."""

    def __str__(self) -> str:  # KeyError's own would add quotes
        return str(self.args[0]) if self.args else ""


class AssignmentError(GraderError, ValueError):
    """The instructor's assignment is broken (a spec that does not load, a failing solution)."""

    exit_code = EXIT_ASSIGNMENT
