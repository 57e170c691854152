"""The memory this process can still allocate: what a command checks before it allocates
data or starts a training that would not fit (the kernel's out-of-memory killer ends a
process with SIGKILL and no message).

Three limits, the least wins: the machine's ``MemAvailable`` (``/proc/meminfo``); the
memory cgroup of a container or batch job (cgroup v2 ``memory.max``, v1
``memory.limit_in_bytes``; a container sees its own cgroup at the mount's root), less what
the group uses apart from page cache the kernel can drop; and a resource limit of the
process (``ulimit -v`` / ``-d``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path("/")
# (limit, usage, memory.stat's field of reclaimable page cache): cgroup v2, then v1.
CGROUP_FILES = (("sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory.current", "inactive_file"),
                ("sys/fs/cgroup/memory/memory.limit_in_bytes", "sys/fs/cgroup/memory/memory.usage_in_bytes",
                 "total_inactive_file"))
UNLIMITED = 2**60  # cgroup v1 writes "no limit" as the largest page-aligned 64-bit value


def _status_bytes(path: Path, field: str) -> int | None:
    """A ``kB`` field of ``/proc/meminfo`` or ``/proc/self/status`` in bytes (Linux), else ``None``."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room(root: Path) -> int | None:
    """Bytes the process's memory cgroup still allows, or ``None`` without a limit."""
    for limit_file, usage_file, cache_field in CGROUP_FILES:
        try:
            limit_text = (root / limit_file).read_text().strip()
            usage = int((root / usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or not limit_text.isdigit() or int(limit_text) >= UNLIMITED:
            return None
        cache = 0
        try:
            for line in (root / limit_file).with_name("memory.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == cache_field:
                    cache = int(value)
        except (OSError, ValueError):
            pass
        return max(0, int(limit_text) - max(0, usage - cache))
    return None


def available_memory(root: Path = ROOT) -> int | None:
    """Bytes this process can still allocate (the least of the module docstring's limits),
    or ``None`` where none of them can be read."""
    import resource  # Unix only: imported where the answer is asked for

    candidates = [_status_bytes(root / "proc/meminfo", "MemAvailable"), _cgroup_room(root)]
    for limit, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft = resource.getrlimit(limit)[0]
        current = _status_bytes(root / "proc/self/status", used)
        if soft != resource.RLIM_INFINITY and current is not None:
            candidates.append(max(0, soft - current))
    known = [value for value in candidates if value is not None]
    return min(known) if known else None


__all__ = ["available_memory"]
