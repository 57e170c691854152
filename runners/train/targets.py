"""What one full training is, and running it: shared by ``python -m runners.train`` and by
``python -m scaling.check`` (a scaling run's members checked against their prediction).

A :class:`Target` is a network, its data options and where it trains; a :class:`Regime` is
what a training adds to the recipe (EfficientNetV2's progressive learning, augmentation,
fine-tuning). :func:`train_target` claims the run directory (resume or refuse), builds the
initial model and trains it (:func:`runners.train.full_run.train_run`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from infra.cli import float_between, integer_between
from infra.errors import UsageError
from infra.run_dirs import claim_run_dir
from infra.seeds import replicate_seed
from infra.units import format_macs
from runners.data.sources import DataOptions, Splits
from runners.flags import ProxyDefaults
from runners.learning.loop import Stage, TrainConfig
from runners.learning.progressive import PAPER_STAGES, progressive_schedule
from runners.train.full_run import FineTuning, fit_in_memory, initial_model, train_run, with_head
from search_space import NetworkSpec, count_cost, spec_to_dict

# A full training's defaults: every training image, 10 epochs of batch 128.
TRAINING = ProxyDefaults(epochs=10, batch_size=128, learning_rate=5e-3, max_train_samples=None, max_val_samples=None)
# The flags that define what a trained network's metric means (its recipe): a command that
# trains what another run measured (a scaling run's members) takes them from that run.
RECIPE_FLAGS = ("data", "proxy_resolution", "val_fraction", "max_train_samples", "max_val_samples", "epochs",
                "batch_size", "learning_rate", "seed")


@dataclass(frozen=True)
class Regime:
    """What a training adds to its recipe: progressive learning (EfficientNetV2 section 4.2),
    augmentation and fine-tuning. The default regime trains the recipe as the proxy does."""

    progressive: bool = False
    progressive_stages: int = PAPER_STAGES
    augmentation: float = 0.0  # random zoom and shift magnitude in [0, 1] (the final one with progressive)
    init: Path | None = None  # a checkpoint to start from
    init_digest: str | None = None  # its content's hash: a changed file is another training
    classifier: str | None = None  # another head ("linear" or "cosine"), or the spec's
    trainable_blocks: int = -1  # -1 all, 0 head only, N the head and the last N blocks

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Regime":
        """The regime the flags of :func:`add_regime_arguments` name; an unreadable ``--init``
        is one line before any work."""
        return cls(args.progressive, args.progressive_stages, args.augmentation, args.init,
                   None if args.init is None else _file_digest(args.init), args.classifier, args.trainable_blocks)

    def schedule(self, train: TrainConfig, final: tuple[int, int], dropout: float) -> list[Stage]:
        if self.progressive:
            return progressive_schedule(train.epochs, final, dropout, self.augmentation, self.progressive_stages)
        return [Stage(augmentation=self.augmentation)] * train.epochs

    def identity(self) -> dict:
        return {"progressive": self.progressive,
                "progressive_stages": self.progressive_stages if self.progressive else None,
                "augmentation": self.augmentation, "trainable_blocks": self.trainable_blocks,
                "init": None if self.init is None else {"path": str(self.init), "sha256": self.init_digest}}


def add_regime_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`Regime`."""
    schedule = parser.add_argument_group("progressive learning and regularisation")
    schedule.add_argument("--progressive", action="store_true",
                          help="EfficientNetV2 progressive learning: image size, dropout and augmentation grow "
                               "together over --progressive-stages stages")
    schedule.add_argument("--progressive-stages", type=integer_between(1, 100), default=PAPER_STAGES,
                          help="stages of the progressive schedule")
    schedule.add_argument("--augmentation", type=float_between(0.0, 1.0, include_low=True), default=0.0,
                          help="random zoom and shift magnitude in [0, 1] (the final one with --progressive)")
    tuning = parser.add_argument_group("fine-tuning")
    tuning.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (same architecture; the stem is adapted to the "
                             "data's channels, a classifier of another shape starts afresh)")
    tuning.add_argument("--classifier", choices=("linear", "cosine"), default=None,
                        help="the head: linear, or cosine (ArcFace-style); when not given, the spec's")
    tuning.add_argument("--trainable-blocks", type=integer_between(-1, None), default=-1,
                        help="-1 trains everything, 0 only the head, N the head and the last N blocks")


