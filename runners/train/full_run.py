"""A full training in a run directory: checkpoints every epoch, resume, curves, test score.

The run directory of one training holds

* ``config.json``: what defines the training (a rerun with the same ``--out`` resumes only
  when it matches);
* ``spec.yaml``: the network as trained (the data's channels and classes, the head);
* ``last.pt``: a checkpoint after every epoch (weights, optimizer, schedule, random
  streams, the curves so far), written atomically: a kill loses at most the epoch in flight,
  and resuming continues exactly as the uninterrupted run would have;
* ``curves.csv``: one row per epoch (stage size, dropout, augmentation, learning rate,
  training loss, validation accuracy and loss, wall seconds so far);
* ``model.pt`` and ``result.json`` once finished: the trained network (a checkpoint that
  ``python -m search_space export`` reads) and the final validation and test-split scores.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from infra.documents import DocumentError, read_json
from infra.errors import UsageError
from infra.files import write_atomically, write_json
from infra.progress import progress_bar
from infra.units import format_bytes
from runners.data.sources import Splits
from runners.learning.loop import Stage, TrainConfig, TrainingLoop
from runners.learning.memory import (PEAK_OVER_BOUND, check_fits, device_memory, fitting_calibration_batch,
                                      largest_fitting_batch, likely_peak, training_memory)
from runners.train.run_files import CURVES, FINAL_MODEL, LAST_CHECKPOINT, RESULT, SPEC
from search_space import EfficientNet, NetworkSpec, build_model, load_pretrained, set_trainable_layers, write_spec_file
from search_space.checkpoint import read_checkpoint, save_checkpoint


@dataclass(frozen=True)
class FineTuning:
    """Where the weights start and which of them train (``search_space.finetuning``)."""

    init: Path | None = None  # a checkpoint of the same architecture; None: fresh weights
    trainable_blocks: int = -1  # -1 all, 0 head only, N the head and the last N blocks


def finished_result(run_dir: Path) -> dict | None:
    """The run's ``result.json`` when it finished, else None; one line when it is damaged."""
    path = Path(run_dir) / RESULT
    if not path.exists():
        return None
    try:
        result = read_json(path)
    except DocumentError as error:
        raise UsageError(f"{path}: not a readable training result ({error}); remove it to train again") from None
    if not isinstance(result, dict) or not isinstance(result.get("val_accuracy"), float):
        raise UsageError(f"{path}: not a training result of this suite; remove it to train again")
    return result


def initial_model(spec: NetworkSpec, fine_tuning: FineTuning, seed: int) -> tuple[EfficientNet, list[str]]:
    """``spec``'s network as training starts, and what was adapted, in words: weights drawn
    at ``seed``, then the pretrained ones of ``--init`` where they fit, and the frozen layers
    of ``--trainable-blocks``; one line for a checkpoint of another architecture or a block
    count the network lacks."""
    torch.manual_seed(seed)
    model, notes = build_model(spec), []
    if fine_tuning.init is not None:
        payload = read_checkpoint(fine_tuning.init)
        try:
            adapted = load_pretrained(model, payload["state_dict"])
        except (ValueError, KeyError) as error:
            raise UsageError(f"--init {fine_tuning.init}: does not fit {spec.name} ({error})") from None
        notes.append(f"initialised from {fine_tuning.init}" + (f": {'; '.join(adapted)}" if adapted else ""))
    if fine_tuning.trainable_blocks != -1:
        try:
            set_trainable_layers(model, fine_tuning.trainable_blocks)
        except ValueError as error:
            raise UsageError(f"--trainable-blocks: {error}") from None
        notes.append(f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} of "
                     f"{sum(p.numel() for p in model.parameters()):,} parameters train")
    return model, notes


