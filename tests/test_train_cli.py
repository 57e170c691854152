"""``python -m runners.train``: run directory, resume after a kill, progressive learning,
fine-tuning flags, bad input; ``python -m scaling.check``: a scaling run's members checked
against their prediction."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import yaml
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.dashboard import dashboard_sections
from infra.seeds import replicate_seed
from runners.data.augmentation import transform_batch
from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig, evaluate, train_and_evaluate
from runners.learning.progressive import progressive_schedule
from runners.train.command import main
from scaling import Coefficients
from scaling.check import main as check_main
from scaling.compound import ScaledNetwork, effective_multipliers
from scaling.fit import main as fit_main
from scaling.grid_run import ProxyEvaluator, Task
from scaling.members import MEASURED_REPLICATE
from search_space import build_model, count_cost, load_checkpoint, load_spec, save_checkpoint
from tests.commands import assert_one_line_error, call
from tests.datasets import write_idx_dir



def _trained(run, member):
    """The full-training run directory of ``member`` (its name carries a key of its network)."""
    from scaling.run_files import read_member_spec, trained_member_dir

    return trained_member_dir(run / "trained", member, read_member_spec(run, member))

def tiny(path, classes: int = 4, in_channels: int = 1) -> str:
    """Three stages (MBConv with SE, a repeated one, Fused-MBConv): 4 blocks."""
    path.write_text(f"""name: tiny
