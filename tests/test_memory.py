"""The memory a process can still allocate: the least of the machine's MemAvailable, its
memory cgroup's room (a container's limit) and its resource limits, read from a fake root."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from infra.memory import available_memory

GIB = 2**30


def fake_root(folder: Path, available_kib: int | None = None, cgroup: dict[str, str] | None = None) -> Path:
    """A tree with ``proc/meminfo`` (when ``available_kib`` is given) and cgroup files."""
    (folder / "proc").mkdir(parents=True, exist_ok=True)
    if available_kib is not None:
        (folder / "proc/meminfo").write_text(f"MemTotal: {2 * available_kib} kB\nMemAvailable: {available_kib} kB\n")
    for name, text in (cgroup or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def v2(limit: str, usage: int, inactive_file: int = 0) -> dict[str, str]:
    return {"sys/fs/cgroup/memory.max": limit + "\n", "sys/fs/cgroup/memory.current": f"{usage}\n",
            "sys/fs/cgroup/memory.stat": f"anon {usage - inactive_file}\ninactive_file {inactive_file}\n"}


def v1(limit: int, usage: int, inactive_file: int = 0) -> dict[str, str]:
    return {"sys/fs/cgroup/memory/memory.limit_in_bytes": f"{limit}\n",
            "sys/fs/cgroup/memory/memory.usage_in_bytes": f"{usage}\n",
            "sys/fs/cgroup/memory/memory.stat": f"cache {inactive_file}\ntotal_inactive_file {inactive_file}\n"}


def test_without_a_cgroup_limit_it_is_memavailable(tmp_path):
    assert available_memory(fake_root(tmp_path, 8 * 2**20)) == 8 * GIB
    assert available_memory(fake_root(tmp_path / "v2", 8 * 2**20, v2("max", 3 * GIB))) == 8 * GIB
    unlimited_v1 = v1(9223372036854771712, 3 * GIB)  # what cgroup v1 writes for "no limit"
    assert available_memory(fake_root(tmp_path / "v1", 8 * 2**20, unlimited_v1)) == 8 * GIB


def test_a_containers_limit_counts_its_usage_less_the_page_cache_it_can_drop(tmp_path):
    """A 16 GiB machine, a 6 GiB container using 4 GiB of which 1 GiB is droppable file cache."""
    assert available_memory(fake_root(tmp_path / "v2", 16 * 2**20, v2(str(6 * GIB), 4 * GIB, GIB))) == 3 * GIB
    assert available_memory(fake_root(tmp_path / "v1", 16 * 2**20, v1(6 * GIB, 4 * GIB, GIB))) == 3 * GIB


def test_nothing_readable_is_unknown(tmp_path):
    assert available_memory(fake_root(tmp_path)) is None


@given(available=st.integers(0, 2**40), limit=st.integers(0, 2**40), usage=st.integers(0, 2**40),
       cache=st.integers(0, 2**40), version=st.sampled_from([v1, v2]))
def test_it_is_the_least_of_the_machine_and_the_cgroup(available, limit, usage, cache, version):
    cache = min(cache, usage)
    with tempfile.TemporaryDirectory() as folder:
        cgroup = version(str(limit) if version is v2 else limit, usage, cache)
        answer = available_memory(fake_root(Path(folder), available // 1024, cgroup))
    assert answer == min(available // 1024 * 1024, max(0, limit - (usage - cache)))
