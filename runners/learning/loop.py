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

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from runners.data.augmentation import transform_batch
from runners.data.sources import Splits
from runners.learning.memory import evaluation_batch, inference_bytes
from search_space import NetworkSpec, build_model


GPU_EVALUATION_BATCH = 512


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Proxy-training recipe. ``learning_rate`` is AdamW's peak, reached after warm-up.

    ``channels_last`` trains in the NHWC memory format, where PyTorch's CPU and cuDNN
    convolutions (the depthwise ones above all) are fastest; it changes no result beyond
    floating-point reassociation (see ``benchmarks/foundation.py`` for the speed-up).
    ``mixed_precision`` runs forward passes under bf16 autocast on a CUDA device that
    supports bf16 (Ampere and later); on the CPU bf16 measured slower, so it trains in fp32.
    Evaluation gives the same results at any batch, so by default its batch is the fastest
    measured for the network's tensors (:func:`runners.learning.memory.evaluation_batch`);
    recalibration's batch is part of the recipe (train-mode batch norm normalises by it).
    """

    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.1
    eval_batch_size: int | None = None  # None: sized to the network and input (memory.evaluation_batch)
    calibration_batch_size: int = 512  # batch-norm recalibration: its statistics depend on it
    calibration_samples: int = 1024
    channels_last: bool = True
    device: str = "cpu"
    mixed_precision: bool = True  # bf16 autocast where the device has it (see autocast_dtype)


@dataclass(frozen=True)
class TrainResult:
    """What one proxy training measured; every field is a possible ranking signal.

    ``training_loss_sum`` is the sum over epochs of each epoch's mean training loss, the
    "training speed estimate" (TSE) of Ru et al., NeurIPS 2021 (lower is better).
    """

    accuracy: float  # on the evaluation split, in [0, 1]
    epochs: int  # epochs actually run (fewer if pruned)
    seconds: float
    train_loss: float  # mean training loss of the last epoch run
    pruned: bool = False
    training_loss_sum: float = 0.0
    validation_loss: float = float("nan")  # mean cross-entropy on the evaluation split, no smoothing


def resolve_device(requested: str = "auto") -> str:
    """``auto`` picks CUDA when available; otherwise the requested torch device string."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    torch.device(requested)  # raises RuntimeError on a malformed device string
    return requested


def autocast_dtype(device: str, mixed_precision: bool = True) -> torch.dtype | None:
    """bf16 on a CUDA device that supports it (no loss scaling needed, unlike fp16), else
    ``None``: full precision."""
    if mixed_precision and device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def precision(device: str, mixed_precision: bool = True):
    """The autocast context of :func:`autocast_dtype` (a no-op without one)."""
    dtype = autocast_dtype(device, mixed_precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def to_device(batch: torch.Tensor, device: str, layout: torch.memory_format | None = None) -> torch.Tensor:
    """``batch`` on ``device``: for CUDA through pinned host memory, so that the copy is truly
    asynchronous (``non_blocking`` from pageable memory waits for the copy)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        batch = batch.pin_memory()
    batch = batch.to(device, non_blocking=True)
    return batch if layout is None else batch.contiguous(memory_format=layout)


@torch.inference_mode()
def recalibrate_batch_norm(model: torch.nn.Module, images: torch.Tensor, batch_size: int, device: str,
                           layout: torch.memory_format = torch.contiguous_format, mixed_precision: bool = True) -> None:
    """Replace running statistics by exact averages over ``images`` (training data)."""
    model.train()
    # Frozen layers' norms stay in eval mode (see search_space.set_trainable_layers): they keep
    # the statistics they were trained with, which their frozen weights expect.
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]
    saved = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        if len(batch) > 1:
            with precision(device, mixed_precision):
                model(to_device(batch, device, layout))
    for norm, momentum in zip(norms, saved):
        norm.momentum = momentum


@dataclass(frozen=True)
class SplitScore:
    """How a network scored on one split (validation or test)."""

    accuracy: float  # top-1, in [0, 1]
    loss: float  # mean cross-entropy, no label smoothing


@torch.inference_mode()
def evaluate_with_loss(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                       device: str, layout: torch.memory_format = torch.contiguous_format,
                       mixed_precision: bool = True) -> SplitScore:
    """Top-1 accuracy and mean cross-entropy of ``model`` in eval mode."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    loss = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, len(images), batch_size):
        batch = to_device(images[start : start + batch_size], device, layout)
        target = to_device(labels[start : start + batch_size], device)
        with precision(device, mixed_precision):
            logits = model(batch)
        correct += (logits.argmax(1) == target).sum()
        loss += F.cross_entropy(logits.float(), target, reduction="sum")
    return SplitScore(correct.item() / len(images), loss.item() / len(images))


def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int, device: str) -> float:
    """Top-1 accuracy of ``model`` in eval mode."""
    return evaluate_with_loss(model, images, labels, batch_size, device).accuracy


