"""Named architectures, each defined once from its official block strings.

* ``efficientnet-b0``: the MnasNet-searched base (EfficientNet Table 1).
* ``efficientnet-b1`` .. ``b7``: ``search_space.rules.scale(b0, ...)`` with the official
  (width, depth, resolution, dropout) coefficients, never separate tables.
* ``efficientnetv2-s/m/l``: the google/automl stage tables (``effnetv2_configs.py``).
* ``ghost-efficientnetv2``: :func:`~search_space.transforms.to_ghost` of V2-S.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from search_space.block_string import network_from_block_strings
from search_space.rules import scale
from search_space.serialization import read_spec_file
from search_space.spec import NetworkSpec, SpecError
from search_space.transforms import to_ghost

EFFICIENTNET_B0_BLOCKS = (
    "r1_k3_s11_e1_i32_o16_se0.25",
    "r2_k3_s22_e6_i16_o24_se0.25",
    "r2_k5_s22_e6_i24_o40_se0.25",
    "r3_k3_s22_e6_i40_o80_se0.25",
    "r3_k5_s11_e6_i80_o112_se0.25",
    "r4_k5_s22_e6_i112_o192_se0.25",
    "r1_k3_s11_e6_i192_o320_se0.25",
)

# Official (width_mult, depth_mult, resolution, dropout) of B1..B7 (tensorflow/tpu
# efficientnet_builder.py). Chosen by hand: not exactly 1.2**phi, 1.1**phi, 1.15**phi.
EFFICIENTNET_COEFFICIENTS = {
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
    "efficientnet-b5": (1.6, 2.2, 456, 0.4),
    "efficientnet-b6": (1.8, 2.6, 528, 0.5),
    "efficientnet-b7": (2.0, 3.1, 600, 0.5),
}

EFFICIENTNETV2_BLOCKS = {
    "efficientnetv2-s": (
        "r2_k3_s1_e1_i24_o24_c1",
        "r4_k3_s2_e4_i24_o48_c1",
        "r4_k3_s2_e4_i48_o64_c1",
        "r6_k3_s2_e4_i64_o128_se0.25",
        "r9_k3_s1_e6_i128_o160_se0.25",
        "r15_k3_s2_e6_i160_o256_se0.25",
    ),
    "efficientnetv2-m": (
        "r3_k3_s1_e1_i24_o24_c1",
        "r5_k3_s2_e4_i24_o48_c1",
        "r5_k3_s2_e4_i48_o80_c1",
        "r7_k3_s2_e4_i80_o160_se0.25",
        "r14_k3_s1_e6_i160_o176_se0.25",
        "r18_k3_s2_e6_i176_o304_se0.25",
        "r5_k3_s1_e6_i304_o512_se0.25",
    ),
    "efficientnetv2-l": (
        "r4_k3_s1_e1_i32_o32_c1",
        "r7_k3_s2_e4_i32_o64_c1",
        "r7_k3_s2_e4_i64_o96_c1",
        "r10_k3_s2_e4_i96_o192_se0.25",
        "r19_k3_s1_e6_i192_o224_se0.25",
        "r25_k3_s2_e6_i224_o384_se0.25",
        "r7_k3_s1_e6_i384_o640_se0.25",
    ),
}
# (evaluation resolution, dropout) as in torchvision's V2 weights and the automl configs.
EFFICIENTNETV2_SETTINGS = {
    "efficientnetv2-s": (384, 0.2),
    "efficientnetv2-m": (480, 0.3),
    "efficientnetv2-l": (480, 0.4),
}


def efficientnet_b0() -> NetworkSpec:
    return network_from_block_strings(
        EFFICIENTNET_B0_BLOCKS, head_channels=1280, resolution=224, dropout=0.2, name="efficientnet-b0")


def _efficientnet_scaled(name: str) -> NetworkSpec:
    width, depth, resolution, dropout = EFFICIENTNET_COEFFICIENTS[name]
    return scale(efficientnet_b0(), width, depth, resolution, dropout=dropout, name=name)


def _efficientnetv2(name: str) -> NetworkSpec:
    resolution, dropout = EFFICIENTNETV2_SETTINGS[name]
    return network_from_block_strings(
        EFFICIENTNETV2_BLOCKS[name], head_channels=1280, resolution=resolution, dropout=dropout, name=name)


def ghost_efficientnetv2(width_mult: float = 1.0, depth_mult: float = 1.0) -> NetworkSpec:
    """Ghost EfficientNetV2: V2-S with Ghost modules, ECA, LayerScale, scaled by the multipliers."""
    base = to_ghost(_efficientnetv2("efficientnetv2-s"), name="ghost-efficientnetv2")
    return scale(base, width_mult, depth_mult)


PRESETS: dict[str, Callable[[], NetworkSpec]] = {
    "efficientnet-b0": efficientnet_b0,
    **{name: (lambda name=name: _efficientnet_scaled(name)) for name in EFFICIENTNET_COEFFICIENTS},
    **{name: (lambda name=name: _efficientnetv2(name)) for name in EFFICIENTNETV2_BLOCKS},
    "ghost-efficientnetv2": ghost_efficientnetv2,
}


def load_spec(ref: str | Path | NetworkSpec, width_mult: float = 1.0, depth_mult: float = 1.0) -> NetworkSpec:
    """A spec from a preset name, a ``.yaml``/``.json`` file, or a run directory's ``best.yaml``.

    ``width_mult``/``depth_mult`` scale the result with the reference rounding
    (e.g. ``load_spec("ghost-efficientnetv2", width_mult=0.5, depth_mult=0.5)``).

    >>> load_spec("efficientnet-b0").resolution
    (224, 224)
    """
    if isinstance(ref, NetworkSpec):
        spec = ref
    elif str(ref) in PRESETS:
        spec = PRESETS[str(ref)]()
    else:
        path = Path(ref)
        if path.is_dir() and (path / "best.yaml").is_file():
            path = path / "best.yaml"
        if not path.exists():
            raise SpecError("", f"{ref!s}: not a preset ({', '.join(PRESETS)}) and no such file")
        spec = read_spec_file(path)
    if width_mult == 1.0 and depth_mult == 1.0:
        return spec
    return scale(spec, width_mult, depth_mult)
