"""The finalists rung (runners.search.finalists): a planted clear winner is separated and
returned; noise leaves every finalist equivalent and the cheapest one is reported; the race
resumes from its log; and the search command writes and reports the decision."""

import dataclasses
import json
import re

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.trial_state import TrialState
from runners.search.command import main
from runners.search.finalists import (FINALISTS_DECISION, FINALISTS_LOG, RungOptions, planned_looks, race,
                                      select_finalists)
from runners.search.records import TrialRecord
from tests.commands import assert_one_line_error, call
from tests.datasets import TINY_SPACE, write_npz


def _records(count: int, params) -> list[TrialRecord]:
    return [TrialRecord(number=i, state=TrialState.COMPLETE, spec=f"net-{i}", spec_dict={"net": i}, params=int(params[i]),
                        macs=390_000_000, reward=0.8 - 0.01 * i, proxy_accuracy=0.8 - 0.01 * i)
            for i in range(count)]


def _race(tmp_path, records, truth, noise_seed, options, noise=0.01):
    rng_of = lambda trial, seed: np.random.default_rng([noise_seed, trial, seed])  # noqa: E731
    calls = []

    def train(record, seed):
        calls.append((record.number, seed))
        return float(truth[record.number] + rng_of(record.number, seed).normal(0, noise))

    decision = race(records, train, options, tmp_path, score=lambda r, accuracy: accuracy,
                    cost=lambda r: float(r.params), screening_score=lambda r: r.reward)
    return decision, calls


@settings(max_examples=25, deadline=None)
@given(noise_seed=st.integers(0, 2**32 - 1), count=st.integers(2, 5), data=st.data())
def test_a_planted_clear_winner_is_separated_and_returned_even_when_it_is_the_dearest(
        tmp_path_factory, noise_seed, count, data):
    winner = data.draw(st.integers(0, count - 1))
    truth = np.full(count, 0.70)
    truth[winner] = 0.85  # 0.15 above the others, noise 0.005: separated by the fourth seed at the latest
    params = np.arange(count) + 1.0
    params[winner] = 100.0  # the dearest: the tie-break must not overrule a separated winner
    decision, _ = _race(tmp_path_factory.mktemp("race"), _records(count, params), truth, noise_seed, RungOptions(count),
                        noise=0.005)
    assert decision.winner == winner and decision.chosen == winner
    assert decision.equivalent == (winner,)
    assert all(comparison.first_is_higher for comparison in decision.comparisons.values())


def test_noise_leaves_every_finalist_equivalent_and_the_cheapest_is_reported(tmp_path):
    """Equal true scores: over 200 noise draws, the whole set is equivalent in at least 95% of
    them by the race's simultaneous level (90% asked here, for the draws' own spread), and
    whenever it is, the cheapest is reported."""
    count, draws, whole = 4, 200, 0
    params = np.array([5.0, 3.0, 9.0, 4.0])
    for noise_seed in range(draws):
        directory = tmp_path / str(noise_seed)
        directory.mkdir()
        decision, _ = _race(directory, _records(count, params), np.full(count, 0.75), noise_seed, RungOptions(count))
        chosen_cost = decision.finalist(decision.chosen).cost
        assert chosen_cost == min(decision.finalist(t).cost for t in decision.equivalent)
        if len(decision.equivalent) == count:
            whole += 1
            assert decision.chosen == 1 and decision.saving == pytest.approx(
                1 - 3.0 / params[decision.winner])
    assert whole >= 0.9 * draws


def test_racing_stops_at_a_separated_leader_and_at_the_seed_cap(tmp_path):
    options = RungOptions(3, min_seeds=2, max_seeds=4)
    (tmp_path / "clear").mkdir()
    (tmp_path / "tied").mkdir()
    _, clear = _race(tmp_path / "clear", _records(3, [1, 2, 3]), [0.9, 0.5, 0.5], 0, options, noise=0.0005)
    assert sorted(clear) == [(t, s) for t in range(3) for s in range(2)]  # separated after 2 seeds
    _, tied = _race(tmp_path / "tied", _records(3, [1, 2, 3]), [0.7, 0.7, 0.7], 0, options, noise=0.05)
    assert max(seed for _, seed in tied) == 3  # raced to the cap


