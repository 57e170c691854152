"""Post-training int8 quantization of a network's fused eval model, with PyTorch's own tooling.

FX graph mode (``torch.ao.quantization.quantize_fx``): batch norms are first folded into
their convs (:func:`search_space.fuse_model`), observers are inserted with the ``x86``
engine's default mapping (per-channel int8 weights, uint8 activations with a histogram
observer), a few calibration batches set the activation ranges, and the converted module
runs int8 kernels on the CPU. Quantized models run on the CPU only.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import torch

from search_space.fusion import fuse_model


# Kept in float by default: the stem sees the raw input (often one channel), the classifier
# makes the logits. Keeping the attention gates (squeeze-excitation, ECA) in float as well
# measured no better on two trained B0s (1.10 and 3.35 points lost against 1.17 and 1.91;
# int8 everywhere 1.85 and 4.33: benchmarks/quantization.py, BENCHMARKS.md).
FLOAT_MODULES = ("stem", "classifier")


def quantize_int8(model: torch.nn.Module, calibration: Iterable[torch.Tensor], engine: str = "x86",
                  float_modules: Sequence[str] = FLOAT_MODULES) -> torch.nn.Module:
    """An int8 copy of ``model`` (which is untouched), calibrated on the ``calibration``
    batches (``N x C x H x W`` float tensors, a few hundred images in all is enough).

    ``float_modules`` names the submodules (paths as in ``model.named_modules()``, each with
    everything inside it) that stay in float; ``()`` quantizes everything. Which placement
    loses least depends on the trained network: measure the int8 model's accuracy before you
    ship it (``benchmarks/quantization.py`` compares placements).
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    batches = list(calibration)
    if not batches:
        raise ValueError("quantization needs at least one calibration batch")
    float_modules = (float_modules,) if isinstance(float_modules, str) else tuple(float_modules)
    names = dict(model.named_modules())
    missing = [name for name in float_modules if name not in names]
    if missing:
        raise ValueError(f"float_modules: {', '.join(missing)} not in the model (its top-level modules: "
                         f"{', '.join(name for name, _ in model.named_children())})")
    torch.backends.quantized.engine = engine
    mapping = get_default_qconfig_mapping(engine)
    for name in float_modules:
        mapping = mapping.set_module_name(name, None)
    fused = fuse_model(model).cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FX prints the traced graph's notes on every cat and getitem
        prepared = prepare_fx(fused, mapping, example_inputs=(batches[0].cpu(),))
        with torch.inference_mode():
            for batch in batches:
                prepared(batch.cpu())
        return convert_fx(prepared)


__all__ = ["quantize_int8"]
