"""python -m search_space: readable table, JSON object, one-line errors with exit code 2."""

import json

import pytest

from search_space import count_cost, load_spec, write_spec_file
from search_space.__main__ import main
from tests.commands import assert_one_line_error, call, spawn


def test_describe_table_lists_every_stage_and_totals(capsys):
    assert main(["describe", "efficientnet-b0"]) == 0
    out = capsys.readouterr().out
    for part in ["stem", *(f"stage{i}" for i in range(1, 8)), "head", "classifier"]:
        assert part in out
    assert "5,288,548" in out and "384,534,752" in out and "1,280,000" in out


def test_describe_json_has_the_promised_keys(capsys):
    assert main(["describe", "efficientnetv2-s", "--json", "--resolution", "128x431", "--in-channels", "1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"params", "macs", "macs_by_op", "resolution"} <= set(payload)
    spec = load_spec("efficientnetv2-s").__class__(**{**load_spec("efficientnetv2-s").__dict__,
                                                     "resolution": (128, 431), "in_channels": 1})
    assert payload["macs"] == count_cost(spec).macs
    assert payload["resolution"] == [128, 431]
    assert payload["macs_by_op"]["conv"] + payload["macs_by_op"]["linear"] == payload["macs"]


def test_describe_file(tmp_path, capsys):
    path = write_spec_file(load_spec("efficientnet-b1"), tmp_path / "b1.json")
    assert main(["describe", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 7_794_184


@pytest.mark.parametrize("args, words", [
    (["describe", "efficientnet-b9"], "not a preset"),
    (["describe", "efficientnet-b0", "--resolution", "big"], "expected N or HxW"),
    (["describe", "efficientnet-b0", "--num-classes", "0"], "--num-classes: expected a positive integer"),
    (["describe"], "the following arguments are required: spec"),
    (["sample", "missing.yaml"], "no such file"),
    (["frobnicate"], "invalid choice"),
])
def test_user_mistakes_get_one_line_and_exit_2(args, words, capsys):
    assert_one_line_error(call(main, args, capsys), words)


def test_sample_prints_a_loadable_spec_through_the_real_command(tmp_path):
    result = spawn("search_space", "sample", "--seed", "7")
    assert result.code == 0, result.err
    path = tmp_path / "s.yaml"
    path.write_text(result.out)
    from search_space import load_space
    assert load_spec(path) == load_space("default").sample(7)
