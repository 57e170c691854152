"""Whether a process named by a tag still runs: the check a resuming search makes before it
settles a trial another process left running (a wrong "still runs" leaves the trial counted
forever; a wrong "gone" fails another command's live trial)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.processes import process_runs, process_tag

LINUX = Path("/proc/self/stat").exists()


@pytest.fixture
def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()


def test_this_process_and_a_live_child_run(sleeper):
    assert process_runs(process_tag())
    assert process_runs(process_tag(sleeper.pid))


def test_an_exited_and_reaped_process_does_not_run():
    child = subprocess.Popen(["true"])
    tag = process_tag(child.pid)
    child.wait()
    assert not process_runs(tag)


def _wait_until_zombie(pid: int) -> None:
    for _ in range(200):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not become a zombie")


@pytest.mark.skipif(not LINUX, reason="zombies are told apart by /proc's state field (Linux)")
def test_a_killed_process_nobody_reaped_does_not_run(sleeper):
    """A search's worker killed with its command is adopted by the init process, which in some
    containers never reaps it: its zombie answers kill(pid, 0)."""
    tag = process_tag(sleeper.pid)
    sleeper.kill()  # not waited for: a zombie until the fixture reaps it
    _wait_until_zombie(sleeper.pid)
    os.kill(sleeper.pid, 0)  # what a PID-only check would take for a live process
    assert not process_runs(tag)


@pytest.mark.skipif(not LINUX, reason="start times come from /proc (Linux)")
def test_a_later_process_with_the_same_pid_is_not_the_tagged_one(sleeper):
    pid, start = process_tag(sleeper.pid).split("@")
    assert process_runs(f"{pid}@{start}")
    assert not process_runs(f"{pid}@{int(start) + 1}")


def test_a_tag_without_start_time_is_judged_by_its_pid(sleeper):
    assert process_runs(str(sleeper.pid))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_runs(str(child.pid))


@pytest.mark.parametrize("tag", ["", "abc", "12x@3", "@5"])
def test_a_tag_that_is_not_one_is_refused(tag):
    with pytest.raises(ValueError, match="not a process tag"):
        process_runs(tag)
