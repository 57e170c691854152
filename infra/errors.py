"""The suite's one kind of user mistake: printed as one line, exit code 2.

Every reader and validator raises a subclass of :class:`UserError` (``SpecError``,
``DataError``, ``TableError``, ...), so each command catches exactly one type and a
traceback always means a bug of the suite, never a mistake of its user.
"""

from __future__ import annotations

USAGE_ERROR = 2  # argparse's own exit code for bad flags; every user mistake shares it


class UserError(ValueError):
    """Unusable input (a flag, a file, a run directory); the message names what and why."""


class UsageError(UserError):
    """A command-line mistake that argparse cannot see (flags that contradict each other,
    a run directory that holds another run)."""


class DataError(UserError):
    """Unusable data: a missing file, a wrong shape, labels out of range, a damaged image."""


__all__ = ["USAGE_ERROR", "DataError", "UsageError", "UserError"]
