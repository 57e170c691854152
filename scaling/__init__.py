"""Compound scaling of EfficientNet-family specs: rounding rules, coefficient fits, families, power laws.

Command lines: ``python -m scaling.fit`` (see :mod:`scaling.fit`) and ``python -m scaling.check``
(a run's members trained and checked against its law, see :mod:`scaling.check`). A scaling
run directory's files are named and read in :mod:`scaling.run_files`.

>>> from search_space import load_spec
>>> from scaling import PAPER_COEFFICIENTS, corrected_scale
>>> round(corrected_scale(load_spec("efficientnet-b0"), PAPER_COEFFICIENTS, phi=1).realised_ratio, 2)
1.9
"""

from infra.lazy import lazy_exports

# Imported on first use: reading specs and tables loads no torch.
_EXPORTS = {
    **dict.fromkeys(["Coefficients", "PAPER_COEFFICIENTS", "RATIO_TOLERANCE", "ScaledNetwork", "compound_scale",
                     "corrected_scale", "simplex_grid"],
                    "scaling.compound"),
    **dict.fromkeys(["CoefficientFit", "fit_coefficients"], "scaling.coefficient_fit"),
    **dict.fromkeys(["FamilyMember", "scaled_family", "write_family"], "scaling.family"),
    **dict.fromkeys(["MEASURED_REPLICATE", "read_family", "record_measured"], "scaling.members"),
    "check_members": "scaling.check",
    **dict.fromkeys(["LawError", "LawFit", "PowerLaw", "fit_power_law", "validate_by_holdout"], "scaling.power_law"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