def epoch_orders(num_samples: int, seed: int) -> Iterator[torch.Tensor]:
    """The training order of each epoch at ``seed``: a function of the seed alone, never
    of the candidate, so that candidates trained at one seed see the same batches in the
    same order (common random numbers: their differences are paired, not confounded with
    data-order noise)."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield torch.randperm(num_samples, generator=generator)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with the multi-tensor (``foreach``) update: one kernel per parameter group
    instead of one per tensor, the faster of PyTorch's implementations measured here."""
    return torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay,
                             foreach=True)


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                  labels: torch.Tensor, label_smoothing: float = 0.0, autocast=None) -> torch.Tensor:
    """One optimisation step; returns the batch's mean loss as a tensor (no host sync).
    ``autocast``: the forward pass's precision context (:func:`precision`)."""
    with autocast or contextlib.nullcontext():
        logits = model(images, labels)
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@dataclass(frozen=True)
class Stage:
    """What an epoch trains with beyond the recipe: image size and regularisation, which
    EfficientNetV2's progressive learning raises together (Tan & Le 2021, section 4.2).

    ``resolution`` ``None`` is the data's own; ``dropout`` ``None`` the spec's;
    ``augmentation`` is a magnitude in [0, 1] (:func:`runners.data.augmentation.transform_batch`).
    SplitScore and batch-norm recalibration always run at the data's own resolution.
    """

    resolution: tuple[int, int] | None = None
    dropout: float | None = None
    augmentation: float = 0.0


