"""The run directory's files under parallel workers and on a full disk: the append-only log
and the tables rewritten by every worker must stay whole."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.errors import DiskFull
from infra.files import append_json_line, read_json_lines, unreadable_lines, write_atomically, write_json
from search_space import NetworkSpec, StageSpec, build_model
from search_space.checkpoint import read_checkpoint, save_checkpoint
from tests.filesystems import fill, small_filesystem


def _append_many(path, worker: int, lines: int) -> None:
    for index in range(lines):
        append_json_line(path, {"worker": worker, "index": index, "padding": "x" * 20_000})


def test_parallel_appends_of_long_lines_never_interleave(tmp_path):
    path = tmp_path / "trials.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, worker, 40)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    rows = read_json_lines(path)
    assert len(path.read_text().splitlines()) == len(rows) == 160  # no torn or merged line
    assert sorted((row["worker"], row["index"]) for row in rows) == [(w, i) for w in range(4) for i in range(40)]


def test_parallel_rewrites_of_one_table_all_succeed_and_leave_no_temporary(tmp_path):
    target = tmp_path / "results.csv"
    errors = []

    def rewrite(worker: int) -> None:
        try:
            for index in range(50):
                write_atomically(target, lambda path: path.write_text(f"{worker},{index}\n" * 100))
        except Exception as error:  # collected: an exception in a thread would not fail the test
            errors.append(error)

    threads = [threading.Thread(target=rewrite, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(target.read_text().splitlines())) == 1  # one writer's whole table, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_failed_write_leaves_the_old_table_and_no_temporary(tmp_path):
    target = tmp_path / "best.yaml"
    target.write_text("old\n")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["best.yaml"]


@pytest.fixture(scope="module")
def small_disk():
    with small_filesystem("256k") as directory:
        yield directory


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 30_000), min_size=1, max_size=40))
def test_appends_on_a_filling_disk_keep_whole_lines_and_go_on_once_space_is_freed(small_disk, sizes):
    """Whatever the line sizes, a log on a file system that fills up holds exactly the rows
    whose append returned, each whole, and the failed append names the file; once space is
    freed, appends continue after whole lines."""
    log = small_disk / "trials.jsonl"
    log.unlink(missing_ok=True)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (200 * 1024))  # a disk nearly full before the run
    written = []
    try:
        for index, size in enumerate(sizes):
            row = {"index": index, "padding": "x" * size}
            try:
                append_json_line(log, row)
            except DiskFull as error:
                assert str(error).startswith(f"no space left on the device of {log}: ") and "rerun" in str(error)
                break
            written.append(row)
        assert read_json_lines(log) == written and unreadable_lines(log) == []
    finally:
        filler.unlink()
    append_json_line(log, {"after": True})
    assert read_json_lines(log) == [*written, {"after": True}]


def test_rewrites_on_a_full_disk_leave_the_previous_file_and_no_temporary(small_disk):
    spec = NetworkSpec(stem_channels=8, stages=(StageSpec("MBConv", 1, 3, 1, 1, 8),), head_channels=16,
                       resolution=16, num_classes=3, in_channels=1)
    for path in small_disk.iterdir():
        path.unlink()
    table, checkpoint = small_disk / "coefficients.json", small_disk / "last.pt"
    write_json(table, {"alpha": 1.2})
    save_checkpoint(checkpoint, spec, build_model(spec), epoch=1)
    filler = fill(small_disk)
    try:
        with pytest.raises(DiskFull, match=f"no space left on the device of {table}: writing it needs "):
            write_json(table, {"alpha": 1.3, "padding": "x" * 100_000})
        with pytest.raises(DiskFull, match=f"no space left on the device of {checkpoint}"):
            save_checkpoint(checkpoint, spec, build_model(spec), epoch=2, padding=torch.zeros(100_000))
        assert sorted(p.name for p in small_disk.iterdir()) == ["coefficients.json", "filler", "last.pt"]
        assert json.loads(table.read_text()) == {"alpha": 1.2}
        assert read_checkpoint(checkpoint)["epoch"] == 1
    finally:
        filler.unlink()
