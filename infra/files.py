"""Files that survive a kill and a full disk: atomic rewrites and append-only JSON-lines logs.

A file system that fills up (``ENOSPC``, or a quota: ``EDQUOT``) while a run writes is a
:class:`~infra.errors.DiskFull` naming the file and the space it needed; what is on disk
stays whole: a rewrite leaves the previous file, an append leaves the log without a torn
last line, so the same command resumes once space is freed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from infra.errors import DiskFull, UsageError

FULL = (errno.ENOSPC, errno.EDQUOT)
# Writers that are not plain file objects (torch.save's zip writer) say only that a write
# failed; a file system with less than this left is taken to be the cause.
NEARLY_FULL_BYTES = 1 << 20


def disk_full(path: Path, needed: int | None) -> DiskFull:
    """The one line of a write of ``needed`` bytes (at least; None: not known) that found
    ``path``'s file system full."""
    free = _size(shutil.disk_usage(_existing(Path(path))).free)
    what = f"writing it needs {_size(needed)}, {free} is free" if needed is not None else f"{free} is free"
    return DiskFull(f"no space left on the device of {path}: {what}; free some and rerun the same command to "
                    "continue")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} byte{'s' * (count != 1)}"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"


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


def write_atomically(target: Path, write: Callable[[Path], object], size: int = 0) -> None:
    """``write(temporary)``, then rename over ``target``: readers never see a half-written file.

    The temporary sibling's name is unique per process and call, so parallel workers
    rewriting the same table never take each other's file; the suffix stays last because
    some writers choose the format by it (YAML or JSON specs). ``size``, where the caller
    knows it, is what a full disk's message says the file needs (else: at least what was
    written before the failure, or the size of the file it replaces).
    """
    target = Path(target)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        write(temporary)
        os.replace(temporary, target)
    except Exception as error:
        full = _is_full(error) or (temporary.exists() and shutil.disk_usage(target.parent).free < NEARLY_FULL_BYTES)
        # What it needed: at least what it wrote before the failure, or the file it replaces.
        needed = max(size, temporary.stat().st_size if temporary.exists() else 0,
                     target.stat().st_size if target.exists() else 0)
        temporary.unlink(missing_ok=True)
        if full:
            raise disk_full(target, needed) from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _is_full(error: BaseException) -> bool:
    return any(isinstance(seen, OSError) and seen.errno in FULL for seen in causes(error))


def causes(error: BaseException):
    """``error`` and the exceptions it was raised from or during, innermost last."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, allow_nan=True).encode("utf-8")
    write_atomically(path, lambda temporary: temporary.write_bytes(text), size=len(text))


def append_json_line(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line and fsync, so it survives ``kill -9`` right after.

    One ``write`` on an ``O_APPEND`` descriptor, so lines from parallel workers never
    interleave (a buffered writer may split a long line into several writes).
    """
    line = (json.dumps(row, allow_nan=True) + "\n").encode("utf-8")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        if error.errno in FULL:
            raise disk_full(path, len(line)) from None
        raise
    try:
        written = 0
        try:
            written = os.write(descriptor, line)
            if written == len(line):
                os.fsync(descriptor)
                return
        except OSError as error:
            if error.errno not in FULL:
                raise
        # The file system filled up: cut what part of the line got written (if no other
        # writer appended since), so that a resume appends after whole lines only.
        end = os.fstat(descriptor).st_size
        if written:
            os.ftruncate(descriptor, end - written)
        raise disk_full(path, len(line))
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


__all__ = ["FULL", "append_json_line", "causes", "check_creatable", "disk_full", "make_directory", "read_json_lines", "unreadable_lines", "write_atomically", "write_json"]
