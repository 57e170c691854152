"""Compound scaling of EfficientNet-family specs.

>>> from search_space import load_spec
>>> from scaling import scale
>>> scale(load_spec("efficientnet-b0"), width_mult=1.4, depth_mult=1.8, resolution=380).stages[-1].out_channels
448
"""

from scaling.rules import CHANNEL_DIVISOR, round_filters, round_repeats, scale
from scaling.compound import Coefficients, ScaledNetwork, compound_scale, corrected_scale, simplex_grid

__all__ = [
    "CHANNEL_DIVISOR", "Coefficients", "ScaledNetwork", "compound_scale", "corrected_scale", "round_filters",
    "round_repeats", "scale", "simplex_grid",
]
