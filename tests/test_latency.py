"""Batch-1 latency: the measurement's statistics, the per-block table's parts (their input
shapes are the model's), predictions from the table without building the network."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search_space import build_model, latency, load_space, load_spec
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
    # Each part built alone is the model's part: it takes the model's weights (same parameter
    # names and shapes) and then computes what the model's part computes on that input.
    torch.manual_seed(seed)
    pooled_classifier = torch.nn.Sequential(model.pool, torch.nn.Flatten(1), model.classifier)  # eval: no dropout
    for part, module in zip(parts, [model.stem, *model.blocks, model.head, pooled_classifier]):
        alone = part.build().eval()
        alone.load_state_dict(module.state_dict())
        x = torch.randn(2, *part.input_shape)
        with torch.inference_mode():
            torch.testing.assert_close(alone(x), module(x))


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


KINDS = ("stem", "MBConv/SqueezeExcitation", "GhostMBConv/none", "head")


@settings(max_examples=25, deadline=None)
@given(intercepts=st.lists(st.floats(0, 0.5), min_size=4, max_size=4),
       rates=st.lists(st.floats(0, 0.05), min_size=4, max_size=4),
       shared=st.tuples(st.floats(0, 0.02), st.floats(0, 0.01), st.floats(0, 0.01)), seed=st.integers(0, 999))
def test_the_part_model_recovers_a_planted_non_negative_linear_law(intercepts, rates, shared, seed):
    """Latencies that are exactly such a law are predicted back, for parts it never saw too."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def law(kind, cost):
        macs, activations, params = (value / scale for value, scale in zip(cost, latency.PartModel.SCALES))
        index = KINDS.index(kind)
        return intercepts[index] + macs * (rates[index] + shared[0]) + activations * shared[1] + params * shared[2]

    def cost():
        return tuple(int(v) for v in rng.integers(1, 50, 3) * np.array([1e6, 1e5, 1e5]) / 10)

    rows = [(kind, c, law(kind, c)) for kind in KINDS for c in (cost() for _ in range(12))]
    model = latency.PartModel(rows)
    for kind in KINDS:
        unseen = cost()
        assert model.predict(kind, unseen) == pytest.approx(law(kind, unseen), rel=1e-3, abs=1e-4)
    assert model.predict("FusedMBConv/none", (0, 0, 0)) == pytest.approx(0.0, abs=1e-9)  # never seen: shared rates
    assert model.predict("FusedMBConv/none", cost()) >= 0


def test_unseen_parts_are_predicted_by_the_regression_without_building_the_network(tmp_path, monkeypatch):
    space = load_space("default")
    table = LatencyTable(threads=1, path=tmp_path / "table.json", repeats=5)
    table.fill([small(space.sample(seed), side=40) for seed in range(6)])
    assert table.model() is not None and len(table.entries) >= latency.MIN_MODEL_PARTS
    unseen = small(space.sample(1234), side=40)
    assert any(part.key not in table.entries for part in spec_parts(unseen))
    monkeypatch.setattr(latency, "build_model", lambda *a, **k: pytest.fail("built the network"))
    entries = dict(table.entries)
    predicted = LatencyTable(threads=1, path=tmp_path / "table.json").predict(unseen, measure_unseen=False)
    assert predicted > 0 and table.entries == entries  # nothing measured, nothing added
    # With measuring allowed the spec is built once and its parts join the table.
    monkeypatch.undo()
    measured_table = LatencyTable(threads=1, path=tmp_path / "table.json", repeats=5)
    measured_table.predict(unseen)
    assert all(part.key in measured_table.entries for part in spec_parts(unseen))


def test_a_table_too_small_for_a_regression_times_unseen_parts(tmp_path):
    table = LatencyTable(threads=1, path=tmp_path / "table.json", repeats=3)
    spec = small(load_spec("efficientnet-b0"), side=24)
    assert table.model() is None
    table.predict(spec, measure_unseen=False)  # no model yet: its parts are timed
    assert all(part.key in table.entries for part in spec_parts(spec))