@dataclass(frozen=True)
class Target:
    """One training: what, on which data, where, at which seed index of its run seed."""

    name: str
    spec: NetworkSpec
    out: Path
    data: DataOptions
    replicate: int = 0


def recorded_flag(config: dict, flag: str):
    """A flag's value as a run's ``config.json`` holds it, in the type the flag parses to
    (JSON has no tuples: a proxy resolution comes back as a list)."""
    value = config[flag]
    return tuple(value) if flag == "proxy_resolution" and value is not None else value


def fill_recipe(args: argparse.Namespace, recorded: dict | None) -> argparse.Namespace:
    """The recipe flags not given: from a run's ``config.json`` (``recorded``), else the
    full-training defaults."""
    filled = vars(args).copy()
    defaults = {"seed": 0, "val_fraction": 0.1, **dataclasses.asdict(TRAINING)}
    for flag in RECIPE_FLAGS:
        if filled[flag] is None:
            filled[flag] = (recorded_flag(recorded, flag) if recorded is not None and flag in recorded
                            else defaults.get(flag))
    return argparse.Namespace(**filled)


def same_recipe(args: argparse.Namespace, recorded: dict) -> bool:
    """True when the flags train with the recipe a run recorded (where it recorded one)."""
    return all(getattr(args, flag) == recorded_flag(recorded, flag) for flag in RECIPE_FLAGS if flag in recorded)


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as error:
        raise UsageError(f"--init {path}: cannot be read ({error.strerror})") from None


def train_target(target: Target, data: Splits, train: TrainConfig, regime: Regime, quiet: bool = False) -> dict:
    """Train ``target`` on ``data`` (prepared from ``target.data``) in its run directory,
    resuming a killed training; the result as ``result.json`` holds it."""
    spec = data.deployed(with_head(target.spec, regime.classifier))
    seed = replicate_seed(target.data.seed, target.replicate)
    identity = {"spec": spec_to_dict(spec), **target.data.identity(), "epochs": train.epochs,
                "batch_size": train.batch_size, "learning_rate": train.learning_rate, "seed": target.data.seed,
                "replicate": target.replicate, **regime.identity()}
    # Checked before the run directory exists: a checkpoint that does not fit makes none.
    model, notes = initial_model(spec, FineTuning(regime.init, regime.trainable_blocks), seed)
    final = data.resolution
    schedule = regime.schedule(train, final, spec.dropout)
    train, memory_notes = fit_in_memory(model, data, train, schedule)  # also checked before the run directory exists
    resuming = claim_run_dir(target.out, identity, "train")
    print(f"{'resuming' if resuming else 'training'} {target.name} ({format_macs(count_cost(spec).macs)} MACs at "
          f"{spec.resolution[0]}x{spec.resolution[1]}) at {final[0]}x{final[1]} on {data.source}, "
          f"{train.epochs} epochs{' (progressive)' if regime.progressive else ''} -> {target.out}")
    for note in notes + memory_notes:
        print(note)
    result = train_run(target.out, model, data, train, schedule, seed=seed, quiet=quiet)
    test = "no test split" if result["test_accuracy"] is None else f"test accuracy {result['test_accuracy']:.4f}"
    print(f"{target.name}: validation accuracy {result['val_accuracy']:.4f}, {test}, "
          f"{result['seconds']:.0f} s -> {target.out}")
    return result


__all__ = ["RECIPE_FLAGS", "Regime", "TRAINING", "Target", "add_regime_arguments", "fill_recipe", "recorded_flag",
           "same_recipe", "train_target"]
