"""Typed, frozen description of an EfficientNet-family network.

A :class:`NetworkSpec` is the single source of truth of the suite: the builder
(:func:`search_space.build_model`), the cost model (:func:`search_space.count_cost`),
the scaling rules and the search all read and write specs, never a second table.

Conventions
-----------
* A stage is a run of ``repeats`` identical blocks; only its first block applies
  ``stride`` and changes the channel count (EfficientNet paper, Table 1).
* A stage's input width is the previous stage's ``out_channels`` (the stem width
  for the first stage), so it is derived, never stored twice.
* Squeeze-excitation ``ratio`` is relative to the block's **input** channels, as in
  the reference implementations (the squeeze width is ``max(1, int(in * ratio))``).
* ``resolution`` is ``(height, width)``; spectrogram-like inputs need not be square.

Every field is validated on construction; a bad value raises :class:`SpecError`
whose message names the field path and the rule, e.g.
``stages[3].kernel: must be an odd integer between 1 and 31, got 4``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from infra.errors import UserError

BLOCK_TYPES = ("MBConv", "FusedMBConv", "GhostMBConv", "GhostFusedMBConv")
ACTIVATIONS = ("silu", "relu", "gelu", "hswish")
CLASSIFIERS = ("linear", "cosine")


class SpecError(UserError):
    """An invalid spec field. ``path`` names the field (``stages[3].kernel``)."""

    def __init__(self, path: str, rule: str):
        self.path = path
        self.rule = rule
        super().__init__(f"{path}: {rule}" if path else rule)

    def within(self, prefix: str) -> "SpecError":
        """The same error seen from an enclosing object (``kernel`` -> ``stages[3].kernel``)."""
        if not self.path:
            return SpecError(prefix, self.rule)
        joiner = "" if self.path.startswith("[") else "."
        return SpecError(f"{prefix}{joiner}{self.path}", self.rule)


# --- field checks -------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Upper bounds far beyond any published EfficientNet (B7: 2,560 channels, 600 px, 18 repeats
# a stage, kernel 7, expansion 6) that keep every accepted spec buildable in memory: a typo
# of 10**9 channels is an error here, not a crash when the model is built.
MAX_CHANNELS = 65_536  # 25x B7's widest layer: room for any width multiplier a scaling study tries
MAX_SIDE = 16_384  # pixels per side; long spectrograms stay well inside
MAX_REPEATS = 256
MAX_STAGES = 64  # EfficientNet has 7, EfficientNetV2 6
MAX_KERNEL = 31
MAX_EXPANSION = 64
MAX_CLASSES = 100_000  # ImageNet-21k has 21,841


def check_int(path: str, value: object, minimum: int = 1, maximum: int | None = None) -> None:
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum:,}"
        raise SpecError(path, f"must be an integer {bound}, got {value!r}")


def check_odd(path: str, value: object, maximum: int = MAX_KERNEL) -> None:
    if not _is_int(value) or value < 1 or value % 2 == 0 or value > maximum:
        raise SpecError(path, f"must be an odd integer between 1 and {maximum}, got {value!r}")


def check_choice(path: str, value: object, choices: tuple) -> None:
    """``value`` is one of ``choices`` and of the same type: ``2.0`` and ``True`` are not the stride 2."""
    if value not in choices or type(value) not in {type(choice) for choice in choices}:
        raise SpecError(path, f"must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_fraction(path: str, value: object) -> None:
    """A probability that may be zero but never one (dropout, stochastic depth)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise SpecError(path, f"must be a number with 0 <= value < 1, got {value!r}")


def check_positive(path: str, value: object) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise SpecError(path, f"must be a number > 0, got {value!r}")


# --- attention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqueezeExcitation:
    """Squeeze-and-excitation (Hu et al. 2018; EfficientNet section 4).

    ``ratio`` is relative to the block's input channels: squeeze width
    ``max(1, int(block_in * ratio))``, applied to the expanded features.
    """

    ratio: float = 0.25

    def __post_init__(self) -> None:
        if not _is_number(self.ratio) or not 0 < self.ratio <= 1:
            raise SpecError("ratio", f"must be a number with 0 < ratio <= 1, got {self.ratio!r}")

    def __str__(self) -> str:
        return f"se{self.ratio!r}"


