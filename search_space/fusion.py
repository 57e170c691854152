"""Conv + batch-norm folding for inference."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from search_space.layers import ConvNormAct


def fuse_model(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every conv's batch norm folded into it.

    The folded conv computes ``BN(conv(x))`` with BN's running statistics, so eval
    outputs equal the unfused model's up to float rounding; the original is untouched.
    Fused models are for inference: training them would no longer normalise batches.
    """
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if isinstance(module, ConvNormAct) and isinstance(module.norm, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.norm)
            module.norm = nn.Identity()
    return fused