def train_run(run_dir: Path, model: EfficientNet, data: Splits, config: TrainConfig, schedule: list[Stage], *,
              seed: int, quiet: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train ``model`` (from :func:`initial_model`, built for ``data``) for ``len(schedule)``
    epochs in ``run_dir`` (claimed by the caller), resuming from its ``last.pt``; the final
    result as written to ``result.json``."""
    run_dir = Path(run_dir)
    done = finished_result(run_dir)
    if done is not None:
        return done
    spec = model.spec
    write_spec_file(spec, run_dir / SPEC)
    loop = TrainingLoop(model, data, config, seed)
    curves: list[dict] = []
    elapsed = 0.0
    if (run_dir / LAST_CHECKPOINT).exists():
        state = read_checkpoint(run_dir / LAST_CHECKPOINT)
        try:
            loop.load_state_dict({**state["loop"], "model": state["state_dict"]})
            curves, elapsed = list(state["curves"]), float(state["elapsed"])
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            raise UsageError(f"{run_dir / LAST_CHECKPOINT}: not a checkpoint of this training "
                             f"({type(error).__name__}); remove it to start again") from None
        log(f"resuming {run_dir} after epoch {loop.epoch} of {len(schedule)}")
    bar = progress_bar(loop.steps_per_epoch * len(schedule), spec.name, "step", quiet)
    bar.update(loop.steps_per_epoch * loop.epoch)
    try:
        while loop.epoch < len(schedule):
            stage = schedule[loop.epoch]
            start = time.perf_counter()
            train_loss = loop.train_epoch(stage, on_step=lambda: bar.update(1))
            measured = loop.evaluate("val")
            elapsed += time.perf_counter() - start
            resolution = stage.resolution or data.resolution
            curves.append({"epoch": loop.epoch, "resolution": "x".join(map(str, resolution)),
                           "dropout": loop.model.dropout.p, "augmentation": stage.augmentation,
                           "learning_rate": loop.schedule.get_last_lr()[0], "train_loss": train_loss,
                           "val_accuracy": measured.accuracy, "val_loss": measured.loss, "seconds": elapsed})
            resume = {key: value for key, value in loop.state_dict().items() if key != "model"}  # saved once
            save_checkpoint(run_dir / LAST_CHECKPOINT, spec, loop.model, loop=resume, curves=curves, elapsed=elapsed)
            write_atomically(run_dir / CURVES, lambda path: pd.DataFrame(curves).to_csv(path, index=False))
            bar.set_postfix_str(f"epoch {loop.epoch}: val accuracy {measured.accuracy:.4f}")
    finally:
        bar.close()
    result = {"spec": spec.name, "epochs": loop.epoch, "seconds": elapsed,
              "val_accuracy": curves[-1]["val_accuracy"], "val_loss": curves[-1]["val_loss"],
              "test_accuracy": None, "test_loss": None, "seed": seed}
    if data.test_x is not None:
        test = loop.evaluate("test")
        result.update(test_accuracy=test.accuracy, test_loss=test.loss)
    save_checkpoint(run_dir / FINAL_MODEL, spec, loop.model.eval(), result=result)
    write_json(run_dir / RESULT, result)
    return result


def fit_in_memory(model: EfficientNet, data: Splits, config: TrainConfig, schedule: list[Stage]
                  ) -> tuple[TrainConfig, list[str]]:
    """``config`` as it fits in the memory left (:mod:`runners.learning.memory`), and what was
    changed or is at risk, in words; one line (exit 2) when the training's largest stage
    cannot fit. Only batch-norm recalibration's batch is ever lowered, and only where its
    pass would not fit (its statistics then differ slightly from a larger machine's)."""
    largest = max((stage.resolution or data.resolution for stage in schedule), key=lambda size: size[0] * size[1],
                  default=data.resolution)
    what = f"training {model.spec.name} on {data.in_channels}x{largest[0]}x{largest[1]} images"
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    memory = training_memory(model.to(config.device), (data.in_channels, *largest), layout)
    available = device_memory(config.device)
    check_fits(memory, config.batch_size, available, what)
    notes = []
    calibration = fitting_calibration_batch(memory, config.calibration_batch_size, available)
    if calibration != config.calibration_batch_size:
        notes.append(f"batch-norm recalibration in batches of {calibration} instead of "
                     f"{config.calibration_batch_size}, to fit in {format_bytes(available)}")
        config = dataclasses.replace(config, calibration_batch_size=calibration)
    peak = likely_peak(memory, config.batch_size, calibration)
    if available is not None and peak > available:
        least = max(memory.step(config.batch_size), memory.inference(calibration))
        room = int(available / PEAK_OVER_BOUND) - memory.inference_per_image * calibration
        fitting = largest_fitting_batch(memory, room)
        notes.append(f"warning: {what} at batch {config.batch_size} needs at least {format_bytes(least)} and may "
                     f"peak at up to {format_bytes(peak)}, more than the {format_bytes(available)} available: "
                     "if it is killed, lower --batch-size" + (f" to {fitting}" if fitting >= 2 else ""))
    return config, notes


def with_head(spec: NetworkSpec, classifier: str | None) -> NetworkSpec:
    """``spec`` with another classifier head (``linear`` or ``cosine``), or unchanged."""
    return spec if classifier is None else dataclasses.replace(spec, classifier=classifier)


__all__ = ["FineTuning", "finished_result", "fit_in_memory", "initial_model", "train_run", "with_head"]