@dataclass(frozen=True)
class EfficientChannelAttention:
    """ECA (Wang et al. 2020, arXiv 1910.03151): 1-D conv across pooled channels.

    ``kernel_size=None`` picks the paper's adaptive kernel from the channel count
    (section 3.3, gamma=2, b=1); an odd integer fixes it.
    """

    kernel_size: int | None = None

    def __post_init__(self) -> None:
        if self.kernel_size is not None:
            check_odd("kernel_size", self.kernel_size)

    def __str__(self) -> str:
        return "eca" if self.kernel_size is None else f"eca{self.kernel_size}"


Attention = Union[SqueezeExcitation, EfficientChannelAttention, None]


def parse_attention(text: object) -> Attention:
    """Read the compact attention notation: ``none``, ``se0.25``, ``eca`` or ``eca5``."""
    if text is None or text == "none":
        return None
    if isinstance(text, (SqueezeExcitation, EfficientChannelAttention)):
        return text
    expected = "must be none, se<ratio> (e.g. se0.25), eca or eca<odd kernel>"
    if not isinstance(text, str):
        raise SpecError("", f"{expected}, got {text!r}")
    try:
        if text.startswith("se"):
            return SqueezeExcitation(float(text[2:]))
        if text == "eca":
            return EfficientChannelAttention()
        if text.startswith("eca"):
            return EfficientChannelAttention(int(text[3:]))
    except SpecError as error:
        raise SpecError("", f"{text!r}: {error}") from None
    except ValueError:
        pass
    raise SpecError("", f"{expected}, got {text!r}")


def format_attention(attention: Attention) -> str:
    return "none" if attention is None else str(attention)