resolution: 32
in_channels: {in_channels}
num_classes: {classes}
stem_channels: 8
head_channels: 32
dropout: 0.2
stages: [r1_k3_s11_e1_i8_o8_se0.25, r2_k3_s22_e4_i8_o16_se0.25, r1_k3_s22_e4_i16_o24_c1]
""")
    return str(path)


@pytest.fixture
def idx(tmp_path):
    return str(write_idx_dir(tmp_path / "idx", n=160, test=48))


def train_args(tmp_path, idx, *extra, out: str = "run") -> list[str]:
    return [tiny(tmp_path / "tiny.yaml"), "--data", idx, "--epochs", "2", "--batch-size", "32", "--quiet",
            "--out", str(tmp_path / out), *extra]


def test_training_writes_curves_checkpoints_and_a_test_score_that_the_saved_model_reproduces(tmp_path, idx, capsys):
    outcome = call(main, train_args(tmp_path, idx), capsys)
    assert outcome.code == 0, outcome.err
    run = tmp_path / "run"
    curves = pd.read_csv(run / "curves.csv")
    assert list(curves["epoch"]) == [1, 2] and curves["seconds"].is_monotonic_increasing
    assert curves["learning_rate"].iloc[-1] < curves["learning_rate"].iloc[0]  # cosine decay
    result = json.loads((run / "result.json").read_text())
    assert result["val_accuracy"] == curves["val_accuracy"].iloc[-1]
    spec, model = load_checkpoint(run / "model.pt")  # what `python -m search_space export` reads
    data = prepare(DataOptions(idx))
    assert evaluate(model, data.test_x, data.test_y, 64, "cpu") == pytest.approx(result["test_accuracy"], abs=1e-9)
    assert spec == load_spec(run / "spec.yaml") and spec.num_classes == 4
    assert f"test accuracy {result['test_accuracy']:.4f}" in outcome.out
    # A finished run is not trained again: the same command reports it.
    before = (run / "model.pt").stat().st_mtime_ns
    assert call(main, train_args(tmp_path, idx), capsys).code == 0
    assert (run / "model.pt").stat().st_mtime_ns == before


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_training_resumes_to_exactly_the_uninterrupted_result(tmp_path, idx, stop):
    """Progressive stages, augmentation and dropout all draw random numbers: a resume that
    lost any stream would diverge from the uninterrupted run. A SIGTERM (a scheduler's stop)
    ends it with exit 143 and one line; a SIGKILL, as a crash would."""
    flags = ["--epochs", "4", "--batch-size", "16", "--progressive", "--augmentation", "0.5"]
    assert main(train_args(tmp_path, idx, *flags)) == 0
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "runners.train", *train_args(tmp_path, idx, *flags, out="killed")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while not (killed / "curves.csv").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(stop)
    _, err = process.communicate(timeout=120)
    assert not (killed / "result.json").exists()  # stopped mid-training
    if stop == signal.SIGTERM:
        assert process.returncode == 143 and err.strip().splitlines() == [
            "stopped by SIGTERM: finished work is saved; rerun the same command to continue"], err
    assert main(train_args(tmp_path, idx, *flags, out="killed")) == 0
    expected = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    resumed = torch.load(killed / "model.pt", weights_only=True)
    assert all(torch.equal(expected["state_dict"][key], value) for key, value in resumed["state_dict"].items())
    assert resumed["result"]["test_accuracy"] == expected["result"]["test_accuracy"]
    columns = ["epoch", "resolution", "dropout", "augmentation", "train_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(pd.read_csv(killed / "curves.csv")[columns],
                                  pd.read_csv(tmp_path / "run" / "curves.csv")[columns])


@settings(max_examples=60, deadline=None)
@given(epochs=st.integers(1, 40), stages=st.integers(1, 8), height=st.integers(8, 400), width=st.integers(8, 400),
       dropout=st.floats(0, 0.8), augmentation=st.floats(0, 1), fraction=st.floats(0.1, 1.0))
def test_progressive_schedule_grows_size_and_regularisation_together_to_their_final_values(
        epochs, stages, height, width, dropout, augmentation, fraction):
    schedule = progressive_schedule(epochs, (height, width), dropout, augmentation, stages, fraction)
    assert len(schedule) == epochs
    last = schedule[-1]
    assert last.resolution == (height, width) and last.dropout == pytest.approx(dropout)
    assert last.augmentation == pytest.approx(augmentation)
    for before, after in zip(schedule, schedule[1:]):
        assert all(a <= b for a, b in zip(before.resolution, after.resolution))
        assert before.dropout <= after.dropout + 1e-12 and before.augmentation <= after.augmentation + 1e-12
    assert len(set(schedule)) <= min(stages, epochs)
    if min(stages, epochs) > 1:  # the first stage starts small and weakly regularised
        first = schedule[0]
        assert first.resolution[0] == max(min(8, height), round(height * fraction))
        assert first.dropout == pytest.approx(dropout / 3)


@settings(max_examples=30, deadline=None)
@given(size=st.tuples(st.integers(4, 40), st.integers(4, 40)), magnitude=st.floats(0, 1), seed=st.integers(0, 99))
def test_augmentation_resamples_to_the_stage_size_reproducibly(size, magnitude, seed):
    images = torch.randn(5, 2, 24, 30)
    first = transform_batch(images, size, magnitude, torch.Generator().manual_seed(seed))
    again = transform_batch(images, size, magnitude, torch.Generator().manual_seed(seed))
    assert first.shape == (5, 2, *size) and torch.equal(first, again)
    if magnitude == 0 and size == (24, 30):
        assert first is images


def test_augmentation_magnitude_moves_images_and_zero_only_resizes():
    images = torch.randn(8, 1, 20, 20)
    weak = transform_batch(images, (20, 20), 1e-6, torch.Generator().manual_seed(0))
    strong = transform_batch(images, (20, 20), 1.0, torch.Generator().manual_seed(0))
    assert (weak - images).abs().mean() < 0.05 < (strong - images).abs().mean()
    with pytest.raises(ValueError, match="magnitude"):
        transform_batch(images, (20, 20), 1.5, torch.Generator())


def test_fine_tuning_adapts_rgb_weights_freezes_blocks_and_uses_a_cosine_head(tmp_path, idx, capsys):
    rgb_spec = load_spec(tiny(tmp_path / "rgb.yaml", classes=7, in_channels=3))
    pretrained = build_model(rgb_spec)
    save_checkpoint(tmp_path / "rgb.pt", rgb_spec, pretrained)
    outcome = call(main, train_args(tmp_path, idx, "--init", tmp_path / "rgb.pt", "--trainable-blocks", "1",
                                    "--classifier", "cosine"), capsys)
    assert outcome.code == 0, outcome.err
    assert "stem averaged from 3 to 1 input channels" in outcome.out and "classifier initialised afresh" in outcome.out
    spec, model = load_checkpoint(tmp_path / "run" / "model.pt")
    assert spec.classifier == "cosine" and spec.in_channels == 1
    trained, initial = model.state_dict(), pretrained.state_dict()
    assert torch.equal(trained["stem.conv.weight"], initial["stem.conv.weight"].mean(dim=1, keepdim=True))
    frozen = [key for key in trained if key.startswith("stages.0.") and "running" not in key]
    assert frozen and all(torch.equal(trained[key], initial[key]) for key in frozen)  # frozen blocks kept
    last = [key for key in trained if key.startswith("stages.2.") and key.endswith("weight")]
    assert any(not torch.equal(trained[key], initial[key]) for key in last)  # the last block trained


def test_members_of_a_scaling_run_are_measured_as_its_grid_measures_and_written_next_to_the_band(tmp_path, capsys):
    rng = np.random.default_rng(0)  # unlearnable: every recipe or resolution change shows in the loss
    data = tmp_path / "data.npz"
    np.savez(data, x=rng.normal(size=(200, 16, 16)).astype(np.float32), y=rng.integers(0, 3, 200))
    run = tmp_path / "scaling"
    base = tiny(tmp_path / "base.yaml", classes=3)
    assert fit_main(["--base", base, "--data", str(data), "--mode", "resolution", "--law-phis=", "--epochs", "1",
                     "--batch-size", "16", "--seeds", "2", "--bootstrap", "20", "--quiet", "--check-members", "0", "--out", str(run)]) == 0
    family = pd.read_csv(run / "family.csv")
    outcome = call(check_main, [run, "--members", "b0,b1", "--quiet"], capsys)
    assert outcome.code == 0, outcome.err
    measured = pd.read_csv(run / "family.csv")
    assert list(measured.columns[: len(family.columns)]) == list(family.columns)
    config = json.loads((run / "config.json").read_text())
    train = TrainConfig(epochs=config["epochs"], batch_size=config["batch_size"],
                        learning_rate=config["learning_rate"])
    options = DataOptions(str(data), None, config["val_fraction"], config["max_train_samples"],
                          config["max_val_samples"], config["seed"])
    evaluator = ProxyEvaluator(options, train, prepare(options))
    base_spec = load_spec(run / "base.yaml")
    for phi in (0, 1):
        member = load_spec(run / "specs" / f"b{phi}.yaml")
        network = ScaledNetwork(member, 1, 1, 1, count_cost(member).macs, 1, effective_multipliers(base_spec, member))
        task = Task("law", float(phi), Coefficients(1, 1, 2**0.5), MEASURED_REPLICATE, network)
        expected = evaluator.evaluate(task)
        assert measured.loc[phi, "measured_metric"] == pytest.approx(expected.metric, abs=1e-12)
        assert pd.read_csv(_trained(run, f"b{phi}") / "curves.csv")["resolution"].iloc[0] == expected.proxy_resolution
        again = train_and_evaluate(member, evaluator.data_at(evaluator.proxy_resolution(task)), train,
                                   seed=replicate_seed(config["seed"], MEASURED_REPLICATE))
        result = json.loads((_trained(run, f"b{phi}") / "result.json").read_text())
        assert result["val_loss"] == pytest.approx(again.validation_loss, abs=1e-9)
        row = measured.loc[phi]
        if pd.isna(row["predicted_low"]):
            assert pd.isna(row["inside_band"])
        else:
            assert row["inside_band"] == (row["predicted_low"] <= row["measured_metric"] <= row["predicted_high"])
    assert pd.read_csv(_trained(run, "b1") / "curves.csv")["resolution"].iloc[0] != "32x32"
    assert pd.isna(measured.loc[2:, "measured_metric"]).all()
    # Planted bands: one containing b0's measurement, one excluding b1's.
    planted = measured.copy()
    planted.loc[0, ["predicted_low", "predicted_high"]] = [measured.loc[0, "measured_metric"] - 0.01, 1.0]
    planted.loc[1, ["predicted_low", "predicted_high"]] = [measured.loc[1, "measured_metric"] + 0.01, 1.0]
    planted.to_csv(run / "family.csv", index=False)
    shutil.rmtree(run / "trained")  # trained again, recorded against the planted bands
    outcome = call(check_main, [run, "--members", "b0,b1", "--quiet"], capsys)
    replanted = pd.read_csv(run / "family.csv")
    assert list(replanted["inside_band"][:2]) == [True, False]
    assert "inside the predicted band" in outcome.out and "OUTSIDE the predicted band" in outcome.out
    notes = dict(dashboard_sections([run]))
    assert notes["scaling: The family measured against its prediction"].startswith(
        "1 of 2 measured members inside the predicted band (tiny-b0: measured")
    # Another recipe measures something else: family.csv keeps the prediction alone.
    outcome = call(check_main, [run, "--members", "b0", "--epochs", "2", "--out", tmp_path / "longer", "--quiet"], capsys)
    assert outcome.code == 0 and "another recipe than the scaling grid" in outcome.out
    assert pd.read_csv(run / "family.csv").equals(replanted)
    # A family that changed (a resumed run that chose another direction): its B1 trains anew
    # beside the old one instead of clashing with it.
    spec_path = run / "specs" / "b1.yaml"
    changed = yaml.safe_load(spec_path.read_text())
    changed["stem_channels"] += 8
    spec_path.write_text(yaml.safe_dump(changed))
    outcome = call(check_main, [run, "--members", "b1", "--quiet"], capsys)
    assert outcome.code == 0, outcome.err
    assert len(list((run / "trained").glob("b1-*"))) == 2


@pytest.mark.parametrize("case, extra, fragments", [
    ("init missing", ["--init", "missing.pt"], ["missing.pt", "No such file"]),
    ("too many trainable blocks", ["--trainable-blocks", "9"], ["--trainable-blocks", "4 blocks"]),
    ("float trainable blocks", ["--trainable-blocks", "1.0"], ["--trainable-blocks"]),
    ("augmentation out of range", ["--augmentation", "2"], ["--augmentation"]),
])
def test_bad_flags_are_one_line(tmp_path, idx, capsys, case, extra, fragments):
    assert_one_line_error(call(main, train_args(tmp_path, idx, *extra), capsys), *fragments)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_bad_inputs_to_runs_and_checkpoints_are_one_line(tmp_path, idx, capsys):
    other = load_spec(tiny(tmp_path / "other.yaml"))
    wider = build_model(dataclasses.replace(other, stem_channels=16))
    save_checkpoint(tmp_path / "wider.pt", wider.spec, wider)
    assert_one_line_error(call(main, train_args(tmp_path, idx, "--init", tmp_path / "wider.pt"), capsys),
                          "--init", "another architecture")
    (tmp_path / "junk.pt").write_bytes(b"\x00junk")
    assert_one_line_error(call(main, train_args(tmp_path, idx, "--init", tmp_path / "junk.pt"), capsys),
                          "junk.pt", "not a checkpoint")
    scaling = tmp_path / "scaling"
    scaling.mkdir()
    (scaling / "config.json").write_text(json.dumps({"kind": "scaling"}))
    assert_one_line_error(call(main, [scaling], capsys), "scaling run", "python -m scaling.check")
    assert_one_line_error(call(check_main, [scaling, "--members", "b3"], capsys), "no member b3")
    assert_one_line_error(call(check_main, [scaling, "--members", "b0,x1"], capsys), "--members", "x1")
    assert_one_line_error(call(check_main, [tmp_path, "--members", "b0"], capsys), "not a scaling run")
    # A damaged checkpoint or result in a run directory: one line, nothing overwritten.
    assert main(train_args(tmp_path, idx)) == 0
    (tmp_path / "run" / "result.json").write_text("{not json")
    assert_one_line_error(call(main, train_args(tmp_path, idx), capsys), "result.json")
    (tmp_path / "run" / "result.json").unlink()
    (tmp_path / "run" / "last.pt").write_bytes(b"PK\x03\x04broken")
    assert_one_line_error(call(main, train_args(tmp_path, idx), capsys), "last.pt")
    assert_one_line_error(call(main, train_args(tmp_path, idx, "--epochs", "3"), capsys), "--epochs 2, not 3")


def test_a_disk_that_fills_mid_training_is_one_line_and_the_same_command_resumes(tmp_path, idx):
    from search_space.checkpoint import read_checkpoint
    from tests.filesystems import fill_when, small_filesystem

    with small_filesystem("8m") as disk:
        args = train_args(tmp_path, idx, "--epochs", "10")
        args[args.index("--out") + 1] = str(disk / "run")
        command = [sys.executable, "-m", "runners.train", *args]
        filler = fill_when(command, (disk / "run" / "curves.csv").exists, disk)
        assert read_checkpoint(disk / "run" / "last.pt")["loop"]  # the previous epoch's checkpoint, whole
        filler.unlink()
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert list(pd.read_csv(disk / "run" / "curves.csv")["epoch"]) == list(range(1, 11))
