"""Naming a process of this machine so that another process can later tell whether it still runs.

A PID alone cannot say it: a process killed with SIGKILL whose parent died too stays a zombie
until whoever adopted it reaps it (some container init processes never do), and ``kill(pid,
0)`` succeeds on a zombie; and PIDs are reused once they wrap at ``pid_max`` (32,768 on many
machines, reached within minutes by a busy test run, threads included). A tag therefore
carries the process's start time where Linux's ``/proc`` tells it (``/proc/PID/stat`` field
22, clock ticks since boot): a later process with the same PID has another.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_ENDED_STATES = {"Z", "X", "x"}  # zombie, dead: the process has exited, only its entry remains


def _stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of ``pid`` from ``/proc``, or ``None`` where no such entry is."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split after the last ")".
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], fields[19]  # fields 3 and 22 of proc(5)


def process_tag(pid: int | None = None) -> str:
    """``"PID@START"`` for ``pid`` (default: this process), or ``"PID"`` where ``/proc`` is absent."""
    pid = os.getpid() if pid is None else pid
    stat = _stat(pid) if _PROC.is_dir() else None
    return str(pid) if stat is None else f"{pid}@{stat[1]}"


def process_runs(tag: str) -> bool:
    """Whether the process ``tag`` (from :func:`process_tag` on this machine) still runs: not
    once its PID is free, held by a zombie, or held by a later process (another start time).
    A tag without a start time (older, or from a machine without ``/proc``) is judged by its
    PID alone. Raises ``ValueError`` for a tag that is not one."""
    pid_text, _, start = tag.partition("@")
    if not pid_text.isdigit():
        raise ValueError(f"not a process tag: {tag!r}")
    pid = int(pid_text)
    if _PROC.is_dir():
        stat = _stat(pid)
        return stat is not None and stat[0] not in _ENDED_STATES and (not start or stat[1] == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
