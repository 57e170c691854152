"""Short proxy training of a candidate: the search's only training loop.

AdamW with a per-step cosine schedule (after a warm-up) and label smoothing. Before
each evaluation the batch-norm statistics are recalibrated on training batches: with
the TF-style momentum of 0.01 a short run never lets them converge, and NAS proxies
recalibrate for exactly this reason (e.g. Single-Path One-Shot, arXiv 1904.00420).
Validation accuracy is reported after every epoch so the backend can prune
(Optuna's Hyperband pruner, Ray's ASHA). A non-finite loss stops the trial with
:class:`TrainingDiverged`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from runners.data import Splits
from search_space import NetworkSpec, build_model


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Proxy-training recipe. ``learning_rate`` is AdamW's peak, reached after warm-up."""

    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.1
    eval_batch_size: int = 512
    calibration_samples: int = 1024
    device: str = "cpu"


@dataclass(frozen=True)
class TrainResult:
    accuracy: float  # on the evaluation split, in [0, 1]
    epochs: int  # epochs actually run (fewer if pruned)
    seconds: float
    train_loss: float
    pruned: bool = False


def resolve_device(requested: str = "auto") -> str:
    """``auto`` picks CUDA when available; otherwise the requested torch device string."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    torch.device(requested)  # raises RuntimeError on a malformed device string
    return requested


@torch.no_grad()
def recalibrate_batch_norm(model: torch.nn.Module, images: torch.Tensor, batch_size: int, device: str) -> None:
    """Replace running statistics by exact averages over ``images`` (training data)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    model.train()
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        if len(batch) > 1:
            model(batch.to(device, non_blocking=True))
    for norm, momentum in zip(norms, saved):
        norm.momentum = momentum


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int, device: str) -> float:
    """Top-1 accuracy of ``model`` in eval mode."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device, non_blocking=True)
        correct += (model(batch).argmax(1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(images)


def train_and_evaluate(
    spec: NetworkSpec,
    data: Splits,
    config: TrainConfig,
    *,
    seed: int = 0,
    report: Callable[[int, float], bool | None] | None = None,
    evaluate_on: str = "val",
) -> TrainResult:
    """Train ``spec`` (built for the data's channels and classes) and return its accuracy.

    ``report(epoch, accuracy)`` is called after every epoch; returning ``True`` stops
    training there (pruning) and the result says ``pruned``. ``evaluate_on="test"`` is for benchmarks only: the search never
    reads the test split.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(spec, num_classes=data.num_classes, in_channels=data.in_channels).to(config.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(data.train_x) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(total_steps * config.warmup_fraction))

    def learning_rate_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor)
    eval_x, eval_y = (data.test_x, data.test_y) if evaluate_on == "test" else (data.val_x, data.val_y)
    if eval_x is None:
        raise ValueError("the data has no test split")
    start = time.perf_counter()
    accuracy, loss_sum, seen = 0.0, 0.0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(data.train_x), generator=generator)
        loss_sum, seen = 0.0, 0
        for first in range(0, len(order), config.batch_size):
            index = order[first : first + config.batch_size]
            if len(index) < 2:  # batch norm needs two samples per channel in training
                continue
            x = data.train_x[index].to(config.device, non_blocking=True)
            y = data.train_y[index].to(config.device, non_blocking=True)
            loss = F.cross_entropy(model(x, y), y, label_smoothing=config.label_smoothing)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch}, sample {first}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(index)
            seen += len(index)
        calibration = data.train_x[order[: config.calibration_samples]]
        recalibrate_batch_norm(model, calibration, config.eval_batch_size, config.device)
        accuracy = evaluate(model, eval_x, eval_y, config.eval_batch_size, config.device)
        if report is not None and report(epoch, accuracy):
            return TrainResult(accuracy, epoch, time.perf_counter() - start, loss_sum / max(1, seen), pruned=True)
    return TrainResult(accuracy, config.epochs, time.perf_counter() - start, loss_sum / max(1, seen))
