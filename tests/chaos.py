"""Random faults against a running command, which is resumed after each: the harness behind
``tests/test_chaos.py`` (a few faults) and ``benchmarks/chaos.py`` (many).

The command runs in its own session (as a terminal's foreground job: a SIGINT to its process
group is Ctrl-C). Once a new result has finished since the last fault, after a further random
pause, one fault of ``kinds`` is injected (so that every fault has finished work at stake and
lands in the middle of more); whatever the command
does next (rides through, stops, dies), it is run again until it exits 0 with all faults
injected. Before each fault the finished results (trials, networks) are noted; at the end
every one must be unchanged, and none recorded twice. The command's workers orphaned by a
fault are left unreaped (:func:`unreaped_orphans`), as some container init processes leave them.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable

KILL_WORKER = "kill -9 a worker"
KILL_COMMAND = "kill -9 the command"
RESTART_DATABASE = "restart the database"
SIGINT_COMMAND = "Ctrl-C (SIGINT to the command's process group)"
SIGTERM_COMMAND = "SIGTERM to the command"

PR_SET_CHILD_SUBREAPER = 36  # prctl(2)

# What the command is expected to do after each fault: end (and be resumed) or ride through.
ENDS_THE_COMMAND = {KILL_COMMAND, SIGINT_COMMAND, SIGTERM_COMMAND}


@dataclass
class ChaosReport:
    faults: list[str] = field(default_factory=list)  # injected, in order
    invocations: int = 0
    exit_codes: list[int] = field(default_factory=list)
    finished_before_faults: int = 0  # distinct results noted before some fault
    changed: list = field(default_factory=list)  # keys of results changed or gone after a fault
    duplicated: list = field(default_factory=list)  # keys recorded more than once
    tracebacks: int = 0  # invocations whose stderr held a Python traceback
    stderr_lines: int = 0  # all invocations together
    seconds: float = 0.0

    def describe(self) -> str:
        kinds = collections.Counter(self.faults)
        return (f"{len(self.faults)} faults ({', '.join(f'{n} x {kind}' for kind, n in kinds.items())}); "
                f"{self.invocations} invocations (exit codes {self.exit_codes}); "
                f"{self.finished_before_faults} results finished before a fault, {len(self.changed)} changed or "
                f"lost, {len(self.duplicated)} duplicated; {self.tracebacks} tracebacks, {self.stderr_lines} "
                f"stderr lines; {self.seconds:.0f} s")


@contextlib.contextmanager
def unreaped_orphans():
    """While inside, the command's orphans (its workers, once a fault killed the command) are
    adopted by this process and left unreaped, as some container init processes leave them: a
    killed worker stays a zombie, which answers ``kill(pid, 0)`` as a live process would.
    Linux only (``PR_SET_CHILD_SUBREAPER``); elsewhere, nothing changes."""
    if not sys.platform.startswith("linux"):
        yield
        return
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue  # it exited meanwhile
            if state == "Z" and int(parent) == os.getpid():
                os.waitpid(int(stat.parent.name), os.WNOHANG)


def worker_processes(pid: int) -> list[int]:
    """The command's spawned worker processes (not multiprocessing's resource tracker)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    workers = []
    for child in found:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(int(child))
        except OSError:
            pass  # it exited meanwhile
    return workers


def run_with_faults(command: list[str], results: Callable[[], list[tuple[Hashable, object]]], faults: int,
                    kinds: tuple[str, ...], seed: int, restart_database: Callable[[float], None] | None = None,
                    between: tuple[float, float] = (0.0, 4.0), environment: dict | None = None,
                    timeout: float = 1800.0) -> ChaosReport:
    """Run ``command`` until it exits 0, injecting up to ``faults`` faults (fewer when the
    work ends first: ``report.faults`` says); ``results()`` lists the finished results as
    ``(key, value)`` pairs, one per line of the run's logs."""
    with unreaped_orphans():
        return _run_with_faults(command, results, faults, kinds, seed, restart_database, between, environment,
                                timeout)


def _run_with_faults(command, results, faults, kinds, seed, restart_database, between, environment, timeout
                     ) -> ChaosReport:
    rng = random.Random(seed)
    report, noted, seen = ChaosReport(), {}, 0
    start = time.monotonic()
    while True:
        report.invocations += 1
        with tempfile.TemporaryFile("w+") as stderr:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                                       start_new_session=True, env=environment)
            while process.poll() is None:
                if len(report.faults) >= faults:
                    process.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
                    break
                while process.poll() is None and len(results()) <= seen:
                    time.sleep(0.2)
                pause = time.monotonic() + rng.uniform(*between)
                while process.poll() is None and time.monotonic() < pause:
                    time.sleep(0.05)
                if process.poll() is not None:
                    break
                kind = rng.choice(kinds)
                workers = worker_processes(process.pid)
                if kind == KILL_WORKER and not workers:
                    continue  # between trials: no worker to kill now
                finished = results()
                for key, value in finished:
                    noted.setdefault(key, value)
                seen = len(finished)
                _inject(kind, process, workers, rng, restart_database)
                report.faults.append(kind)
                if kind in ENDS_THE_COMMAND:
                    process.wait(timeout=300)
            stderr.seek(0)
            text = stderr.read()
        report.exit_codes.append(process.returncode)
        report.tracebacks += "Traceback" in text
        report.stderr_lines += len(text.strip().splitlines())
        if process.returncode == 0:  # finished: faults still to come found no work left to hit
            break
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"no clean finish within {timeout:.0f} s: {report.describe()}")
    final = results()
    counts = collections.Counter(key for key, _ in final)
    latest = dict(final)
    report.finished_before_faults = len(noted)
    report.changed = [key for key, value in noted.items() if latest.get(key) != value]
    report.duplicated = [key for key, count in counts.items() if count > 1]
    report.seconds = time.monotonic() - start
    return report


