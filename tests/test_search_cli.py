"""python -m runners.search end to end on small generated data: outputs, resume after
kill -9, failures, reproducibility, both backends, and one-line errors with exit code 2."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys

import optuna
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.trial_state import TrialState
from runners.search import candidates as evaluation
from runners.search.command import main
from runners.search.records import TrialRecord, read_records
from search_space import count_cost, load_spec
from tests.commands import assert_one_line_error, call, spawn
from tests.datasets import GRID_SPACE, TINY_SPACE, write_image_folder, write_npz

FAST = ["--epochs", "2", "--batch-size", "32", "--max-train-samples", "96", "--max-val-samples", "48", "--quiet",
        "--finalists", "0"]  # the rung has its own tests (test_finalists.py)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "tiny.yaml").write_text(TINY_SPACE)
    (folder / "grid.yaml").write_text(GRID_SPACE)
    return {
        "npz": str(write_npz(folder / "spectrograms.npz", n=160, shape=(24, 72))),
        "space": str(folder / "tiny.yaml"),
        "grid": str(folder / "grid.yaml"),
        "images": str(write_image_folder(folder / "images")),
    }


def search(files, out, *extra, budget="12M", space=True):
    args = ["--data", files["npz"], "--budget-flops", budget, "--out", str(out), *FAST, *extra]
    if space:
        args += ["--space", files["space"]]
    return main(args)


def table(out):
    return pd.read_csv(out / "results.csv")


def test_run_directory_is_complete(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "3") == 0
    assert f"dashboard: python -m analysis.dashboard {out}" in capsys.readouterr().out
    for name in ("study.db", "trials.jsonl", "results.csv", "results.parquet", "best.yaml", "config.json"):
        assert (out / name).is_file(), name
    frame = table(out)
    assert list(frame["number"]) == [0, 1, 2]
    assert set(frame.columns) >= {"number", "state", "spec", "macs", "params", "proxy_accuracy", "reward",
                                  "duration_s", "failure_reason"}
    assert pd.read_parquet(out / "results.parquet")["spec"].tolist() == frame["spec"].tolist()
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(trained) and trained["macs"].between(0.9 * 12e6, 12e6).all()
    best = load_spec(out / "best.yaml")
    assert best.in_channels == 1 and best.num_classes == 4
    assert count_cost(best).macs == frame.loc[frame["reward"].idxmax(), "macs"]
    assert json.loads((out / "config.json").read_text())["kind"] == "search"


def test_rerun_continues_the_study(files, tmp_path):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "2") == 0
    first = table(out)
    assert search(files, out, "--trials", "4") == 0
    second = table(out)
    assert len(second) == 4
    pd.testing.assert_frame_equal(second.iloc[:2], first)
    # A resumed sampler continues the search; it does not replay the first run's draws.
    assert not set(second["spec"][2:]) & set(first["spec"])


def test_parallel_workers_share_one_study(files, tmp_path):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "4", "--workers", "2", "--proxy", "zero-cost") == 0
    frame = table(out)
    assert sorted(frame["number"]) == [0, 1, 2, 3]
    assert frame["spec"].nunique() == 4  # workers draw from different random streams


def _wait_for_progress(process: subprocess.Popen, finished: int, total: int) -> None:
    """Block on the progress bar's output until it reports ``finished`` trials (or the search ends)."""
    seen = b""
    while f"{finished}/{total}".encode() not in seen:
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            return
        seen = seen[-200:] + chunk


