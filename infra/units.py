"""Quantities as people type them: MAC counts, resolutions, durations.

MACs are multiply-accumulates of convolutions and linear layers, the EfficientNet
papers' "FLOPs" (B0: 0.39B), counted at a spec's own resolution.
"""

from __future__ import annotations

import math
import re

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([kmgt]?)\s*$", re.IGNORECASE | re.ASCII)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def _amount(text: str, pattern: re.Pattern, units: dict[str, float], expected: str) -> float:
    """``mantissa[e exponent][unit]`` read by ``pattern`` (its three groups) times the unit's
    factor; infinity when it overflows; ``ValueError`` naming ``expected`` when it does not parse."""
    match = pattern.match(str(text))
    if not match:
        raise ValueError(f"expected {expected}, got {text!r}")
    mantissa, exponent, unit = match.groups()
    try:
        return float(mantissa) * 10.0 ** int(exponent or 0) * units[(unit or "").lower()]
    except OverflowError:
        return math.inf


def parse_macs(text: str) -> int:
    """``"400M"`` -> 400_000_000; also ``1.2G``, ``4e8``, ``250k``, ``400000000``.

    >>> parse_macs("400M"), parse_macs("1.2G"), parse_macs("4e8")
    (400000000, 1200000000, 400000000)
    """
    value = _amount(text, _AMOUNT, _UNITS, "a MAC count like 400M, 1.2G or 4e8")
    if not math.isfinite(value):
        raise ValueError(f"a MAC count must be a finite number, got {text!r}")
    if value < 1:
        raise ValueError(f"a MAC count must be at least 1, got {text!r}")
    return int(round(value))


def format_macs(macs: float) -> str:
    """Three significant digits and a unit: ``format_macs(394_000_000) == '394M'``.

    >>> format_macs(394_000_000), format_macs(1_250_000_000), format_macs(812)
    ('394M', '1.25G', '812')
    """
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(macs) >= size:
            return f"{macs / size:.3g}{unit}"
    return f"{macs:.0f}"


def format_bytes(count: float) -> str:
    """Three significant digits and a binary unit: ``format_bytes(12.5 * 2**30) == '12.5 GiB'``.

    >>> format_bytes(12.5 * 2**30), format_bytes(97_000_000), format_bytes(512)
    ('12.5 GiB', '92.5 MiB', '512 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= size:
            value = count / size
            return f"{value:.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"
    return f"{count:.0f} B"


def parse_resolution(text: str) -> tuple[int, int]:
    """``"32"`` -> ``(32, 32)``, ``"64x200"`` -> ``(64, 200)`` (height x width).

    >>> parse_resolution("32"), parse_resolution("64x200")
    ((32, 32), (64, 200))
    """
    parts = str(text).strip().lower().split("x")
    # str.isdigit accepts superscripts and other digits that int() refuses: ASCII only.
    if not all(part.isascii() and part.isdigit() for part in parts) or len(parts) not in (1, 2):
        raise ValueError(f"expected N or HxW (e.g. 32 or 64x200), got {text!r}")
    values = [int(part) for part in parts] * (2 if len(parts) == 1 else 1)
    if min(values) < 1:
        raise ValueError(f"expected N or HxW with sides >= 1, got {text!r}")
    return values[0], values[1]


def parse_seconds(text: str) -> float:
    """A duration: ``90``, ``90s``, ``20m``, ``1.5h``.

    >>> parse_seconds("20m"), parse_seconds("90"), parse_seconds("1.5h")
    (1200.0, 90.0, 5400.0)
    """
    value = str(text).strip().lower()
    if not value.isascii():
        raise ValueError(f"expected a duration like 90, 90s, 20m or 1.5h, got {text!r}")
    factor = _DURATION_UNITS.get(value[-1:], None)
    number = value[:-1] if factor else value
    try:
        result = float(number) * (factor or 1)
    except ValueError:
        raise ValueError(f"expected a duration like 90, 90s, 20m or 1.5h, got {text!r}") from None
    if not (math.isfinite(result) and result > 0):
        raise ValueError(f"a duration must be a finite number > 0, got {text!r}")
    return result


_LATENCY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*(ms|s|us)?\s*$", re.IGNORECASE | re.ASCII)
_LATENCY_UNITS = {"ms": 1.0, "": 1.0, "s": 1e3, "us": 1e-3}


def parse_milliseconds(text: str) -> float:
    """A latency in milliseconds: ``15ms``, ``15`` (ms), ``0.015s``, ``900us``.

    >>> parse_milliseconds("15ms"), parse_milliseconds("0.015s"), parse_milliseconds("900us")
    (15.0, 15.0, 0.9)
    """
    value = _amount(text, _LATENCY, _LATENCY_UNITS, "a latency like 15ms, 0.015s or 900us")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"a latency must be a finite number > 0, got {text!r}")
    return round(value, 9)


__all__ = ["format_bytes", "format_macs", "parse_macs", "parse_milliseconds", "parse_resolution", "parse_seconds"]