def _inject(kind: str, process: subprocess.Popen, workers: list[int], rng: random.Random,
            restart_database: Callable[[float], None] | None) -> None:
    if kind == KILL_WORKER:
        os.kill(rng.choice(workers), signal.SIGKILL)
    elif kind == KILL_COMMAND:
        os.killpg(process.pid, signal.SIGKILL)  # the command and its workers, as a crash would
    elif kind == SIGINT_COMMAND:
        os.killpg(process.pid, signal.SIGINT)
    elif kind == SIGTERM_COMMAND:
        process.send_signal(signal.SIGTERM)
    elif kind == RESTART_DATABASE:
        if restart_database is None:
            raise ValueError("a database restart needs restart_database")
        restart_database(rng.uniform(1.0, 5.0))
    else:
        raise ValueError(f"unknown fault {kind!r}")


def search_scenario(folder: Path, faults: int, seed: int, workers: int = 4, trials: int = 8
                    ) -> tuple[ChaosReport, list]:
    """A search on a PostgreSQL server of its own, with ``workers`` workers, hit by ``faults``
    faults of every kind; returns the report and the run's evaluated records at the end."""
    from infra.trial_state import TrialState
    from runners.search.records import read_records
    from tests.datasets import write_npz
    from tests.postgres import postgres_server

    data = write_npz(folder / "d.npz", n=80, shape=(16, 16))
    run = folder / "search"
    with postgres_server() as server:
        def restart(pause: float) -> None:
            server.stop("fast")
            time.sleep(pause)
            server.start()

        command = [sys.executable, "-m", "runners.search", "--storage", server.url, "--workers", str(workers),
                   "--trials", str(trials), "--data", str(data), "--epochs", "2", "--max-train-samples", "48",
                   "--max-val-samples", "16", "--quiet", "--startup-trials", "2", "--finalists", "0",
                   "--no-pruning", "--out", str(run)]
        report = run_with_faults(
            command, lambda: [(r.number, r) for r in read_records(run) if r.state is not TrialState.INTERRUPTED],
            faults, (KILL_WORKER, KILL_COMMAND, RESTART_DATABASE, SIGINT_COMMAND), seed,
            restart_database=restart, between=(0.0, 2.0))
    return report, [r for r in read_records(run) if r.state is not TrialState.INTERRUPTED]


# The scaling tests' tiny grid with more seeds per point: its networks train in a fraction of
# a second, and a fault needs work in flight to land in.
SCALING_SEEDS = ("--seeds", "6", "--comparison-seeds", "6", "--law-seeds", "4")


def scaling_scenario(folder: Path, faults: int, seed: int, extra: tuple[str, ...] = ()
                     ) -> tuple[ChaosReport, dict, dict]:
    """A scaling grid on 2 worker processes hit by ``faults`` faults (every kind but the
    database's), and the same run uninterrupted and sequential (both with the ``extra``
    flags: a finer grid is more work for more faults); returns the report and both runs'
    ``coefficients.json``."""
    from tests.scaling_runs import ONE_THREAD, coefficients_json, fit_command, logged_networks

    def command(name: str, *flags: str) -> list[str]:
        return fit_command(folder, name, *SCALING_SEEDS, *extra, *flags)

    calm = subprocess.run(command("calm"), env=ONE_THREAD, capture_output=True, text=True, timeout=1800)
    if calm.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed: {calm.stderr[-2000:]}")
    report = run_with_faults(command("chaos", "--workers", "2"), lambda: logged_networks(folder / "chaos"), faults,
                             (KILL_WORKER, KILL_COMMAND, SIGINT_COMMAND, SIGTERM_COMMAND), seed,
                             between=(0.0, 0.5), environment=ONE_THREAD)
    return report, coefficients_json(folder / "chaos"), coefficients_json(folder / "calm")


def restart_scenario(folder: Path, trials: int = 12, workers: int = 2, at: float = 40.0, down: float = 5.0,
                     extra: tuple[str, ...] = ()) -> dict:
    """The database-restart case of issue 23: a ``workers``-worker, ``trials``-trial search
    (the default proxy and data unless ``extra`` says otherwise) on a PostgreSQL server of
    its own; ``at`` seconds in, the server is stopped (``pg_ctl stop -m fast``) and started
    again ``down`` seconds later. Returns what the issue counts."""
    from infra.trial_state import TrialState
    from runners.search.records import read_records
    from tests.postgres import postgres_server

    run = folder / "restart"
    with postgres_server() as server:
        command = [sys.executable, "-m", "runners.search", "--storage", server.url, "--workers", str(workers),
                   "--trials", str(trials), "--quiet", "--out", str(run), *extra]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(at)
        finished_before = len(read_records(run))
        server.stop("fast")
        time.sleep(down)
        server.start()
        out, err = process.communicate(timeout=3600)
    records = read_records(run)
    evaluated = [r for r in records if r.state is not TrialState.INTERRUPTED]
    return {"exit code": process.returncode, "seconds": round(time.monotonic() - started),
            "finished before the restart": finished_before, "evaluated candidates": len(evaluated),
            "failed": sum(r.state is TrialState.FAIL for r in evaluated),
            "interrupted": sum(r.state is TrialState.INTERRUPTED for r in records),
            "stderr lines": len(err.strip().splitlines()), "tracebacks": err.count("Traceback")}