def test_kill_minus_nine_loses_no_completed_trial(files, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "runners.search", "--data", files["npz"], "--space", files["space"],
               "--budget-flops", "12M", "--out", str(out), "--trials", "6", *FAST]
    process = subprocess.Popen([c for c in command if c != "--quiet"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _wait_for_progress(process, 2, 6)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    before = read_records(out)
    assert len(before) >= 2
    rerun = spawn(*command[2:])
    assert rerun.code == 0, rerun.err
    after = {r.number: r for r in read_records(out)}
    for record in before:  # every trial finished before the kill is still there, unchanged
        assert after[record.number] == record
    finished = [r for r in after.values() if r.state is not TrialState.INTERRUPTED]
    assert len(finished) == 6
    for record in (r for r in after.values() if r.state is TrialState.INTERRUPTED):
        # The trial in flight runs again with its parameters, unless the kill came while they
        # were still being chosen (a partial set is no candidate).
        rerun_found = any(r.params_sampled == record.params_sampled for r in finished)
        assert rerun_found == ("queued again" in record.failure_reason)


def test_failing_and_nan_trials_are_recorded_and_the_search_goes_on(files, tmp_path, monkeypatch):
    real = evaluation.train_and_evaluate
    calls = []

    def flaky(spec, data, config, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulated out-of-memory")
        if len(calls) == 2:
            from runners.learning.loop import TrainingDiverged
            raise TrainingDiverged("loss became nan at epoch 1, sample 0")
        return real(spec, data, config, **kwargs)

    monkeypatch.setattr(evaluation, "train_and_evaluate", flaky)
    out = tmp_path / "run"
    assert search(files, out, "--trials", "3", "--no-pruning") == 0
    frame = table(out).set_index("number")
    assert frame.loc[0, "state"] == "FAIL" and "simulated out-of-memory" in frame.loc[0, "failure_reason"]
    assert frame.loc[1, "state"] == "FAIL" and "TrainingDiverged: loss became nan" in frame.loc[1, "failure_reason"]
    assert frame.loc[2, "state"] == "COMPLETE"


def test_same_seed_same_results(files, tmp_path):
    for name in ("a", "b"):
        assert search(files, tmp_path / name, "--trials", "3", "--seed", "11", "--no-pruning") == 0
    a, b = table(tmp_path / "a"), table(tmp_path / "b")
    pd.testing.assert_series_equal(a["spec"], b["spec"])
    pd.testing.assert_series_equal(a["proxy_accuracy"], b["proxy_accuracy"])
    assert search(files, tmp_path / "c", "--trials", "3", "--seed", "12", "--no-pruning") == 0
    assert table(tmp_path / "c")["spec"].tolist() != a["spec"].tolist()


def test_budget_projection_and_rejection_are_counted(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "4", budget="300M", space=False) == 0
    frame = table(out)
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert trained["macs"].between(0.9 * 300e6, 300e6).all()
    assert (frame["projection"] != "in window").any()
    assert (frame["original_macs"] != frame["macs"]).any()
    printed = capsys.readouterr().out
    assert "projected into it" in printed and "rejected untrained" in printed


def test_rejected_candidates_are_not_trained(files, tmp_path, monkeypatch):
    from runners.search import budget

    monkeypatch.setattr(evaluation, "project", lambda spec, b: budget.Projection(None, 0, 1, "rejected: test"))
    monkeypatch.setattr(evaluation, "train_and_evaluate", lambda *a, **k: pytest.fail("trained a rejected candidate"))
    out = tmp_path / "run"
    assert search(files, out, "--trials", "2") == 0
    assert table(out)["state"].tolist() == ["REJECTED", "REJECTED"]


@pytest.mark.ray
def test_ray_backend_gives_the_same_outputs_and_prints_only_the_progress_bar_and_the_summary(files, tmp_path):
    """A Ray search (in its own process, as a user runs it) writes what the Optuna backend
    writes, keeps Ray's and Optuna's own log lines (token authentication, INFO) out of the
    terminal, and continues in the same study when rerun."""
    out = tmp_path / "ray"
    outcome = spawn("runners.search", "--data", files["npz"], "--space", files["space"], "--budget-flops", "12M",
                    "--out", out, "--trials", "2", "--backend", "ray", *[flag for flag in FAST if flag != "--quiet"])
    assert outcome.code == 0, outcome.err
    bar_lines = [line for line in outcome.err.replace("\r", "\n").splitlines() if line.strip()]
    assert bar_lines and all(line.startswith("trials:") for line in bar_lines), outcome.err
    assert "best by reward" in outcome.out
    frame = table(out)
    assert list(frame["number"]) == [0, 1]
    assert set(frame["state"]) <= {"COMPLETE", "PRUNED"}
    assert list(frame.columns) == list(pd.read_csv(out / "results.csv").columns)
    assert (out / "best.yaml").is_file()
    optuna_out = tmp_path / "optuna"
    assert search(files, optuna_out, "--trials", "2") == 0
    assert list(table(optuna_out).columns) == list(frame.columns)
    # The same seed asks the same first candidate in both backends.
    assert table(optuna_out)["spec"][0] == frame["spec"][0]
    # Rerunning continues the Ray search in the same study, with new candidates.
    assert search(files, out, "--trials", "3", "--backend", "ray") == 0
    resumed = table(out)
    assert list(resumed["number"]) == [0, 1, 2]
    assert resumed["spec"][2] not in set(frame["spec"])
    # One record per trial, and the study holds the same trials under the same numbers and
    # states (an ASHA-stopped trial is PRUNED there too, with its last reward).
    assert len((out / "trials.jsonl").read_text().splitlines()) == 3
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.number for t in study.trials] == resumed["number"].tolist()
    assert [t.state.name for t in study.trials] == resumed["state"].tolist()
    assert [t.value for t in study.trials] == pytest.approx(resumed["reward"].tolist())


def test_zero_cost_proxy_pareto_objective_and_nsga2(files, tmp_path):
    out = tmp_path / "zc"
    assert search(files, out, "--trials", "3", "--proxy", "zero-cost", "--objective", "pareto",
                  "--sampler", "nsga2") == 0
    frame = table(out)
    assert {"zero_cost_synflow", "zero_cost_naswot", "zero_cost_grad_norm"} <= set(frame.columns)
    assert (frame["state"] == "COMPLETE").all() and frame["epochs"].eq(0).all()
    # Without training there is no accuracy: the best is the highest zero-cost score, and it is written.
    best = frame.loc[frame["zero_cost_naswot"].idxmax()]
    assert count_cost(load_spec(out / "best.yaml")).macs == best["macs"]


def test_grid_sampler_on_a_small_space(files, tmp_path):
    out = tmp_path / "grid"
    assert main(["--data", files["npz"], "--space", files["grid"], "--budget-flops", "1M", "--out", str(out),
                 "--sampler", "grid", "--trials", "4", "--proxy", "zero-cost", "--quiet"]) == 0
    specs = table(out)["spec"]
    assert specs.nunique() == 4


def test_timeout_stops_starting_trials(files, tmp_path):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "500", "--timeout", "3", "--proxy", "zero-cost") == 0
    assert 1 <= len(table(out)) < 500  # started trials stop at the timeout, long before 500


def test_image_folder_data(files, tmp_path):
    out = tmp_path / "images"
    assert main(["--data", files["images"], "--space", files["space"], "--budget-flops", "12M", "--out", str(out),
                 "--trials", "1", "--proxy", "zero-cost", "--quiet"]) == 0
    assert load_spec(out / "best.yaml").num_classes == 3


@pytest.mark.parametrize("args, words", [
    (["--budget-flops", "lots"], "expected a MAC count like 400M"),
    (["--sampler", "annealing"], "invalid choice: 'annealing'"),
    (["--trials", "0"], "expected a positive integer"),
    (["--proxy-resolution", "0x5"], "expected N or HxW"),
    (["--data", "/nonexistent/data.npz"], "no such file or directory"),
    (["--device", "banana"], "--device"),
    (["--space", "/nonexistent/space.yaml"], "no such file"),
    (["--objective", "loss"], "invalid choice: 'loss'"),
    (["--val-fraction", "1.5"], "--val-fraction must be between 0 and 1"),
] + ([(["--device", "cuda"], "no such CUDA device is available")] if not __import__("torch").cuda.is_available() else []))
def test_bad_flags_one_line_exit_2(files, tmp_path, args, words, capsys):
    outcome = call(main, ["--data", files["npz"], "--out", tmp_path / "r", *args], capsys)
    assert_one_line_error(outcome, words)
    assert not (tmp_path / "r").exists()  # nothing is created before the flags are known to be good


def test_bad_data_files_one_line_exit_2(tmp_path, capsys):
    import numpy as np

    cases = {
        "shape.npz": ({"x": np.zeros((10, 5)), "y": np.zeros(10, int)}, "N x H x W or N x C x H x W"),
        "labels.npz": ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) - 1}, "labels must be >= 0"),
        "range.npz": ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) % 2, "x_test": np.zeros((2, 8, 8)),
                       "y_test": np.array([0, 7])}, "out of range"),
    }
    for name, (arrays, words) in cases.items():
        np.savez(tmp_path / name, **arrays)
        assert_one_line_error(call(main, ["--data", tmp_path / name, "--out", tmp_path / "r"], capsys), words)