# --- stage and network --------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    """One row of the paper's architecture table: ``repeats`` blocks of one type.

    ``expansion`` multiplies the block's input width (``in * expansion``, no
    rounding). ``layer_scale`` is the initial value of a per-channel gain on the
    residual branch (CaiT, arXiv 2103.17239), ``None`` for none; it only exists in
    blocks that have a residual connection. ``skip=False`` removes the identity
    shortcut even where shapes allow it (``noskip`` in the block-string grammar).
    """

    block: str
    repeats: int
    kernel: int
    stride: int
    expansion: int
    out_channels: int
    attention: Attention = None
    activation: str = "silu"
    skip: bool = True
    layer_scale: float | None = None

    def __post_init__(self) -> None:
        check_choice("block", self.block, BLOCK_TYPES)
        check_int("repeats", self.repeats, maximum=MAX_REPEATS)
        check_odd("kernel", self.kernel)
        check_choice("stride", self.stride, (1, 2))
        check_int("expansion", self.expansion, maximum=MAX_EXPANSION)
        check_int("out_channels", self.out_channels, maximum=MAX_CHANNELS)
        if not (self.attention is None or isinstance(self.attention, (SqueezeExcitation, EfficientChannelAttention))):
            raise SpecError("attention", f"must be None, SqueezeExcitation or EfficientChannelAttention, got {self.attention!r}")
        check_choice("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.skip, bool):
            raise SpecError("skip", f"must be true or false, got {self.skip!r}")
        if self.layer_scale is not None:
            check_positive("layer_scale", self.layer_scale)
        # Hashed by every cost-cache lookup; fields never change, so hash once.
        object.__setattr__(self, "_hash", hash(tuple(getattr(self, name) for name in _STAGE_FIELDS)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def fused(self) -> bool:
        """Fused-MBConv (EfficientNetV2 section 3.2): expand and depthwise merged in one kxk conv."""
        return self.block in ("FusedMBConv", "GhostFusedMBConv")

    @property
    def ghost(self) -> bool:
        """Ghost modules (GhostNet, arXiv 1911.11907) replace the expand/project convs."""
        return self.block in ("GhostMBConv", "GhostFusedMBConv")


_STAGE_FIELDS = tuple(name for name in StageSpec.__dataclass_fields__)


def resolution_pair(value: object) -> tuple[int, int]:
    if _is_int(value):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise SpecError("resolution", f"must be an integer or [height, width], got {value!r}")
    for name, side in zip(("height", "width"), pair):
        if not _is_int(side) or not 1 <= side <= MAX_SIDE:
            raise SpecError("resolution", f"{name} must be an integer between 1 and {MAX_SIDE:,}, got {side!r}")
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network: stem, stages, head and classifier, at one input resolution.

    ``resolution`` accepts an int (square) and is stored as ``(height, width)``.
    ``drop_path_rate`` is the stochastic-depth probability of the last block; block
    ``i`` of ``n`` drops with ``drop_path_rate * i / n`` (EfficientNet, Huang et al.
    2016). ``classifier="cosine"`` is an ArcFace-style head: normalised features and
    weights, logits ``cosine_scale * cos(theta)``, ``cosine_margin`` added to the
    target angle during training (arXiv 1801.07698).
    """

    stem_channels: int
    stages: tuple[StageSpec, ...]
    head_channels: int
    resolution: tuple[int, int] = (224, 224)
    name: str = "custom"
    in_channels: int = 3
    num_classes: int = 1000
    stem_stride: int = 2
    dropout: float = 0.2
    drop_path_rate: float = 0.2
    classifier: str = "linear"
    cosine_scale: float = 30.0
    cosine_margin: float = 0.0

    def __post_init__(self) -> None:
        # Normalise the convenient input forms once, so equality and hashing are exact.
        object.__setattr__(self, "resolution", resolution_pair(self.resolution))
        if not isinstance(self.stages, (tuple, list)):
            raise SpecError("stages", f"must be a list of stages, got {self.stages!r}")
        object.__setattr__(self, "stages", tuple(self.stages))
        if not 1 <= len(self.stages) <= MAX_STAGES:
            raise SpecError("stages", f"must contain between 1 and {MAX_STAGES} stages, got {len(self.stages)}")
        for index, stage in enumerate(self.stages):
            if not isinstance(stage, StageSpec):
                raise SpecError(f"stages[{index}]", f"must be a StageSpec, got {type(stage).__name__}")
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("name", f"must be a non-empty string, got {self.name!r}")
        check_int("stem_channels", self.stem_channels, maximum=MAX_CHANNELS)
        check_int("head_channels", self.head_channels, maximum=MAX_CHANNELS)
        check_int("in_channels", self.in_channels, maximum=MAX_CHANNELS)
        check_int("num_classes", self.num_classes, maximum=MAX_CLASSES)
        check_choice("stem_stride", self.stem_stride, (1, 2))
        check_fraction("dropout", self.dropout)
        check_fraction("drop_path_rate", self.drop_path_rate)
        check_choice("classifier", self.classifier, CLASSIFIERS)
        if self.classifier == "cosine" and self.head_channels < 2:
            # The cosine of two 1-d vectors is +-1 whatever the weights: nothing to learn.
            raise SpecError("head_channels", f"must be >= 2 for a cosine classifier, got {self.head_channels}")
        check_positive("cosine_scale", self.cosine_scale)
        if not _is_number(self.cosine_margin) or not 0 <= self.cosine_margin < math.pi / 2:
            raise SpecError("cosine_margin", f"must be a number in [0, pi/2) radians, got {self.cosine_margin!r}")

    @property
    def stage_inputs(self) -> tuple[int, ...]:
        """Input channels of each stage (the previous stage's output, the stem for the first)."""
        widths = (self.stem_channels,) + tuple(stage.out_channels for stage in self.stages)
        return widths[:-1]

    @property
    def total_blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)


__all__ = [
    "ACTIVATIONS",
    "BLOCK_TYPES",
    "CLASSIFIERS",
    "Attention",
    "EfficientChannelAttention",
    "NetworkSpec",
    "SpecError",
    "SqueezeExcitation",
    "StageSpec",
    "format_attention",
    "parse_attention",
]
