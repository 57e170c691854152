"""python -m runners.evaluate: the search's proxy on given specs, seeds paired across specs."""

import json
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.evaluate.command import main, summary
from runners.search.command import main as search_main
from search_space import load_space, write_spec_file
from tests.commands import assert_one_line_error, call, spawn
from tests.datasets import TINY_SPACE, write_npz

FAST = ["--epochs", "1", "--batch-size", "32", "--max-train-samples", "96", "--max-val-samples", "48"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "tiny.yaml").write_text(TINY_SPACE)
    space = load_space(folder / "tiny.yaml")
    return {
        "npz": str(write_npz(folder / "d.npz", n=160, shape=(24, 72))),
        "space": str(folder / "tiny.yaml"),
        "a": str(write_spec_file(space.sample(1), folder / "a.yaml")),
        "b": str(write_spec_file(space.sample(2), folder / "b.yaml")),
    }


def lines(outcome):
    return [json.loads(line) for line in outcome.out.splitlines()]


def test_json_lines_per_spec_and_seed(files, capsys):
    outcome = call(main, [files["a"], files["b"], "--seeds", "2", "--json", "--quiet", "--data", files["npz"], *FAST],
                   capsys)
    assert outcome.code == 0, outcome.err
    rows = lines(outcome)
    assert [(row["spec"], row["seed"]) for row in rows] == [(files["a"], 0), (files["b"], 0), (files["a"], 1),
                                                           (files["b"], 1)]
    for row in rows:
        assert 0 <= row["accuracy"] <= 1 and row["seconds"] > 0 and row["macs"] > 0
    # Same spec, other seed: another measurement; same spec and seed again: the same one.
    again = lines(call(main, [files["a"], "--json", "--quiet", "--data", files["npz"], *FAST], capsys))
    assert again[0]["accuracy"] == rows[0]["accuracy"]


def test_scores_a_spec_exactly_as_the_search_did(files, tmp_path, capsys):
    """The search's record of a trained candidate and runners.evaluate of that candidate's
    spec, with the same flags, are one measurement."""
    out = tmp_path / "run"
    flags = ["--data", files["npz"], *FAST, "--seed", "4"]
    assert search_main(["--space", files["space"], "--budget-flops", "12M", "--trials", "1", "--no-pruning",
                        "--out", str(out), "--quiet", *flags]) == 0
    record = pd.read_csv(out / "results.csv").iloc[0]
    assert record["state"] == "COMPLETE"
    outcome = call(main, [out, "--json", "--quiet", *flags], capsys)
    assert outcome.code == 0, outcome.err
    measured = lines(outcome)[0]
    assert measured["accuracy"] == pytest.approx(record["proxy_accuracy"])
    assert measured["macs"] == record["macs"] and measured["blocks"] == record["spec"]


def test_table_names_the_best_and_whether_it_is_separated(files, capsys):
    outcome = call(main, [files["a"], files["b"], "--seeds", "2", "--quiet", "--data", files["npz"], *FAST], capsys)
    assert outcome.code == 0, outcome.err
    assert "95% interval" in outcome.out and "(2 seeds)" in outcome.out
    assert re.search(r"^best: \S+; (NOT )?separated from \S+ \(paired difference", outcome.out, re.M)
    assert re.search(r"^ranking: .*over 2 candidates x 2 seeds", outcome.out, re.M)


def test_the_ranking_line_says_whether_the_proxy_separates_the_specs():
    clear = summary(planted({"a": [0.5, 0.52, 0.51], "b": [0.7, 0.71, 0.7], "c": [0.9, 0.9, 0.92]}), ["a", "b", "c"])
    assert "ranking: this proxy separates these candidates" in clear
    noisy = summary(planted({"a": [0.5, 0.7, 0.6], "b": [0.7, 0.5, 0.6], "c": [0.6, 0.6, 0.6]}), ["a", "b", "c"])
    assert "ranking: the candidates are not distinguishable at this proxy" in noisy
    assert "ranking:" not in summary(planted({"a": [0.5], "b": [0.7]}), ["a", "b"])  # one seed: not measured


def _verdict(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("best: "))


def planted(accuracies: dict[str, list[float]]) -> list[dict]:
    return [{"spec": name, "seed": seed, "accuracy": accuracy, "seconds": 1.0, "macs": 10**6, "params": 10}
            for name, values in accuracies.items() for seed, accuracy in enumerate(values)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.2, 0.8), min_size=3, max_size=6), st.floats(0.02, 0.2),
       st.lists(st.floats(-1e-3, 1e-3), min_size=6, max_size=6))
def test_a_planted_clear_winner_is_named_and_separated(base, gap, noise):
    """The runner-up scores the winner's accuracies less ``gap`` at every seed (paired), give
    or take a thousandth: the summary names the winner and separates it."""
    rows = planted({"weak": base, "strong": [a + gap + e for a, e in zip(base, noise)]})
    verdict = _verdict(summary(rows, ["weak", "strong"]))
    assert verdict.startswith("best: strong; separated from weak (")


@settings(max_examples=50, deadline=None)
@given(st.floats(0.2, 0.8), st.floats(0.01, 0.1), st.integers(1, 3))
def test_seed_noise_without_a_difference_is_not_separated(level, swing, pairs):
    """Two specs that trade places seed by seed, one ahead by a tenth of the swing on
    average: far inside the seed noise, so the one named best is NOT separated."""
    second = [level + swing * (-1) ** seed for seed in range(2 * pairs)]
    first = [a - 2 * swing * (-1) ** seed + swing / 10 for seed, a in enumerate(second)]
    verdict = _verdict(summary(planted({"x": first, "y": second}), ["x", "y"]))
    assert verdict.startswith("best: x; NOT separated from y (")


@pytest.mark.parametrize("args, words", [
    (["no-such-net"], "not a preset"),
    (["efficientnet-b0", "--seeds", "0"], "--seeds"),
    (["efficientnet-b0", "--seeds", "2.5"], "--seeds"),
    (["efficientnet-b0", "--epochs", "-1"], "--epochs"),
])
def test_bad_input_is_one_line(args, words, files, capsys):
    assert_one_line_error(call(main, [*args, "--data", files["npz"]], capsys), words)


def test_smoke_subprocess(files):
    outcome = spawn("runners.evaluate", files["a"], "--json", "--data", files["npz"], *FAST)
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out.splitlines()[0])["spec"] == files["a"]
