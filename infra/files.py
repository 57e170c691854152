"""Files that survive a kill: atomic rewrites and append-only JSON-lines logs."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Callable

from infra.errors import UsageError


def check_creatable(directory: Path, flag: str) -> None:
    """One line unless ``directory`` exists as a directory or can be created: its nearest
    existing ancestor must be a directory this process may write to. Called before any
    work starts, so that a bad ``--out`` costs nothing."""
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise UsageError(f"{flag} {directory}: exists and is not a directory")
        return
    ancestor = directory.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {directory}: cannot be created, {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {directory}: cannot be created, {ancestor} is not writable")


def make_directory(directory: Path, flag: str) -> None:
    """``mkdir -p`` with the operating system's refusal (a read-only or virtual file system)
    as one line naming the flag."""
    check_creatable(directory, flag)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{flag} {directory}: cannot be created ({error.strerror or error})") from None


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)``, then rename over ``target``: readers never see a half-written file.

    The temporary sibling's name is unique per process and call, so parallel workers
    rewriting the same table never take each other's file; the suffix stays last because
    some writers choose the format by it (YAML or JSON specs).
    """
    target = Path(target)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON, atomically."""
    write_atomically(path, lambda temporary: temporary.write_text(json.dumps(data, indent=2, allow_nan=True),
                                                                  encoding="utf-8"))


def append_json_line(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line and fsync, so it survives ``kill -9`` right after.

    One ``write`` on an ``O_APPEND`` descriptor, so lines from parallel workers never
    interleave (a buffered writer may split a long line into several writes).
    """
    line = (json.dumps(row, allow_nan=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, line)
        if written != len(line):  # a full disk: fail loudly rather than leave a torn line
            raise OSError(f"{path}: wrote {written} of {len(line)} bytes")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_json_lines(path: Path) -> list:
    """Every complete JSON line of a log written by :func:`append_json_line`.

    A line that does not parse (a torn last line: the process died mid-write) is skipped, so
    a log is read for what it can still tell (:func:`unreadable_lines` says which were); a
    line that parses to something other than the object its reader expects is that reader's
    to refuse (:func:`infra.rows.read_rows`).
    """
    return [row for row in _parsed_lines(path) if row is not _UNREADABLE]


def unreadable_lines(path: Path) -> list[int]:
    """Line numbers (from 1) of ``path`` that :func:`read_json_lines` skipped."""
    return [number for number, row in enumerate(_parsed_lines(path), start=1) if row is _UNREADABLE]


_UNREADABLE = object()


def _parsed_lines(path: Path) -> list:
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError):
            rows.append(_UNREADABLE)
    return rows


__all__ = ["append_json_line", "check_creatable", "make_directory", "read_json_lines", "unreadable_lines", "write_atomically", "write_json"]
