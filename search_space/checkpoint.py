"""Checkpoints: a network's spec and weights in one file, loadable without pickled code.

The file is a ``torch.save`` of plain data (``weights_only`` loading is enough): the
format number, the spec as JSON (the one source of truth: the model is rebuilt from it),
the model's ``state_dict`` and whatever a trainer adds (epoch, optimizer state, metrics).
``torch.save`` writes a zip archive whose members carry CRC-32 checksums; ``torch.load``
does not check them, so every member is checked before loading: a damaged byte is one
error line, never a network with other weights.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from infra.errors import UserError
from infra.files import write_atomically
from search_space.model import EfficientNet, build_model
from search_space.serialization import from_json, to_json
from search_space.spec import NetworkSpec, SpecError

CHECKPOINT_FORMAT = 1
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


class CheckpointError(UserError):
    """A file that is not a readable checkpoint of this suite."""


def save_checkpoint(path: str | Path, spec: NetworkSpec, model: torch.nn.Module, **extra: Any) -> Path:
    """Write ``spec`` and ``model``'s weights (and ``extra``) to ``path`` atomically: a kill
    while saving leaves the previous checkpoint, never half a file."""
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, "spec": to_json(spec), "state_dict": model.state_dict(), **extra}
    write_atomically(path, lambda temporary: torch.save(payload, temporary))
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, checked; one :class:`CheckpointError` line for anything else."""
    path = Path(path)
    try:
        damaged = _damaged_member(path)
        payload = None if damaged else torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as error:  # zipfile and torch.load report a damaged or foreign file through many types
        raise CheckpointError(f"{path}: not a checkpoint torch can read ({type(error).__name__}: "
                              f"{str(error).splitlines()[0][:120] if str(error) else ''})") from None
    if damaged:
        raise CheckpointError(f"{path}: damaged ({damaged} does not match its checksum)")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of this suite (format {CHECKPOINT_FORMAT}: spec and weights)")
    if not isinstance(payload.get("spec"), str) or not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(f"{path}: its spec or weights are missing")
    return payload


def _damaged_member(path: Path) -> str | None:
    """The first member of the archive that does not read whole or match its CRC-32, else
    None (``torch.save`` computes them; ``torch.load`` reads a member at the offset its header
    gives and never checks, so a damaged header or byte loads as other weights)."""
    with zipfile.ZipFile(path) as archive:
        return archive.testzip()


def load_checkpoint(path: str | Path) -> tuple[NetworkSpec, EfficientNet]:
    """The spec and the model with its weights, in eval mode."""
    payload = read_checkpoint(path)
    try:
        spec = from_json(payload["spec"], str(path))
    except SpecError as error:
        raise CheckpointError(f"{path}: its spec is invalid ({error})") from None
    model = build_model(spec)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: its weights do not fit its spec ({str(error).splitlines()[0][:160]})") from None
    return spec, model.eval()


__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_SUFFIXES", "CheckpointError", "load_checkpoint", "read_checkpoint",
           "save_checkpoint"]