def test_budget_below_the_smallest_network(files, tmp_path, capsys):
    outcome = call(main, ["--data", files["npz"], "--out", tmp_path / "r", "--budget-flops", "1M"], capsys)
    assert_one_line_error(outcome, "below the smallest network of the space", "MACs")


def test_grid_refuses_huge_spaces(files, tmp_path, capsys):
    outcome = call(main, ["--data", files["npz"], "--out", tmp_path / "r", "--sampler", "grid"], capsys)
    assert_one_line_error(outcome, "grid needs a space of at most")


def test_resume_with_other_flags_is_refused(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "1", "--proxy", "zero-cost") == 0
    outcome = call(main, ["--data", files["npz"], "--space", files["space"], "--out", out, "--budget-flops", "13M",
                          "--proxy", "zero-cost", *FAST], capsys)
    assert_one_line_error(outcome, "--budget-flops")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert_one_line_error(call(main, ["--data", files["npz"], "--out", tmp_path / "other"], capsys),
                          "not a search run directory")
    assert json.loads((out / "config.json").read_text())["budget_flops"] == 12_000_000


def test_racing_gives_extra_seeds_only_to_contenders(tmp_path, monkeypatch):
    """A planted run: the incumbent scores 0.80 +- 0.01 over three seeds. A clear loser
    (0.50) stops after its first seed; a contender (0.80) gets all three."""
    from runners.learning.loop import TrainResult
    from runners.search import candidates as evaluation
    from search_space import count_cost, load_space
    from tests.datasets import TINY_SPACE, load, write_npz

    (tmp_path / "space.yaml").write_text(TINY_SPACE)
    spec = load_space(tmp_path / "space.yaml").sample(0)
    budget = count_cost(spec).macs
    level = {}
    calls = []

    def planted(spec, data, config, *, seed, report=None, **kwargs):
        calls.append(seed)
        return TrainResult(level["accuracy"] + 0.001 * (len(calls) % 3), 2, 0.1, 1.0)

    monkeypatch.setattr(evaluation, "train_and_evaluate", planted)
    history = [TrialRecord(number=n, state=TrialState.COMPLETE, macs=budget, proxy_accuracy=0.8, reward=0.8,
                           seed_accuracies=[0.80, 0.81, 0.79]) for n in range(4)]
    data = load(write_npz(tmp_path / "d.npz", n=40, shape=(16, 16)))
    evaluator = evaluation.Evaluator(evaluation.SearchSettings(budget=budget, seeds=3), data, 0, history=lambda: history)
    for accuracy, expected_seeds in ((0.50, 1), (0.80, 3)):
        level["accuracy"] = accuracy
        calls.clear()
        record = evaluator.evaluate(10, spec, {})
        assert record.state is TrialState.COMPLETE, record.failure_reason
        assert len(record.seed_accuracies) == len(calls) == expected_seeds
        assert record.proxy_accuracy == pytest.approx(sum(record.seed_accuracies) / expected_seeds)
    # Without a history (a Ray worker elsewhere) every candidate gets every seed.
    level["accuracy"], calls[:] = 0.50, []
    evaluation.Evaluator(evaluation.SearchSettings(budget=budget, seeds=3), data, 0).evaluate(11, spec, {})
    assert len(calls) == 3


