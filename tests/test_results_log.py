"""The run directory's files under parallel workers: the append-only log and the tables
rewritten by every worker must stay whole."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from infra.files import append_json_line, read_json_lines, write_atomically


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