def test_the_race_resumes_from_its_log_without_retraining(tmp_path):
    options = RungOptions(3, min_seeds=2, max_seeds=3)
    first, calls = _race(tmp_path, _records(3, [1, 2, 3]), [0.7, 0.71, 0.72], 7, options, noise=0.05)
    lines = (tmp_path / FINALISTS_LOG).read_text().splitlines()
    assert len(lines) == len(calls)
    again, more = _race(tmp_path, _records(3, [1, 2, 3]), [0.7, 0.71, 0.72], 7, options, noise=0.05)
    assert more == [] and again.to_json() == first.to_json()
    assert json.loads((tmp_path / FINALISTS_DECISION).read_text())["chosen"] == first.chosen


def test_a_race_at_another_recipe_retrains_instead_of_reading_the_log(tmp_path):
    """Trainings logged at one rung recipe say nothing of another: changed epochs, images or
    resolution scale are trained anew, and the first recipe's rows are still read by it."""
    options = RungOptions(2, min_seeds=2, max_seeds=2)
    _, calls = _race(tmp_path, _records(2, [1, 2]), [0.7, 0.8], 3, options)
    for change in ({"epochs": 5}, {"max_train_samples": 100}, {"resolution_scale": 2.0}, {"max_val_samples": 50}):
        _, again = _race(tmp_path, _records(2, [1, 2]), [0.7, 0.8], 3, dataclasses.replace(options, **change))
        assert sorted(again) == sorted(calls), change
    _, same = _race(tmp_path, _records(2, [1, 2]), [0.7, 0.8], 3, options)
    assert same == []


def test_a_time_budget_of_zero_still_gives_every_finalist_its_first_seeds(tmp_path):
    options = RungOptions(3, min_seeds=2, max_seeds=4, seconds=0.0)
    _, calls = _race(tmp_path, _records(3, [1, 2, 3]), [0.7, 0.7, 0.7], 0, options, noise=0.05)
    assert sorted(calls) == [(t, s) for t in range(3) for s in range(2)]


def test_finalists_are_the_top_distinct_complete_candidates():
    records = _records(4, [1, 2, 3, 4])
    records[1].spec = records[0].spec  # the same network sampled twice: one finalist
    records.append(TrialRecord(number=9, state=TrialState.PRUNED, spec="net-9", spec_dict={"net": 9}, reward=0.99))
    records.append(TrialRecord(number=8, state=TrialState.COMPLETE, spec="net-8", reward=0.98))  # no spec to train
    chosen = select_finalists(records, lambda r: r.reward, 3)
    assert [r.number for r in chosen] == [0, 2, 3]


@pytest.mark.parametrize("kwargs, words", [({"count": 1}, "count must be 0"), ({"min_seeds": 1}, "min_seeds"),
                                           ({"tie_break": "colour"}, "tie_break"),
                                           ({"resolution_scale": 0.0}, "resolution_scale")])
def test_bad_rung_options_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RungOptions(**kwargs)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "tiny.yaml").write_text(TINY_SPACE)
    return {"npz": str(write_npz(folder / "data.npz", n=160, shape=(24, 72))), "space": str(folder / "tiny.yaml")}


def _search(files, out, *extra):
    return ["--data", files["npz"], "--space", files["space"], "--budget-flops", "12M", "--out", out, "--epochs", "1",
            "--batch-size", "32", "--max-train-samples", "96", "--max-val-samples", "48", "--quiet", "--no-pruning",
            "--trials", "3", "--finalists", "2", *extra]


def test_the_search_reports_the_rung_and_points_best_yaml_at_its_choice(files, tmp_path, capsys):
    out = tmp_path / "run"
    outcome = call(main, _search(files, out), capsys)
    assert outcome.code == 0, outcome.err
    decision = json.loads((out / FINALISTS_DECISION).read_text())
    assert len(decision["finalists"]) == 2 and decision["chosen"] in decision["equivalent"]
    chosen = next(f for f in decision["finalists"] if f["trial"] == decision["chosen"])
    best = yaml.safe_load((out / "best.yaml").read_text())
    from search_space import spec_from_dict, stages_summary
    assert stages_summary(spec_from_dict(best)) == chosen["spec"]
    assert "equivalence set" in outcome.out and "ranking at the rung" in outcome.out
    # Without --rung-* flags the rung retrains at the screening's own recipe, on fresh seeds.
    rows = [json.loads(line) for line in (out / FINALISTS_LOG).read_text().splitlines()]
    assert {json.dumps(row["recipe"], sort_keys=True) for row in rows} == {json.dumps(
        {"epochs": 1, "max_train_samples": 96, "resolution_scale": 1.0, "max_val_samples": 48}, sort_keys=True)}
    assert all(sum(row["trial"] == f["trial"] for row in rows) >= 4 for f in decision["finalists"])
    trainings = len(rows)
    again = call(main, _search(files, out), capsys)  # resumed: nothing retrained
    assert again.code == 0 and len((out / FINALISTS_LOG).read_text().splitlines()) == trainings


