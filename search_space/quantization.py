"""Post-training int8 quantization of a network's fused eval model, with PyTorch's own tooling.

FX graph mode (``torch.ao.quantization.quantize_fx``): batch norms are first folded into
their convs (:func:`search_space.fuse_model`), observers are inserted with the ``x86``
engine's default mapping (per-channel int8 weights, uint8 activations with a histogram
observer), a few calibration batches set the activation ranges, and the converted module
runs int8 kernels on the CPU. Quantized models run on the CPU only.
"""

from __future__ import annotations

import warnings
from typing import Iterable

import torch

from search_space.fusion import fuse_model


FLOAT_MODULES = ("stem", "classifier")


def quantize_int8(model: torch.nn.Module, calibration: Iterable[torch.Tensor], engine: str = "x86",
                  sensitive_in_float: bool = True) -> torch.nn.Module:
    """An int8 copy of ``model`` (which is untouched), calibrated on the ``calibration``
    batches (``N x C x H x W`` float tensors, a few hundred images in all is enough).

    ``sensitive_in_float`` keeps the stem (it sees the raw input, often one channel), the
    classifier and the channel-attention gates (squeeze-excitation, ECA: a product of
    activations) in float, the rest int8; on Fashion-MNIST that halved the accuracy the
    all-int8 model lost (BENCHMARKS.md).
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from search_space.layers import EfficientChannelAttentionLayer, SqueezeExcitationLayer

    batches = list(calibration)
    if not batches:
        raise ValueError("quantization needs at least one calibration batch")
    torch.backends.quantized.engine = engine
    mapping = get_default_qconfig_mapping(engine)
    if sensitive_in_float:
        for name in FLOAT_MODULES:
            mapping = mapping.set_module_name(name, None)
        for layer in (SqueezeExcitationLayer, EfficientChannelAttentionLayer):
            mapping = mapping.set_object_type(layer, None)
    fused = fuse_model(model).cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FX prints the traced graph's notes on every cat and getitem
        prepared = prepare_fx(fused, mapping, example_inputs=(batches[0].cpu(),))
        with torch.inference_mode():
            for batch in batches:
                prepared(batch.cpu())
        return convert_fx(prepared)


__all__ = ["quantize_int8"]
