"""``python -m scaling.fit`` end to end: tables, power laws, a small resumable training run, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from scaling import simplex_grid
from scaling.fit import main
from scaling.reports import read_coefficients, read_laws
from search_space import count_cost, load_spec, write_spec_file
from tests.commands import assert_one_line_error, call, spawn
from tests.scaling_runs import coefficients_json, evaluations, fit_process, training_args



def _trained(run, member):
    """The full-training run directory of ``member`` (its name carries a key of its network)."""
    from scaling.run_files import read_member_spec, trained_member_dir

    return trained_member_dir(run / "trained", member, read_member_spec(run, member))

def grid_csv(path, planted=(0.3, 0.2, 0.5), seeds=2, noise=0.002):
    rng = np.random.default_rng(0)
    rows = [{"depth_mult": p.alpha, "width_mult": p.beta, "resolution_mult": p.gamma, "macs": 8e8, "seed": s,
             "metric": 0.8 - float(((np.array(p.shares) - planted) ** 2).sum()) + noise * rng.normal(),
             "notes": "extra columns are ignored"}
            for p in simplex_grid(0.1) for s in range(seeds)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def law_csv(path, points=10, noise=0.02):
    compute = np.geomspace(1e6, 1e9, points)
    error = (0.05 + 30 * compute**-0.3) * np.exp(np.random.default_rng(1).normal(0, noise, points))
    pd.DataFrame({"macs": compute, "params": compute / 50, "metric": 1 - error}).to_csv(path, index=False)
    return path


def test_results_table_gives_coefficients_and_family_of_the_base_it_names(tmp_path, capsys):
    out = tmp_path / "fit"
    write_spec_file(load_spec("efficientnet-b0"), tmp_path / "base.yaml")
    grid = pd.read_csv(grid_csv(tmp_path / "grid.csv")).assign(base="base.yaml")
    grid.to_csv(tmp_path / "grid.csv", index=False)
    assert main(["--results", str(tmp_path / "grid.csv"), "--out", str(out), "--bootstrap", "200"]) == 0
    assert f"base: efficientnet-b0 ({tmp_path / 'base.yaml'})" in capsys.readouterr().out
    assert read_coefficients(out).base.startswith("efficientnet-b0")
    coefficients = json.loads((out / "coefficients.json").read_text())
    assert coefficients["method"] == "surrogate"
    assert [coefficients["shares"][k] for k in ("depth", "width", "resolution")] == pytest.approx([0.3, 0.2, 0.5],
                                                                                                abs=0.01)
    assert coefficients["alpha"] * coefficients["beta"] ** 2 * coefficients["gamma"] ** 2 == pytest.approx(2)
    for name in ("alpha", "beta", "gamma"):
        low, high = coefficients["intervals"][name]
        assert low <= coefficients[name] <= high
    assert 1.9 <= coefficients["realised_mac_ratio"] <= 2.1
    family = pd.read_csv(out / "family.csv")
    assert list(family["phi"]) == list(range(0, 8))
    for column in ("depth_mult", "width_mult", "resolution_mult", "macs", "params"):
        assert family[column].is_monotonic_increasing, column
    b0_macs = count_cost(load_spec("efficientnet-b0")).macs
    for phi in range(0, 8):
        member = load_spec(out / "specs" / f"b{phi}.yaml")
        ghost = load_spec(out / "specs" / f"ghost-b{phi}.yaml")
        assert count_cost(member).macs == family.loc[phi, "macs"]
        assert count_cost(member).macs / b0_macs == pytest.approx(family.loc[phi, "realised_mac_ratio"], rel=1e-5)
        assert all(stage.block.startswith("Ghost") for stage in ghost.stages)


def test_a_table_that_names_no_base_needs_one(tmp_path, capsys):
    (tmp_path / "runs" / "old-search").mkdir(parents=True)  # a user's search run must not be taken silently
    write_spec_file(load_spec("efficientnet-b1"), tmp_path / "runs" / "old-search" / "best.yaml")
    outcome = call(main, ["--results", grid_csv(tmp_path / "grid.csv"), "--out", tmp_path / "fit"], capsys)
    assert_one_line_error(outcome, "names no base", "--base")
    outcome = call(main, ["--results", tmp_path / "grid.csv", "--base", "efficientnet-b0", "--out", tmp_path / "fit",
                          "--bootstrap", "0"], capsys)
    assert outcome.code == 0 and "base: efficientnet-b0 (efficientnet-b0)" in outcome.out


def test_power_law_table_through_the_real_command(tmp_path):
    out = tmp_path / "law"
    result = spawn("scaling.fit", "--power-law", law_csv(tmp_path / "law.csv"), "--x", "macs", "--y", "metric",
                   "--out", out)
    assert result.code == 0, result.err
    law = json.loads((out / "laws.json").read_text())["laws"][0]
    assert law["a"] == pytest.approx(0.3, rel=0.2) and law["usable"]
    assert law["held_out"]["points"] and law["held_out"]["mean_absolute_log_error"] < 0.1
    assert law["intervals"]["a"][0] <= law["a"] <= law["intervals"]["a"][1]
    assert law["error"] == "1 - metric"
    assert read_laws(out)[0][0].to_json() == law  # the typed reader round-trips the file


def test_power_law_of_a_loss_column(tmp_path):
    frame = pd.read_csv(law_csv(tmp_path / "law.csv"))
    frame.assign(loss=1 - frame["metric"]).to_csv(tmp_path / "loss.csv", index=False)
    out = tmp_path / "loss"
    assert main(["--power-law", str(tmp_path / "loss.csv"), "--x", "params", "--y", "loss", "--lower-is-better",
                 "--out", str(out), "--bootstrap", "100"]) == 0
    law = json.loads((out / "laws.json").read_text())["laws"][0]
    assert law["x"] == "params" and law["error"] == "loss"


BAD_TABLES = [
    ("grid", lambda f: f.drop(columns=["metric"]), "missing column metric"),
    ("grid", lambda f: f.assign(metric=f["metric"].where(f.index != 3)), "missing or non-numeric value"),
    ("grid", lambda f: f.head(1), "at least 2 points"),
    ("grid", lambda f: f.assign(macs=-f["macs"]), "macs must be > 0"),
    ("grid", lambda f: f.assign(depth_mult=0.5), "depth_mult must be >= 1"),
    ("law", lambda f: f.head(2), "at least 3 distinct compute values"),
    ("law", lambda f: f.assign(macs=f["macs"] * 0), "compute must be > 0"),
    ("law", lambda f: f.assign(metric=f["metric"] * 100), "must be an accuracy in [0, 1]"),
    ("law", lambda f: f.assign(metric="high"), "non-numeric"),
]


@pytest.mark.parametrize("kind, damage, words", BAD_TABLES, ids=[case[2] for case in BAD_TABLES])
def test_bad_tables_are_one_line_and_exit_2(tmp_path, kind, damage, words, capsys):
    source = grid_csv(tmp_path / "g.csv") if kind == "grid" else law_csv(tmp_path / "l.csv")
    damage(pd.read_csv(source)).to_csv(tmp_path / "bad.csv", index=False)
    flag = ["--results", tmp_path / "bad.csv", "--base", "efficientnet-b0"] if kind == "grid" else [
        "--power-law", tmp_path / "bad.csv"]
    assert_one_line_error(call(main, [*flag, "--out", tmp_path / "out"], capsys), words)


@pytest.mark.parametrize("args, words", [
    (["--results", "no-such.csv"], "no such file"),
    (["--base", "efficientnet-b99", "--max-train-samples", "8"], "not a preset"),
    (["--step", "0.3"], "must divide 1"),
    (["--law-phis=1"], "numbers in [-8, 1)"),
    (["--law-phis=nan"], "numbers in [-8, 1)"),
    (["--learning-rate", "inf"], "a number in (0, 1]"),
    (["--time-limit", "soon"], "duration"),
    (["--seeds", "0"], "an integer between 1 and 100"),
    (["--bootstrap", "-5"], "integer between 0 and 100,000"),
    (["--power-law", "law.csv", "--holdout", "-1"], "integer >= 0"),
    (["--mode", "diagonal"], "invalid choice"),
])
def test_bad_flags_are_one_line_and_exit_2(tmp_path, args, words, capsys):
    assert_one_line_error(call(main, [*args, "--out", tmp_path / "out"], capsys), words)


def test_training_run_writes_everything_and_resumes_without_retraining(tmp_path):
    args = training_args(tmp_path)
    assert main(args + ["--time-limit", "1s"]) == 0  # the limit stops the grid after its first point
    log = (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()
    assert 4 <= len(log) < 2 + 6 * 2 + 4
    assert main(args + ["--no-time-limit", "--check-members", "1"]) == 0
    run = tmp_path / "run"
    full_log = (run / "evaluations.jsonl").read_text().splitlines()
    # The family checked inside the run: B1 trained with the run's recipe at a seed the grid never used.
    checked = pd.read_csv(run / "family.csv").set_index("phi")
    assert checked["measured_metric"].notna().tolist() == [phi == 1 for phi in checked.index]
    assert (_trained(run, "b1") / "result.json").is_file()
    assert full_log[: len(log)] == log  # nothing lost, nothing retrained
    grid = pd.read_csv(run / "grid.csv")
    points = grid[["share_depth", "share_width"]].drop_duplicates()
    assert 3 <= len(points) <= 6 and len(grid) == 2 * len(points) and set(grid["seed"]) == {0, 1}
    networks = grid[grid["seed"] == 0][["spec", "resolution", "macs"]]
    assert len(networks.drop_duplicates()) == len(points)  # each distinct network trained once
    assert grid["realised_ratio"].between(1.9, 2.1).all()
    assert (grid["proxy_resolution"] != "16x16").any()  # resolution scaling reaches the proxy
    roles = [json.loads(line)["role"] for line in full_log]
    assert roles.count("base") == 2 and roles.count("law") == 4  # phi = -1, and phi = 1 on fresh seeds
    coefficients = json.loads((run / "coefficients.json").read_text())
    fresh = [json.loads(line) for line in full_log if json.loads(line)["role"] == "law"
             and json.loads(line)["phi"] == 1.0]
    assert coefficients["fresh_seeds"]["seeds"] == [2, 3] == [row["seed"] for row in fresh]
    assert coefficients["fresh_seeds"]["metrics"] == [row["metric"] for row in fresh]
    assert coefficients["grid_complete"] and coefficients["method"] in ("grid", "surrogate")
    # The chosen direction against the corners it is not, paired over the seeds both have.
    comparisons = coefficients["corner_comparisons"]
    assert len(comparisons) in (2, 3) and all(c["seeds"] == [0, 1] for c in comparisons)
    assert coefficients["runner_up"]["winner"] == "grid best" and coefficients["runner_up"]["seeds"] == [0, 1]
    from analysis.dashboard import dashboard_sections

    headings = [heading for heading, _ in dashboard_sections([run])]
    verdicts = headings.index("run: Compound vs single-dimension scaling: paired by seed at phi = 1")
    assert headings[verdicts + 1] == "run: Compound vs single-dimension scaling"  # next to the figure
    assert (run / "laws.json").exists() and load_spec(run / "base.yaml").name == "tiny"
    assert json.loads((run / "config.json").read_text())["kind"] == "scaling"
    family = pd.read_csv(run / "family.csv")
    assert family["macs"].is_monotonic_increasing
    spec = load_spec(run / "specs" / "b1.yaml")
    assert spec.in_channels == 1 and spec.num_classes == 3  # deployed on the run's data
    assert main(args + ["--no-time-limit"]) == 0
    assert (run / "evaluations.jsonl").read_text().splitlines() == full_log


def test_single_dimension_mode_scales_only_that_dimension(tmp_path):
    args = training_args(tmp_path, "--mode", "width", "--law-phis=")
    assert main(args) == 0
    coefficients = json.loads((tmp_path / "run" / "coefficients.json").read_text())
    assert coefficients["method"] == "fixed: width only"
    assert coefficients["alpha"] == 1 and coefficients["gamma"] == 1 and coefficients["beta"] == pytest.approx(2**0.5)
    family = pd.read_csv(tmp_path / "run" / "family.csv")
    assert (family["depth_mult"] == 1).all() and (family["resolution_mult"] == 1).all()


def test_resuming_with_other_flags_or_another_command_is_refused(tmp_path, capsys):
    args = training_args(tmp_path, "--law-phis=")
    assert main(args + ["--time-limit", "1s"]) == 0
    changed = [a if a != "0.5" else "0.25" for a in args]
    assert_one_line_error(call(main, changed, capsys), "--step 0.5")
    from runners.search.command import main as search
    outcome = call(search, ["--data", tmp_path / "data.npz", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(outcome, "holds a scaling run, not a search run")


def test_a_run_from_before_the_depth_rule_resumes_only_with_its_rule(tmp_path, capsys):
    args = training_args(tmp_path, "--law-phis=")
    assert main(args + ["--time-limit", "1s", "--depth-rule", "per-stage"]) == 0
    config_path = tmp_path / "run" / "config.json"
    config = json.loads(config_path.read_text())
    del config["depth_rule"]  # as a run directory written before the flag existed
    config_path.write_text(json.dumps(config))
    assert_one_line_error(call(main, args + ["--time-limit", "1s"], capsys), "--depth-rule 'per-stage', not 'total'")
    assert call(main, args + ["--time-limit", "1s", "--depth-rule", "per-stage"], capsys).code == 0


@pytest.mark.ray
def test_the_grid_on_workers_and_on_ray_gives_the_sequential_results_and_resumes_after_a_kill_or_a_stop(tmp_path):
    for name, extra in (("sequential", ()), ("ray", ("--backend", "ray", "--workers", "2"))):
        process = fit_process(tmp_path, name, *extra)
        assert process.wait(timeout=600) == 0, process.stderr.read()[-2000:]
    expected, _ = evaluations(tmp_path / "sequential")
    assert len(set(expected.values())) > 3  # networks differ: agreement below is not trivial
    coefficients = coefficients_json(tmp_path / "sequential")

    # Two local worker processes, killed with -9 once a few networks are logged, then resumed.
    process = fit_process(tmp_path, "workers", "--workers", "2")
    log = tmp_path / "workers" / "evaluations.jsonl"
    deadline = time.monotonic() + 300
    while (not log.exists() or len(log.read_text().splitlines()) < 4) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # the command and its workers, as a crash would
    process.wait(timeout=60)
    before, _ = evaluations(tmp_path / "workers")
    resumed = fit_process(tmp_path, "workers", "--workers", "2")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    after, lines = evaluations(tmp_path / "workers")
    assert lines == len(after), "a logged network was trained again"
    assert all(after[key] == metric for key, metric in before.items())

    # Two local worker processes, the command alone sent SIGTERM (a scheduler's stop): it stops
    # its workers, writes what finished, exits 143 with one line; the same command resumes.
    process = fit_process(tmp_path, "stopped", "--workers", "2")
    log = tmp_path / "stopped" / "evaluations.jsonl"
    while (not log.exists() or len(log.read_text().splitlines()) < 4) and process.poll() is None:
        assert time.monotonic() < deadline + 300
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and err.strip().splitlines()[-1] == (
        "stopped by SIGTERM: finished work is saved; rerun the same command to continue"), err[-2000:]
    assert "Traceback" not in err
    group = subprocess.run(["pgrep", "-f", "-g", str(process.pid), "spawn_main"], capture_output=True, text=True)
    assert group.stdout.split() == [], f"workers outlived the command: {group.stdout}"
    before, _ = evaluations(tmp_path / "stopped")
    resumed = fit_process(tmp_path, "stopped", "--workers", "2")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    after, lines = evaluations(tmp_path / "stopped")
    assert lines == len(after) and all(after[key] == metric for key, metric in before.items())

    for name in ("ray", "workers", "stopped"):
        found, _ = evaluations(tmp_path / name)
        assert found == expected, name
        assert coefficients_json(tmp_path / name) == coefficients, name


def test_a_disk_that_fills_mid_grid_is_one_line_and_the_same_command_resumes_once_space_is_freed(tmp_path):
    from infra.files import unreadable_lines
    from tests.filesystems import fill_when, small_filesystem

    with small_filesystem("8m") as disk:
        args = training_args(tmp_path, "--no-time-limit", "--seeds", "6")
        args[args.index("--out") + 1] = str(disk / "run")
        command = [sys.executable, "-m", "scaling.fit", *args]
        log = disk / "run" / "evaluations.jsonl"
        filler = fill_when(command, lambda: log.exists() and len(log.read_text().splitlines()) >= 3, disk)
        assert unreadable_lines(log) == []
        before, _ = evaluations(disk / "run")
        filler.unlink()
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        after, lines_after = evaluations(disk / "run")
        assert lines_after == len(after) and all(after[key] == metric for key, metric in before.items())
