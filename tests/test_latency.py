"""Batch-1 latency: the measurement's statistics, the per-block table's parts (their input
shapes are the model's), predictions from the table without building the network."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search_space import build_model, load_space, load_spec
from search_space import latency
from search_space.__main__ import main
from search_space.latency import LatencyTable, measure_latency, spec_parts
from tests.commands import assert_one_line_error, call


def small(spec, side=32):
    return dataclasses.replace(spec, in_channels=1, num_classes=10, resolution=(side, side + 8))


def test_measured_latency_states_its_percentiles_and_threads():
    measured = measure_latency(small(load_spec("efficientnet-b0")), threads=1, repeats=12)
    assert 0 < measured.p10_ms <= measured.median_ms <= measured.p90_ms <= measured.p99_ms
    assert measured.threads == 1 and measured.repeats == 12 and "1 thread" in measured.describe()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_parts_are_the_model_s_parts_with_their_input_shapes(seed):
    spec = small(load_space("default").sample(seed), side=48)
    parts = spec_parts(spec)
    model = build_model(spec).eval()
    seen = []
    modules = [model.stem, *model.blocks, model.head, model.pool]
    hooks = [m.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[1:]))) for m in modules]
    with torch.inference_mode():
        model(torch.zeros(1, spec.in_channels, *spec.resolution))
    for hook in hooks:
        hook.remove()
    assert [part.input_shape for part in parts] == seen
    assert len(parts) == spec.total_blocks + 3
    # Each part built alone computes what the model's part does on that input.
    block = parts[1].build().eval()
    assert type(block) is type(model.blocks[0]) and block(torch.zeros(1, *parts[1].input_shape)).shape[1] == \
        model.blocks[0](torch.zeros(1, *parts[1].input_shape)).shape[1]


def test_a_spec_of_known_parts_is_predicted_without_building_it(tmp_path, monkeypatch):
    spec = small(load_spec("efficientnet-b0"))
    table = LatencyTable(threads=1, path=tmp_path / "table.json", repeats=8)
    first = table.predict(spec)
    assert first > 0 and table.measured == len({part.key for part in spec_parts(spec)})
    # A new table object reads the saved one; a spec of the same parts (B0 with one fewer
    # repeat in a stage of identical blocks) is predicted from it alone.
    shorter = dataclasses.replace(spec, stages=(*spec.stages[:5], dataclasses.replace(spec.stages[5], repeats=3),
                                                spec.stages[6]))
    monkeypatch.setattr(latency, "build_model", lambda *a, **k: pytest.fail("built the network"))
    again = LatencyTable(threads=1, path=tmp_path / "table.json", repeats=8)
    assert again.predict(spec) == pytest.approx(first)
    assert {part.key for part in spec_parts(shorter)} <= set(again.entries)
    assert 0 < again.predict(shorter) < first and again.measured == 0


def test_bad_latency_flags_are_one_line(capsys):
    assert_one_line_error(call(main, ["latency", "efficientnet-b0", "--threads", "0"], capsys), "--threads")
    assert_one_line_error(call(main, ["latency", "no-such-preset"], capsys), "no-such-preset")
