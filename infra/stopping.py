"""Stopping on a signal: the first SIGINT or SIGTERM stops the work, saves it, and exits
with 128 + the signal's number (130, 143), as shells report a process a signal ended; a
second one ends the process at once.

A command's body runs inside :func:`stop_on_signals` (``infra.cli.run_main`` does this).
The first signal raises :class:`Stopped` (a ``KeyboardInterrupt``, so every ``except
KeyboardInterrupt`` that saves what finished also sees SIGTERM, as a batch scheduler or
``docker stop`` sends it). Work in flight is abandoned, not finished: the run's logs are
append-only and their rewrites atomic (:mod:`infra.files`), so what finished is on disk and
a resume redoes only what was in flight. The second signal kills the worker processes and
exits without any clean-up: everything finished is already on disk.

A block that must not be cut (a record written and known to be; a library's bookkeeping that
does not survive an exception, such as Optuna's telling of a trial) runs inside
:func:`deferred_stop`: a first signal arriving there is held, and raised when the block ends
or where an inner :func:`allow_stop` block (the training a stop may cut) begins.

Worker processes ignore SIGINT (:func:`ignore_interrupts`): Ctrl-C in a terminal signals the
whole process group, and only the command decides what a stop means.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """The first SIGINT or SIGTERM a command received."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(interrupt: BaseException) -> str:
    """``SIGINT`` or ``SIGTERM``: what stopped the command (a bare ``KeyboardInterrupt`` is Ctrl-C)."""
    return signal.Signals(getattr(interrupt, "signum", signal.SIGINT)).name


def stop_exit_code(interrupt: BaseException) -> int:
    """128 + the signal's number: 130 for SIGINT (or a bare ``KeyboardInterrupt``), 143 for SIGTERM."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


def _stop_at_once(signum: int) -> None:
    for child in multiprocessing.active_children():
        child.kill()
    os._exit(128 + signum)


@contextmanager
def stop_on_signals():
    """Within the block, the first SIGINT or SIGTERM raises :class:`Stopped` in the main
    thread and a second one exits at once. Outside the main thread (where Python cannot
    install handlers) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum, frame):
        if received:
            _stop_at_once(signum)
        received.append(signum)
        if _deferring and _deferring[-1] is not None:
            _deferring[-1].append(signum)
            return
        raise Stopped(signum)

    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# The open blocks, innermost last: a deferred_stop's held signals, or None for an allow_stop
# (main thread only).
_deferring: list[list[int] | None] = []


@contextmanager
def deferred_stop():
    """Within the block a first stop signal is held, and raised as :class:`Stopped` when the
    block ends (only in the main thread, where handlers run; elsewhere it changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    _deferring.append(held)
    try:
        yield
    finally:
        _deferring.pop()
    if held:
        raise Stopped(held[0])


@contextmanager
def allow_stop():
    """Within a :func:`deferred_stop` block, a stop may land inside this one: a signal held
    so far is raised as it begins, and one arriving inside it is raised at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = next((signals for signals in reversed(_deferring) if signals), None)
    if held:
        signum = held[0]
        held.clear()  # raised here, not again when the outer block ends
        raise Stopped(signum)
    _deferring.append(None)
    try:
        yield
    finally:
        _deferring.pop()


def exit_quietly_on_interrupt() -> None:
    """Until :func:`stop_on_signals` takes over, a SIGINT ends the process with 130 and no
    traceback: a Ctrl-C while a command is still importing (torch takes seconds) has nothing
    to save. Called first by each command's ``__main__``; never by library code, whose
    caller's handlers are its own. ``os._exit``, not ``sys.exit``: a ``SystemExit`` raised
    where the signal lands (a finaliser, a library's clean-up) can be printed and ignored."""
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(128 + signum))


def ignore_interrupts() -> None:
    """For a worker process: SIGINT is the command's to act on (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["Stopped", "allow_stop", "deferred_stop", "exit_quietly_on_interrupt", "ignore_interrupts", "signal_name",
           "stop_exit_code", "stop_on_signals"]
