"""Hypothesis strategies for valid specs, wider than any declared search space."""

from __future__ import annotations

from hypothesis import strategies as st

from search_space import (
    ACTIVATIONS,
    BLOCK_TYPES,
    EfficientChannelAttention,
    NetworkSpec,
    SqueezeExcitation,
    StageSpec,
)

attentions = st.one_of(
    st.none(),
    st.builds(SqueezeExcitation, st.sampled_from([0.0625, 0.125, 0.25, 0.5, 1.0])),
    st.builds(EfficientChannelAttention, st.none() | st.sampled_from([1, 3, 5, 7])),
)


@st.composite
def stages(draw, max_channels: int = 48, max_repeats: int = 2) -> StageSpec:
    return StageSpec(
        block=draw(st.sampled_from(BLOCK_TYPES)),
        repeats=draw(st.integers(1, max_repeats)),
        kernel=draw(st.sampled_from([1, 3, 5, 7])),
        stride=draw(st.sampled_from([1, 2])),
        expansion=draw(st.integers(1, 6)),
        # Odd widths on purpose: Ghost modules keep ceil(out/2) intrinsic maps.
        out_channels=draw(st.integers(1, max_channels)),
        attention=draw(attentions),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        skip=draw(st.booleans()),
        layer_scale=draw(st.none() | st.sampled_from([1e-5, 1e-6, 0.1])),
    )


@st.composite
def networks(draw, max_stages: int = 4, max_channels: int = 48) -> NetworkSpec:
    height = draw(st.integers(8, 40))
    square = draw(st.booleans())
    classifier = draw(st.sampled_from(["linear", "cosine"]))
    return NetworkSpec(
        name=draw(st.sampled_from(["custom", "net-a", "spectrogram net"])),
        stem_channels=draw(st.integers(1, max_channels)),
        stages=tuple(draw(st.lists(stages(max_channels), min_size=1, max_size=max_stages))),
        head_channels=draw(st.integers(2 if classifier == "cosine" else 1, 4 * max_channels)),
        resolution=height if square else (height, draw(st.integers(8, 56))),
        in_channels=draw(st.integers(1, 4)),
        num_classes=draw(st.integers(1, 12)),
        stem_stride=draw(st.sampled_from([1, 2])),
        dropout=draw(st.sampled_from([0.0, 0.2, 0.5])),
        drop_path_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
        classifier=classifier,
        cosine_scale=draw(st.sampled_from([16.0, 30.0, 64.0])),
        cosine_margin=draw(st.sampled_from([0.0, 0.2, 0.5])),
    )
