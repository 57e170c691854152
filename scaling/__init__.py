"""Compound scaling of EfficientNet-family specs: rounding rules, coefficient fits, families, power laws.

Command line: ``python -m scaling.fit`` (see :mod:`scaling.fit`).

>>> from search_space import load_spec
>>> from scaling import scale
>>> scale(load_spec("efficientnet-b0"), width_mult=1.4, depth_mult=1.8, resolution=380).stages[-1].out_channels
448
"""

from scaling.rules import CHANNEL_DIVISOR, round_filters, round_repeats, scale
from scaling.compound import Coefficients, ScaledNetwork, compound_scale, corrected_scale, simplex_grid
from scaling.coefficient_fit import CoefficientFit, fit_coefficients
from scaling.family import FamilyMember, scaled_family, write_family
from scaling.power_law import LawError, LawFit, PowerLaw, fit_power_law, validate_by_holdout

__all__ = [
    "CHANNEL_DIVISOR", "CoefficientFit", "Coefficients", "FamilyMember", "LawError", "LawFit", "PowerLaw",
    "ScaledNetwork", "compound_scale", "corrected_scale", "fit_coefficients", "fit_power_law", "round_filters",
    "round_repeats", "scale", "scaled_family", "simplex_grid", "validate_by_holdout", "write_family",
]
