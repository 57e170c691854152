"""Codec for the TF/automl block-string grammar, so published architectures paste in.

One string describes one stage, options joined by ``_``::

    r1_k3_s11_e1_i32_o16_se0.25        EfficientNet-B0, stage 1 (tensorflow/tpu grammar)
    r4_k3_s2_e4_i24_o48_c1             EfficientNetV2-S, stage 2 (google/automl grammar)

Official keys: ``r`` repeats, ``k`` kernel, ``s`` stride (``s2`` or the V1 form
``s22``), ``e`` expansion, ``i``/``o`` input/output channels, ``se`` SE ratio,
``c1`` (or the flag ``f``) Fused-MBConv, ``noskip`` no identity shortcut.
Extensions of this suite, so every :class:`StageSpec` survives a round trip:
``g1`` Ghost modules, ``eca``/``eca5`` ECA (adaptive/fixed kernel), ``ls1e-05``
LayerScale initial value, ``actrelu`` a non-SiLU activation.

Unknown or repeated keys are errors, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Sequence

from search_space.spec import (
    EfficientChannelAttention,
    NetworkSpec,
    SpecError,
    SqueezeExcitation,
    StageSpec,
)

# Longest keys first: "se" must win over "s", "eca" over "e".
_TOKEN = re.compile(r"^(noskip|eca|act|se|ls|r|k|s|e|i|o|c|g|f)(.*)$")
_REQUIRED = ("r", "k", "s", "e", "i", "o")


# ASCII only: str.isdigit, int and float also accept superscripts, other scripts' digits,
# underscores and "inf", none of which belongs in a block string.
_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+|[0-9]+(\.[0-9]*)?[eE]-?[0-9]+")


def _parse_int(text: str, key: str, token: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise SpecError("", f"block string option {token!r}: '{key}' needs an integer")
    return int(text)


def _parse_decimal(text: str, key: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise SpecError("", f"option '{key}{text}': '{key}' needs a decimal number like 0.25")
    return float(text)


def _parse_stride(text: str) -> int:
    # V1 strings give a stride per axis ("s22"); both must agree since specs use square strides.
    if len(text) == 2 and _INTEGER.fullmatch(text):
        if text[0] != text[1]:
            raise SpecError("", f"block string option 's{text}': strides must be equal on both axes")
        return int(text[0])
    if _INTEGER.fullmatch(text):
        return int(text)
    raise SpecError("", f"block string option 's{text}': stride must be like s2 or s22")


def decode_stage(text: str) -> tuple[StageSpec, int]:
    """Decode one block string into ``(stage, input_channels)``.

    >>> stage, in_channels = decode_stage("r2_k3_s22_e6_i16_o24_se0.25")
    >>> stage.repeats, stage.kernel, stage.stride, in_channels
    (2, 3, 2, 16)
    """
    if not isinstance(text, str) or not text:
        raise SpecError("", f"block string must be a non-empty string, got {text!r}")
    options: dict[str, str] = {}
    for token in text.split("_"):
        match = _TOKEN.match(token)
        if not match:
            raise SpecError("", f"block string {text!r}: unknown option {token!r}")
        key, value = match.groups()
        if key in options:
            raise SpecError("", f"block string {text!r}: option '{key}' given twice")
        options[key] = value
    missing = [key for key in _REQUIRED if key not in options]
    if missing:
        raise SpecError("", f"block string {text!r}: missing option(s) {', '.join(missing)}")
    for flag in ("noskip", "f"):
        if options.get(flag, ""):
            raise SpecError("", f"block string {text!r}: '{flag}' takes no value")

    fused = options.get("c", "0") == "1" or "f" in options
    if options.get("c", "0") not in ("0", "1"):
        raise SpecError("", f"block string {text!r}: 'c' must be c0 (MBConv) or c1 (Fused-MBConv)")
    ghost = options.get("g", "0") == "1"
    if options.get("g", "0") not in ("0", "1"):
        raise SpecError("", f"block string {text!r}: 'g' must be g0 or g1 (Ghost modules)")
    if "se" in options and "eca" in options:
        raise SpecError("", f"block string {text!r}: choose one of se and eca")

    attention = None
    try:
        if "se" in options:
            attention = SqueezeExcitation(_parse_decimal(options["se"], "se"))
        elif "eca" in options:
            kernel = options["eca"]
            attention = EfficientChannelAttention(_parse_int(kernel, "eca", "eca" + kernel) if kernel else None)
        layer_scale = _parse_decimal(options["ls"], "ls") if "ls" in options else None
    except ValueError as error:  # SpecError is a ValueError too
        raise SpecError("", f"block string {text!r}: {error}") from None

    block = ("Ghost" if ghost else "") + ("FusedMBConv" if fused else "MBConv")
    try:
        stage = StageSpec(
            block=block,
            repeats=_parse_int(options["r"], "r", "r" + options["r"]),
            kernel=_parse_int(options["k"], "k", "k" + options["k"]),
            stride=_parse_stride(options["s"]),
            expansion=_parse_int(options["e"], "e", "e" + options["e"]),
            out_channels=_parse_int(options["o"], "o", "o" + options["o"]),
            attention=attention,
            activation=options.get("act", "silu"),
            skip="noskip" not in options,
            layer_scale=layer_scale,
        )
    except SpecError as error:
        raise SpecError("", f"block string {text!r}: {error}") from None
    return stage, _parse_int(options["i"], "i", "i" + options["i"])


def encode_stage(stage: StageSpec, in_channels: int) -> str:
    """Encode a stage as a block string; official options first, extensions after.

    >>> encode_stage(decode_stage("r1_k3_s11_e1_i32_o16_se0.25")[0], 32)
    'r1_k3_s11_e1_i32_o16_se0.25'
    """
    parts = [
        f"r{stage.repeats}",
        f"k{stage.kernel}",
        f"s{stage.stride}{stage.stride}",
        f"e{stage.expansion}",
        f"i{in_channels}",
        f"o{stage.out_channels}",
    ]
    if stage.attention is not None:
        parts.append(str(stage.attention))
    if stage.fused:
        parts.append("c1")
    if stage.ghost:
        parts.append("g1")
    if not stage.skip:
        parts.append("noskip")
    if stage.layer_scale is not None:
        parts.append(f"ls{stage.layer_scale!r}")
    if stage.activation != "silu":
        parts.append(f"act{stage.activation}")
    return "_".join(parts)


def decode_stages(strings: Sequence[str], stem_channels: int | None = None) -> tuple[tuple[StageSpec, ...], int]:
    """Decode a list of block strings into stages and the stem width they imply.

    Each string's ``i`` must equal the previous stage's ``o`` (and ``stem_channels``
    for the first, when given): the input width is derived, so disagreement is an error.
    """
    if isinstance(strings, str) or not isinstance(strings, Sequence) or not strings:
        raise SpecError("stages", "must be a non-empty list of block strings")
    stages = []
    expected = stem_channels
    first_input = 0
    for index, text in enumerate(strings):
        try:
            stage, in_channels = decode_stage(text)
        except SpecError as error:
            raise error.within(f"stages[{index}]") from None
        if expected is not None and in_channels != expected:
            source = "stem_channels" if index == 0 else f"stages[{index - 1}] output"
            raise SpecError(f"stages[{index}]", f"block string {text!r} has i{in_channels} but {source} is {expected}")
        if index == 0:
            first_input = in_channels
        stages.append(stage)
        expected = stage.out_channels
    return tuple(stages), first_input


def network_from_block_strings(strings: Sequence[str], *, head_channels: int, **fields) -> NetworkSpec:
    """A :class:`NetworkSpec` from official block strings; the stem width is the first ``i``.

    >>> spec = network_from_block_strings(["r1_k3_s11_e1_i32_o16_se0.25"], head_channels=1280)
    >>> spec.stem_channels, spec.stages[0].out_channels
    (32, 16)
    """
    stages, stem = decode_stages(strings, fields.pop("stem_channels", None))
    return NetworkSpec(stem_channels=stem, stages=stages, head_channels=head_channels, **fields)


def network_to_block_strings(spec: NetworkSpec) -> list[str]:
    """The stages of ``spec`` as block strings (stem width is the first ``i``)."""
    return [encode_stage(stage, width) for stage, width in zip(spec.stages, spec.stage_inputs)]


def stages_summary(spec: NetworkSpec) -> str:
    """All stages as one comma-separated line, convenient in result tables."""
    return ", ".join(network_to_block_strings(spec))