def planted_records(*accuracies: list[float]) -> list[TrialRecord]:
    """COMPLETE records of equal MACs (so the reward ranks as the accuracy does)."""
    return [TrialRecord(number=number, state=TrialState.COMPLETE, macs=10**6, seed_accuracies=list(values),
                        proxy_accuracy=sum(values) / len(values), reward=sum(values) / len(values))
            for number, values in enumerate(accuracies)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.2, 0.8), min_size=3, max_size=6), st.floats(0.02, 0.2),
       st.lists(st.floats(-1e-3, 1e-3), min_size=6, max_size=6))
def test_a_planted_clear_winner_is_separated_from_the_runner_up(base, gap, noise):
    from runners.search.driver import winner_verdict

    records = planted_records(base, [a + gap + e for a, e in zip(base, noise)], [a - 0.1 for a in base])
    verdict = winner_verdict(evaluation.SearchSettings(budget=10**6), records, records[1])
    assert "; separated from the runner-up, trial 0 (" in verdict


@settings(max_examples=50, deadline=None)
@given(st.floats(0.2, 0.8), st.floats(0.01, 0.1), st.integers(1, 3))
def test_seed_noise_without_a_difference_does_not_separate_the_winner(level, swing, pairs):
    from runners.search.driver import winner_verdict

    second = [level + swing * (-1) ** seed for seed in range(2 * pairs)]
    first = [a - 2 * swing * (-1) ** seed + swing / 10 for seed, a in enumerate(second)]  # ahead by swing / 10
    records = planted_records(first, second)
    verdict = winner_verdict(evaluation.SearchSettings(budget=10**6), records, records[0])
    assert "; NOT separated from the runner-up, trial 1 (" in verdict


