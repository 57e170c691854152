"""A small file system a test can fill: a ``tmpfs`` mounted for the test (as root, which the
suite's machines and CI are; the PostgreSQL tests need root's ``runuser`` the same way).

Where no tmpfs can be mounted the suite stops with a one-line hint rather than skipping
silently: the full-disk tests are part of what it checks.
"""

from __future__ import annotations

import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

MOUNT_HINT = ("the full-disk tests mount a small tmpfs: run the suite as root (or with CAP_SYS_ADMIN), as the "
              "README's test command and CI do")


@contextmanager
def small_filesystem(size: str = "4m"):
    """Yield an empty directory on a fresh ``tmpfs`` of ``size`` bytes (``mount``'s units)."""
    mount_point = Path(tempfile.mkdtemp(prefix="small-fs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.exit(f"{MOUNT_HINT} (mount said: {mounted.stderr.strip()})", returncode=2)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
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
