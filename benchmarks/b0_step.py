"""The training step the kernel benchmarks take apart: B0 (1 input channel, 10 classes) in
training mode and channels_last, multi-tensor AdamW, a random batch, label smoothing 0.1."""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from runners.learning.loop import TrainConfig, make_optimizer, training_step
from search_space import build_model, load_spec


def b0_step(height: int, width: int, batch: int) -> tuple[torch.nn.Module, Callable[[], torch.Tensor]]:
    """B0 built at seed 0 and one call of its training step on a fixed ``batch x 1 x height x
    width`` batch (each call is a real optimisation step)."""
    torch.manual_seed(0)
    spec = dataclasses.replace(load_spec("efficientnet-b0"), in_channels=1, num_classes=10)
    model = build_model(spec).train().to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, TrainConfig())
    images = torch.randn(batch, 1, height, width).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    return model, lambda: training_step(model, optimizer, images, labels, 0.1)