def test_seeds_give_the_winner_an_interval_and_a_verdict(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert search(files, out, "--trials", "3", "--seeds", "2", "--no-pruning") == 0
    printed = capsys.readouterr().out
    assert "over seeds:" in printed and "(2 seeds)" in printed
    assert re.search(r"; (NOT )?separated from the runner-up, trial \d+ \(paired difference", printed)
    frame = table(out)
    assert (frame["seeds"] >= 1).all()
    best = frame.sort_values("reward", ascending=False).iloc[0]
    seed_accuracies = json.loads(best["seed_accuracies"])
    assert best["seeds"] == len(seed_accuracies) == 2
    assert best["proxy_accuracy"] == pytest.approx(sum(seed_accuracies) / 2)


def test_a_latency_budget_keeps_every_trained_candidate_in_its_window_with_pareto_over_latency(files, tmp_path):
    """Predicted latencies come from the machine's table (filled once from the space), so the
    window holds exactly for the predictions the records carry, and the study is told them."""
    from runners.search.budget import reward
    from search_space import load_space
    from search_space.latency import LatencyTable

    space = load_space(files["space"])
    probe = LatencyTable(threads=1)
    probe.fill([dataclasses.replace(space.sample(seed), in_channels=1, num_classes=4) for seed in range(30)])
    budget = sorted(probe.predict(dataclasses.replace(space.sample(seed), in_channels=1, num_classes=4))
                    for seed in range(30))[15]  # a middling network's latency: reachable from most
    out = tmp_path / "run"
    args = ["--data", files["npz"], "--space", files["space"], "--budget-latency", f"{budget:.4f}ms", "--trials", "5",
            "--out", str(out), *FAST]
    assert main(args) == 0
    frame = table(out)
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(trained) and trained["latency_ms"].between(0.9 * round(budget, 4), round(budget, 4)).all()
    table_now = LatencyTable(threads=1)
    for _, row in trained.iterrows():
        spec = load_spec_json(row["spec_json"])
        assert table_now.predict(spec, measure_unseen=False) == pytest.approx(row["latency_ms"], rel=1e-9)
    complete = frame[frame["state"] == "COMPLETE"]
    assert complete.apply(lambda r: r["reward"] == pytest.approx(
        reward(r["proxy_accuracy"], r["latency_ms"], round(budget, 4))), axis=1).all()
    # Pareto over (accuracy, latency): the study's second objective is each trial's latency.
    pareto = tmp_path / "pareto"
    assert main([*args[:-len(FAST) - 2], "--out", str(pareto), "--objective", "pareto", "--sampler", "nsga2",
                 *FAST]) == 0
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{pareto / 'study.db'}")
    latencies = dict(zip(table(pareto)["number"], table(pareto)["latency_ms"]))
    finished = [t for t in study.trials if t.values is not None]
    assert finished and all(t.values[1] == pytest.approx(latencies[t.number]) for t in finished)


def load_spec_json(text):
    from search_space import spec_from_dict

    return spec_from_dict(json.loads(text))


@pytest.mark.parametrize("flags, fragments", [
    (["--budget-latency", "15ms", "--budget-flops", "12M"], ["one budget, not both"]),
    (["--budget-latency", "15 parsecs"], ["--budget-latency", "15ms"]),
    (["--budget-latency", "0ms"], ["--budget-latency", "> 0"]),
    (["--budget-latency", "0.0001ms"], ["--budget-latency", "below the smallest network", "ms"]),
    (["--budget-latency", "1e6ms"], ["--budget-latency", "above the largest network", "ms"]),
])
def test_bad_latency_budgets_are_one_line(files, tmp_path, capsys, flags, fragments):
    outcome = call(main, ["--data", files["npz"], "--space", files["space"], "--out", tmp_path / "run", *FAST,
                          *flags], capsys)
    assert_one_line_error(outcome, *fragments)
    assert not (tmp_path / "run").exists()