class TrainingLoop:
    """The suite's one training loop: the proxy (:func:`train_model`) and full training
    (:mod:`runners.train`) both run it, so a speed-up or fix reaches every path.

    ``seed`` fixes the data order (:func:`epoch_orders`) and the augmentation's random
    stream; the initial weights are the caller's (build the model after seeding).
    :meth:`state_dict` holds everything a resumed run needs to continue exactly where
    this one stopped, random streams included.
    """

    def __init__(self, model: torch.nn.Module, data: Splits, config: TrainConfig, seed: int):
        self.data, self.config, self.seed = data, config, seed
        self.layout = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model = model.to(config.device, memory_format=self.layout)
        self.optimizer = make_optimizer(self.model, config)
        self.steps_per_epoch = math.ceil(len(data.train_x) / config.batch_size)
        total_steps = self.steps_per_epoch * config.epochs
        warmup = max(1, int(total_steps * config.warmup_fraction))

        def learning_rate_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total_steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * progress))

        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, learning_rate_factor)
        # Its own stream: augmenting (or not) never shifts the weights' or the order's randomness.
        self.augmentation_random = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.training_loss_sum = 0.0
        self._orders = epoch_orders(len(data.train_x), seed)
        self._order: torch.Tensor | None = None
        self._evaluation_batch: int | None = None

    def train_epoch(self, stage: Stage = Stage(), on_step: Callable[[], None] | None = None) -> float:
        """One epoch over the training split; its mean training loss. ``on_step`` is called
        after each optimisation step (a progress bar)."""
        config, model = self.config, self.model
        if stage.dropout is not None and isinstance(getattr(model, "dropout", None), torch.nn.Dropout):
            model.dropout.p = stage.dropout
        size = tuple(stage.resolution or self.data.resolution)
        model.train()
        order = self._order = next(self._orders)
        # Summed on the device and read once an epoch: no host synchronisation per step.
        total_loss = torch.zeros((), dtype=torch.float64, device=config.device)
        seen = 0
        for first in range(0, len(order), config.batch_size):
            index = order[first : first + config.batch_size]
            if len(index) < 2:  # batch norm needs two samples per channel in training
                continue
            x = to_device(self.data.train_x[index], config.device)
            if stage.augmentation or size != tuple(x.shape[2:]):
                x = transform_batch(x, size, stage.augmentation, self.augmentation_random)
            x = x.contiguous(memory_format=self.layout)
            y = to_device(self.data.train_y[index], config.device)
            total_loss += training_step(model, self.optimizer, x, y, config.label_smoothing,
                                        precision(config.device, config.mixed_precision)) * len(index)
            self.schedule.step()
            seen += len(index)
            if on_step is not None:
                on_step()
        epoch_loss = total_loss.item() / max(1, seen)
        self.epoch += 1
        if not math.isfinite(epoch_loss):
            raise TrainingDiverged(f"loss became {epoch_loss} in epoch {self.epoch}")
        self.training_loss_sum += epoch_loss
        return epoch_loss

    def evaluate(self, split: str = "val") -> SplitScore:
        """Batch norms recalibrated on the last epoch's first training batches, then
        accuracy and loss on ``split`` (``val`` or ``test``) at the data's resolution."""
        config = self.config
        images, labels = (self.data.test_x, self.data.test_y) if split == "test" else (self.data.val_x,
                                                                                       self.data.val_y)
        if images is None:
            raise ValueError("the data has no test split")
        order = self._order if self._order is not None else torch.arange(len(self.data.train_x))
        recalibrate_batch_norm(self.model, self.data.train_x[order[: config.calibration_samples]],
                               config.calibration_batch_size, config.device, self.layout, config.mixed_precision)
        return evaluate_with_loss(self.model, images, labels, self.evaluation_batch(), config.device, self.layout,
                                  config.mixed_precision)

    def evaluation_batch(self) -> int:
        """The configured evaluation batch, else on the CPU the fastest for this network's
        tensors at the data's resolution (measured once,
        :func:`runners.learning.memory.evaluation_batch`), on a GPU :data:`GPU_EVALUATION_BATCH`
        (a GPU's speed grows with the batch; the CPU's rule was measured on CPU caches)."""
        if self.config.eval_batch_size is not None:
            return self.config.eval_batch_size
        if not self.config.device.startswith("cpu"):
            return GPU_EVALUATION_BATCH
        if self._evaluation_batch is None:
            self.model.eval()
            shape = (self.data.in_channels, *self.data.resolution)
            self._evaluation_batch = evaluation_batch(inference_bytes(self.model, shape, self.layout))
        return self._evaluation_batch

    def state_dict(self) -> dict:
        """Weights, optimizer, schedule and random streams: what resuming needs (plain data)."""
        return {"epoch": self.epoch, "training_loss_sum": self.training_loss_sum,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "torch_random": torch.get_rng_state(),
                "augmentation_random": self.augmentation_random.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`: the next epoch is the one after ``state["epoch"]``."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["torch_random"])
        self.augmentation_random.set_state(state["augmentation_random"])
        self.epoch, self.training_loss_sum = int(state["epoch"]), float(state["training_loss_sum"])
        # The data order is a function of the seed: replay it up to the epoch reached.
        self._orders = epoch_orders(len(self.data.train_x), self.seed)
        self._order = None
        for _ in range(self.epoch):
            self._order = next(self._orders)


def train_model(
    spec: NetworkSpec,
    data: Splits,
    config: TrainConfig,
    *,
    seed: int = 0,
    report: Callable[[int, float], bool | None] | None = None,
    evaluate_on: str = "val",
) -> tuple[torch.nn.Module, TrainResult]:
    """Train ``spec`` (built for the data's channels and classes); the trained model (batch
    norms recalibrated, eval mode) and what was measured.

    ``seed`` fixes the initial weights and the data order (:func:`epoch_orders`); two
    candidates trained at the same seed see the same batches. ``report(epoch, accuracy)``
    is called after every epoch; returning ``True`` stops training there (pruning) and
    the result says ``pruned``. ``evaluate_on="test"`` is for benchmarks only: the search
    never reads the test split.
    """
    if evaluate_on == "test" and data.test_x is None:
        raise ValueError("the data has no test split")
    torch.manual_seed(seed)
    loop = TrainingLoop(build_model(spec, num_classes=data.num_classes, in_channels=data.in_channels), data, config,
                        seed)
    start = time.perf_counter()
    measured, epoch_loss = SplitScore(0.0, float("nan")), float("nan")
    for epoch in range(1, config.epochs + 1):
        epoch_loss = loop.train_epoch()
        measured = loop.evaluate(evaluate_on)
        if report is not None and report(epoch, measured.accuracy):
            return loop.model, TrainResult(measured.accuracy, epoch, time.perf_counter() - start, epoch_loss,
                                           pruned=True, training_loss_sum=loop.training_loss_sum,
                                           validation_loss=measured.loss)
    return loop.model, TrainResult(measured.accuracy, config.epochs, time.perf_counter() - start, epoch_loss,
                                   training_loss_sum=loop.training_loss_sum, validation_loss=measured.loss)


def train_and_evaluate(spec: NetworkSpec, data: Splits, config: TrainConfig, **options) -> TrainResult:
    """What :func:`train_model` measured, with its arguments; the model itself is dropped
    (the search and the scaling grid keep only the measurement)."""
    return train_model(spec, data, config, **options)[1]
