"""The suite's two kinds of expected failure, each printed as one line.

* A user's mistake: every reader and validator raises a subclass of :class:`UserError`
  (``SpecError``, ``DataError``, ``TableError``, ...), exit code 2.
* A fault of the infrastructure (a database that stays away, a full disk): an
  :class:`InfrastructureFault`, exit code 1. It is never a candidate's or a network's result:
  the code that records failures of what it trains lets it pass, so the work in flight is
  redone on resume instead of being recorded as failed.

So each command catches exactly these, and a traceback always means a bug of the suite.
"""

from __future__ import annotations

USAGE_ERROR = 2  # argparse's own exit code for bad flags; every user mistake shares it
FAULT_EXIT = 1  # an infrastructure fault: the same command resumes once it is repaired


class UserError(ValueError):
    """Unusable input (a flag, a file, a run directory); the message names what and why."""


class UsageError(UserError):
    """A command-line mistake that argparse cannot see (flags that contradict each other,
    a run directory that holds another run)."""


class DataError(UserError):
    """Unusable data: a missing file, a wrong shape, labels out of range, a damaged image."""


class InfrastructureFault(Exception):
    """The infrastructure failed the run (storage unreachable past its patience, disk full);
    the message names the component and what to do. Finished work is saved: the same
    command resumes once the fault is repaired."""


class DiskFull(InfrastructureFault):
    """The file system of a run's files has no space left (``ENOSPC``)."""


__all__ = ["FAULT_EXIT", "USAGE_ERROR", "DataError", "DiskFull", "InfrastructureFault", "UsageError", "UserError"]
