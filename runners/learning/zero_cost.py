"""Training-free scores of an untrained network, for screening many candidates quickly.

* ``synflow`` (Tanaka et al. 2020; as a NAS proxy Abdelfattah et al., arXiv 2101.08134):
  ``log sum |theta * dR/dtheta|`` with ``R`` the summed output of the network with absolute
  weights on an all-ones input (eval mode, float64 so the product does not overflow).
* ``naswot`` (Mellor et al., arXiv 2006.04647): ``log |K_H|`` where ``K_H`` counts, for each
  pair of inputs in a batch, the activation units whose sign pattern agrees (inputs of
  every activation module, so SiLU networks are covered as ReLU ones are).
* ``grad_norm`` (Abdelfattah et al.): ``log`` of the summed L2 norms of the gradients of
  the cross-entropy loss on a batch.

Higher is better for all three. Scores are averaged over the given batches.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from runners.data.sources import Splits
from search_space import NetworkSpec, build_model

SCORES = ("synflow", "naswot", "grad_norm")
_ACTIVATION_TYPES = (nn.SiLU, nn.ReLU, nn.GELU, nn.Hardswish)


def synflow(model: nn.Module, example: torch.Tensor) -> float:
    model = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    ones = torch.ones((1,) + tuple(example.shape[1:]), dtype=torch.float64, device=example.device)
    model.zero_grad()
    model(ones).sum().backward()
    total = sum((p * p.grad).abs().sum().item() for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def naswot(model: nn.Module, images: torch.Tensor) -> float:
    codes: list[torch.Tensor] = []

    def record(module, inputs, output):
        codes.append((inputs[0].detach().flatten(1) > 0).float())

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, _ACTIVATION_TYPES)]
    try:
        model.train()
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    binary = torch.cat(codes, dim=1).double()
    kernel = binary @ binary.T + (1 - binary) @ (1 - binary).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return logdet.item() if sign > 0 else float("-inf")


def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.train()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    total = sum(p.grad.norm().item() for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def zero_cost_scores(
    spec: NetworkSpec, data: Splits, *, batches: int = 2, batch_size: int = 64, seed: int = 0, device: str = "cpu"
) -> dict[str, float]:
    """All three scores of ``spec``'s freshly initialised network on training batches."""
    torch.manual_seed(seed)
    model = build_model(spec, num_classes=data.num_classes, in_channels=data.in_channels).to(device)
    order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(seed))
    totals = dict.fromkeys(SCORES, 0.0)
    for batch in range(batches):
        index = order[batch * batch_size : (batch + 1) * batch_size]
        images, labels = data.train_x[index].to(device), data.train_y[index].to(device)
        totals["synflow"] += synflow(model, images)
        totals["naswot"] += naswot(model, images)
        totals["grad_norm"] += grad_norm(model, images, labels)
    return {name: value / batches for name, value in totals.items()}
