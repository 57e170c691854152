"""A small file system a test can fill: a ``tmpfs`` mounted for the test, as root or through
``sudo -n`` (as CI installs its packages); a tmpfs's root directory is writable by everyone.

Where no tmpfs can be mounted the suite stops with a one-line hint rather than skipping
silently: the full-disk tests are part of what it checks.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

MOUNT_HINT = ("the full-disk tests mount a small tmpfs: run the suite as root, or as a user who may run "
              "'sudo -n mount' (as CI does)")
AS_ROOT = [] if os.geteuid() == 0 else ["sudo", "-n"]


@contextmanager
def small_filesystem(size: str = "4m"):
    """Yield an empty directory on a fresh ``tmpfs`` of ``size`` bytes (``mount``'s units)."""
    mount_point = Path(tempfile.mkdtemp(prefix="small-fs-"))
    mounted = subprocess.run([*AS_ROOT, "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.exit(f"{MOUNT_HINT} (mount said: {mounted.stderr.strip()})", returncode=2)
    try:
        yield mount_point
    finally:
        subprocess.run([*AS_ROOT, "umount", "-l", str(mount_point)], capture_output=True)
        mount_point.rmdir()


def fill(directory: Path) -> Path:
    """Take every free byte of ``directory``'s file system; returns the file to delete to free it."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def fill_when(command: list[str], ready, disk: Path, timeout: float = 300.0) -> Path:
    """Run ``command``; once ``ready()`` is true, fill ``disk``. Asserts that the command then
    ends with exit 1 and one line naming a full device (the suite's promise); returns the
    filler, to delete before the resume."""
    import time

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None:
        assert time.monotonic() < deadline, "the command never reached the point to fill the disk at"
        time.sleep(0.01)
    filler = fill(disk)
    _, err = process.communicate(timeout=timeout)
    lines = err.strip().splitlines()
    assert process.returncode == 1 and len(lines) == 1, err[-2000:]
    assert lines[0].startswith("error: no space left on the device of ") and "rerun" in lines[0], err
    assert not list(disk.rglob(".*.tmp*")), "a temporary file was left behind"
    return filler