@pytest.mark.parametrize("extra, words", [(["--finalists", "1"], "0 (off) or 2 or more finalists"),
                                          (["--finalists", "two"], "--finalists"),
                                          (["--tie-break", "latency"], "--tie-break latency needs --budget-latency")])
def test_bad_rung_flags_one_line_exit_2(files, tmp_path, extra, words, capsys):
    assert_one_line_error(call(main, _search(files, tmp_path / "run", *extra), capsys), words)


@settings(max_examples=60, deadline=None)
@given(seconds=st.floats(0, 1e4), first=st.floats(0, 1e3), count=st.integers(2, 6), extra=st.integers(0, 4))
def test_planned_looks_fit_the_budget_and_never_exceed_the_seed_cap(seconds, first, count, extra):
    options = RungOptions(count, min_seeds=2, max_seeds=2 + extra, seconds=seconds)
    looks = planned_looks(options, count, first)
    assert 1 <= looks <= extra + 1
    if first > 0 and looks > 1:  # every planned round fits at the first rounds' pace
        assert first + (looks - 1) * first / 2 <= seconds + 1e-9
    more = planned_looks(dataclasses.replace(options, seconds=seconds * 2 + 1), count, first)
    assert more >= looks  # a larger budget never plans fewer looks


def test_a_pareto_search_prints_its_front_and_the_front_thinned_by_its_seed_noise(files, tmp_path, capsys):
    outcome = call(main, _search(files, tmp_path / "run", "--objective", "pareto", "--seeds", "2", "--trials", "4"),
                   capsys)
    assert outcome.code == 0, outcome.err
    front = next(line for line in outcome.out.splitlines() if line.startswith("Pareto front (proxy accuracy vs MACs)"))
    thinned = next(line for line in outcome.out.splitlines() if "separated by the seed noise" in line)
    listed = lambda line: re.findall(r"trial (\d+) \(", line)  # noqa: E731
    assert listed(front) and set(listed(thinned)) <= set(listed(front)) and listed(thinned)[0] == listed(front)[0]


def test_front_lines_say_why_a_front_of_single_seeds_is_not_thinned():
    from runners.search.candidates import SearchSettings
    from runners.search.driver import front_lines
    from runners.search.records import Objective

    settings = SearchSettings(budget=400_000_000, objective=Objective("pareto"))
    records = [TrialRecord(number=n, state=TrialState.COMPLETE, macs=m, proxy_accuracy=a, seed_accuracies=[a])
               for n, (m, a) in enumerate([(300e6, 0.70), (350e6, 0.75), (320e6, 0.60)])]
    lines = front_lines(settings, records)
    assert lines[0].startswith("Pareto front") and "trial 2" not in lines[0]  # dominated: dearer than 0, worse
    assert "not thinned: one seed per candidate" in lines[1]
    assert front_lines(SearchSettings(budget=400_000_000), records) == []  # a single-winner search has no front


def test_front_lines_thin_a_front_of_seeded_points_to_those_the_seed_noise_separates():
    """Three front points at two seeds each: the second is within the seed noise of the
    cheapest and is dropped; the third is far above both and kept."""
    from runners.search.candidates import SearchSettings
    from runners.search.driver import front_lines
    from runners.search.records import Objective

    settings = SearchSettings(budget=400_000_000, objective=Objective("pareto"), seeds=2)
    seeds = [(300e6, [0.700, 0.710]), (320e6, [0.705, 0.715]), (380e6, [0.900, 0.910])]
    records = [TrialRecord(number=n, state=TrialState.COMPLETE, macs=m, proxy_accuracy=sum(a) / 2, seed_accuracies=a)
               for n, (m, a) in enumerate(seeds)]
    front, thinned = front_lines(settings, records)
    assert re.findall(r"trial (\d+) \(", front) == ["0", "1", "2"]
    assert re.findall(r"trial (\d+) \(", thinned) == ["0", "2"] and "trials 1 are not separated" in thinned
