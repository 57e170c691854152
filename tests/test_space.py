"""Search spaces: sampling, Optuna suggestion, validation of space files, MAC range."""

import statistics

import optuna
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from search_space import NetworkSpec, SpecError, count_cost, load_space
from search_space.space import IntRange, space_from_dict

DEFAULT = load_space("default")


@given(st.integers(0, 2**63))
def test_samples_are_valid_and_deterministic(seed):
    spec = DEFAULT.sample(seed)
    assert isinstance(spec, NetworkSpec)
    assert spec == DEFAULT.sample(seed)
    assert len(spec.stages) == 7
    assert [s.stride for s in spec.stages] == [1, 2, 2, 2, 1, 2, 1]
    for stage, choices in zip(spec.stages, DEFAULT.stages):
        assert stage.block in choices.block and stage.kernel in choices.kernel
        assert choices.repeats.low <= stage.repeats <= choices.repeats.high


def test_default_space_covers_the_declared_choices():
    specs = [DEFAULT.sample(seed) for seed in range(400)]
    assert {s.stages[1].block for s in specs} == {"MBConv", "FusedMBConv", "GhostMBConv", "GhostFusedMBConv"}
    assert {s.stages[3].kernel for s in specs} == {3, 5, 7}
    assert {s.stages[3].expansion for s in specs} == {1, 3, 4, 6}
    assert {str(s.stages[3].attention) for s in specs} == {"None", "se0.25", "eca"}
    assert len({s for s in specs}) == len(specs)


def test_default_space_spans_roughly_a_tenth_to_one_and_a_half_gmacs():
    macs = sorted(count_cost(DEFAULT.sample(seed)).macs / 1e9 for seed in range(500))
    low, high = macs[len(macs) // 20], macs[-len(macs) // 20]  # 5th and 95th percentiles
    assert 0.08 <= macs[0] and low <= 0.3
    assert 1.0 <= high <= 1.6
    assert 0.3 <= statistics.median(macs) <= 0.8


def test_suggest_uses_the_same_names_and_decoder_as_sample():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    spec = DEFAULT.suggest(trial)
    assert set(trial.params) == set(DEFAULT.parameters())
    assert DEFAULT.from_params(trial.params) == spec
    assert trial.distributions["stage2.repeats"] == optuna.distributions.IntDistribution(1, 3)


def test_from_params_rejects_foreign_values():
    params = dict(optuna.create_study().ask().params)
    with pytest.raises(SpecError, match="missing from the trial parameters"):
        DEFAULT.from_params(params)


def small_space(**overrides):
    data = {
        "name": "tiny",
        "resolution": [32, 48],
        "stem_channels": 8,
        "head_channels": [16, 32],
        "defaults": {"block": "MBConv", "kernel": [3, 5], "expansion": 1, "attention": "none"},
        "stages": [{"stride": 1, "repeats": {"low": 1, "high": 2}, "out_channels": 8},
                   {"stride": 2, "repeats": 1, "out_channels": [8, 16]}],
    }
    data.update(overrides)
    return data


def test_grid_enumerates_every_network():
    space = space_from_dict(small_space())
    specs = list(space.grid())
    assert space.size == len(specs) == 2 * 2 * 2 * 2 * 2
    assert len(set(specs)) == len(specs)
    assert all(s.resolution == (32, 48) for s in specs)


@pytest.mark.parametrize("overrides, words", [
    ({"stages": [{"stride": 1, "repeats": 1, "out_channels": 8, "kernel": [3, 4]}]}, r"stages\[0\]\.kernel\[1\]: must be an odd integer"),
    ({"stages": [{"stride": 3, "repeats": 1, "out_channels": 8}]}, r"stages\[0\]\.stride: must be one of 1, 2"),
    ({"stages": [{"stride": 1, "repeats": {"low": 3, "high": 1}, "out_channels": 8}]}, r"stages\[0\]\.repeats: needs integers 1 <= low <= high"),
    ({"stages": [{"stride": 1, "repeats": 1, "out_channels": 8, "colour": 1}]}, r"stages\[0\]\.colour: unknown key"),
    ({"stages": [{"stride": 1, "repeats": 1}]}, r"stages\[0\]\.out_channels: missing"),
    ({"stages": [{"stride": 1, "repeats": 1, "out_channels": 8, "attention": ["se2"]}]}, r"stages\[0\]\.attention\[0\]"),
    ({"stages": [{"stride": 1, "repeats": 1, "out_channels": [8, 8]}]}, r"stages\[0\]\.out_channels: lists a choice twice"),
    ({"stages": [{"stride": 1, "repeats": 1, "out_channels": []}]}, r"stages\[0\]\.out_channels: must list at least one"),
    ({"stages": []}, r"stages: must be a non-empty list"),
    ({"head_channels": [16, 0]}, r"head_channels\[1\]: must be an integer between 1 and"),
    ({"dropout": 1.2}, r"dropout: must be a number"),
    ({"defaults": {"kernal": 3}}, r"defaults\.kernal: unknown key"),
    ({"budget": 1}, r"budget: unknown key"),
])
def test_bad_space_names_the_field(overrides, words):
    with pytest.raises(SpecError, match=words):
        space_from_dict(small_space(**overrides))


def test_load_space_from_file_and_errors(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(small_space()))
    assert load_space(path).stages[0].repeats == IntRange(1, 2)
    path.write_text("stages: [")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_space(path)
    with pytest.raises(SpecError, match="no such file"):
        load_space(tmp_path / "nope.yaml")
