"""Compound scaling of EfficientNet-family specs: rounding rules, coefficient fits, families, power laws.

Command line: ``python -m scaling.fit`` (see :mod:`scaling.fit`).

>>> from search_space import load_spec
>>> from scaling import PAPER_COEFFICIENTS, corrected_scale
>>> round(corrected_scale(load_spec("efficientnet-b0"), PAPER_COEFFICIENTS, phi=1).realised_ratio, 2)
1.9
"""

from scaling.compound import (PAPER_COEFFICIENTS, RATIO_TOLERANCE, Coefficients, ScaledNetwork, compound_scale,
                              corrected_scale, simplex_grid)
from scaling.coefficient_fit import CoefficientFit, fit_coefficients
from scaling.family import FamilyMember, scaled_family, write_family
from scaling.power_law import LawError, LawFit, PowerLaw, fit_power_law, validate_by_holdout

__all__ = [
    "PAPER_COEFFICIENTS", "RATIO_TOLERANCE", "CoefficientFit", "Coefficients", "FamilyMember", "LawError", "LawFit", "PowerLaw",
    "ScaledNetwork", "compound_scale", "corrected_scale", "fit_coefficients", "fit_power_law", "scaled_family", "simplex_grid", "validate_by_holdout", "write_family",
]
