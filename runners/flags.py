"""The flags every training command shares (search, scaling grid, evaluation), defined once.

Each command picks its own defaults (a search trains longer per candidate than a scaling
grid point) but the names, checks and the types they become are the same everywhere:
:class:`runners.data.sources.DataOptions` and :class:`runners.learning.loop.TrainConfig`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from infra.cli import checked, float_between, integer_between, positive_float, positive_int
from infra.errors import UsageError
from infra.units import parse_resolution
from runners.data.sources import DataOptions
from runners.learning.loop import TrainConfig, resolve_device
from search_space.spec import MAX_SIDE

# Bounds of the shared flags: far beyond any sensible proxy, close enough that a typo
# (an extra zero, a misplaced exponent) is an error rather than days of training.
MAX_EPOCHS = 1000
MAX_SEEDS = 100  # seed replicates per candidate (search, evaluate, scaling grid)
MAX_WORKERS = 1024  # parallel trials: processes here or actors on a Ray cluster
MIN_PROXY_SIDE = 8  # below this the stem's 3x3 conv sees more padding than pixels
MAX_LEARNING_RATE = 1.0  # AdamW's step is about lr per weight: above 1 every step overshoots


@dataclass(frozen=True)
class ProxyDefaults:
    """A command's defaults for the proxy flags."""

    epochs: int
    batch_size: int
    learning_rate: float
    max_train_samples: int
    max_val_samples: int


# The search's proxy; ``runners.evaluate`` scores specs with exactly these.
SEARCH_PROXY = ProxyDefaults(epochs=2, batch_size=64, learning_rate=1e-2, max_train_samples=2048,
                             max_val_samples=1024)


def add_proxy_arguments(parser: argparse.ArgumentParser, *, title: str, defaults: ProxyDefaults,
                        otherwise: str = "") -> None:
    """Data and proxy-training flags, with this command's defaults. With ``otherwise`` (e.g.
    ", or the scaling run's with --members") the recipe flags default to ``None`` (not
    given, for the command to fill) and their help says what applies then."""
    def default(value, shown: str | None = None) -> dict:
        if not otherwise:
            return {"default": value}
        return {"default": None, "help_suffix": f"; when not given, {shown or value}{otherwise}"}

    def add(flag: str, help: str, **options) -> None:
        suffix = options.pop("help_suffix", "")
        group.add_argument(flag, help=help + suffix, **options)

    group = parser.add_argument_group(title)
    group.add_argument("--data", default=None,
                       help="IDX directory, .npz (x, y) or class-folder directory; when not given, Fashion-MNIST "
                            "from $FASHION_MNIST or Debian's dataset-fashion-mnist" + (otherwise and f" ({otherwise[2:]})"))
    group.add_argument("--proxy-resolution", type=checked(parse_proxy_resolution), default=None,
                       help="N or HxW for training; when not given, the data's size, at least 32"
                            + (otherwise and f" ({otherwise[2:]})"))
    add("--epochs", "training epochs", type=integer_between(1, MAX_EPOCHS), **default(defaults.epochs))
    add("--batch-size", "training batch size", type=positive_int, **default(defaults.batch_size))
    add("--learning-rate", "AdamW peak learning rate", type=float_between(0.0, MAX_LEARNING_RATE),
        **default(defaults.learning_rate))
    add("--max-train-samples", "training samples used", type=positive_int,
        **default(defaults.max_train_samples, "all" if defaults.max_train_samples is None else None))
    add("--max-val-samples", "validation samples scored", type=positive_int,
        **default(defaults.max_val_samples, "all" if defaults.max_val_samples is None else None))
    add("--val-fraction", "share of the training data held out for validation", type=positive_float,
        **default(0.1))
    group.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")


def add_backend_arguments(group, *, workers_help: str) -> None:
    """``--backend``, ``--workers`` and ``--ray-address``: who runs the work, shared by the
    search and the scaling grid (see :mod:`runners.executors`)."""
    group.add_argument("--backend", choices=("optuna", "ray"), default="optuna",
                       help="who runs the work: processes on this machine (optuna), or Ray (a local one, or the "
                            "cluster at --ray-address)")
    group.add_argument("--workers", type=integer_between(1, MAX_WORKERS), default=1, help=workers_help)
    group.add_argument("--ray-address", default=None,
                       help="join an existing Ray cluster at HOST:PORT; when not given, start a local Ray")


def check_backend_arguments(args: argparse.Namespace) -> None:
    if args.ray_address and args.backend != "ray":
        raise UsageError(f"--ray-address {args.ray_address} needs --backend ray")


def parse_proxy_resolution(text: str) -> tuple[int, int]:
    """``--proxy-resolution``: N or HxW with each side in [MIN_PROXY_SIDE, MAX_SIDE]."""
    resolution = parse_resolution(text)
    if not all(MIN_PROXY_SIDE <= side <= MAX_SIDE for side in resolution):
        raise ValueError(f"expected sides between {MIN_PROXY_SIDE} and {MAX_SIDE:,} pixels, got {text!r}")
    return resolution


def data_options(args: argparse.Namespace) -> DataOptions:
    if not 0 < args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    return DataOptions(args.data, args.proxy_resolution, args.val_fraction, args.max_train_samples,
                       args.max_val_samples, args.seed, show_progress=not getattr(args, "quiet", False))


def train_config(args: argparse.Namespace, **recipe) -> TrainConfig:
    """The proxy recipe from the flags; ``recipe`` sets the fields no flag names."""
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                       device=checked_device(args.device), **recipe)


TRAINING_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")  # torch device types that hold real tensors and train


def checked_device(requested: str) -> str:
    """``--device`` resolved, or one line saying why it cannot be used here."""
    import torch

    try:
        device = resolve_device(requested)
    except RuntimeError as error:
        raise UsageError(f"--device {requested}: {str(error).splitlines()[0]}") from None
    kind = torch.device(device).type
    if kind not in TRAINING_DEVICE_TYPES:
        raise UsageError(f"--device {requested}: training needs one of {', '.join(TRAINING_DEVICE_TYPES)}")
    try:
        torch.empty(1, device=device)  # the one test every kind of device answers the same way
    except (RuntimeError, AssertionError):  # torch raises AssertionError for a CUDA-less build
        raise UsageError(f"--device {requested}: no such {kind.upper()} device is available to this PyTorch on "
                         f"this machine") from None
    return device


__all__ = ["MAX_SEEDS", "MAX_WORKERS", "ProxyDefaults", "SEARCH_PROXY", "add_proxy_arguments", "checked_device",
           "data_options", "train_config"]
