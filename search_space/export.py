"""Export of a network for deployment: its fused eval model as ONNX or TorchScript.

The exported model is :func:`search_space.fuse_model`'s (batch norms folded into their
convs, eval mode), traced at the spec's input size (channels x height x width, non-square
and 1-channel inputs included) with a dynamic batch dimension. ONNX goes through PyTorch's
``torch.export``-based exporter (it needs ``onnx`` and ``onnxscript``: ``pip install -e
".[export]"``); TorchScript through ``torch.jit.trace``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import torch

from infra.errors import UserError
from search_space.checkpoint import CHECKPOINT_SUFFIXES, load_checkpoint
from search_space.fusion import fuse_model
from search_space.model import EfficientNet, build_model
from search_space.presets import load_spec
from search_space.spec import NetworkSpec

EXPORT_FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
MAX_BATCH = 65_536


class ExportError(UserError):
    """An export this machine cannot make (a missing exporter package, an unwritable path)."""


def load_network(ref: str | Path) -> tuple[NetworkSpec, EfficientNet, bool]:
    """A spec reference (preset, spec file, run directory) or a checkpoint, as the spec, its
    eval model and whether the weights are trained (a spec alone gets initial weights)."""
    if Path(ref).suffix in CHECKPOINT_SUFFIXES:
        spec, model = load_checkpoint(ref)
        return spec, model, True
    spec = load_spec(ref)
    return spec, build_model(spec).eval(), False


def export_model(model: torch.nn.Module, spec: NetworkSpec, path: str | Path, format: str = "onnx") -> Path:
    """Write ``model`` fused, in eval mode, as ``format`` (``onnx`` or ``torchscript``) to
    ``path``; its input is ``N x C x H x W`` of the spec's channels and resolution, ``N`` free."""
    if format not in EXPORT_FORMATS:
        raise ExportError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")  # renamed when whole: never half a file
    fused = fuse_model(model)
    example = torch.randn(2, spec.in_channels, *spec.resolution)
    try:
        if format == "onnx":
            _export_onnx(fused, example, partial)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracing's notes on Python values it records as constants
                traced = torch.jit.trace(fused, example)
            traced.save(str(partial))
        partial.replace(path)
    except OSError as error:
        raise ExportError(f"cannot write {path} ({error.strerror or error})") from None
    finally:
        partial.unlink(missing_ok=True)
    return path


def _export_onnx(fused: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise ExportError(f"ONNX export needs the {package} package: pip install -e \".[export]\"") from None
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # e.g. that torchvision's detection ops are not registered
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter narrates each of its passes
            program = torch.onnx.export(fused, (example,), dynamo=True, dynamic_shapes={"x": {0: batch}},
                                        input_names=["images"], output_names=["logits"])
    finally:
        exporter_log.setLevel(level)
    program.save(str(path))


__all__ = ["EXPORT_FORMATS", "ExportError", "export_model", "load_network"]
