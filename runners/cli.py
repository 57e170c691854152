"""Command-line plumbing shared by the suite's commands: user mistakes are one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USAGE_ERROR = 2


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` with exit code 2 and a one-line message (no usage dump) for bad flags."""

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def _integer_at_least(minimum: int, description: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value
    return parse


positive_int = _integer_at_least(1, "a positive integer")
non_negative_int = _integer_at_least(0, "an integer >= 0")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def checked(parse):
    """An argparse ``type`` from a parser that raises ``ValueError`` with a readable message."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = parse.__name__
    return convert


def seconds(text: str) -> float:
    """A duration: ``90``, ``90s``, ``20m``, ``1.5h``.

    >>> seconds("20m"), seconds("90"), seconds("1.5h")
    (1200.0, 90.0, 5400.0)
    """
    units = {"s": 1, "m": 60, "h": 3600}
    value = text.strip().lower()
    factor = units.get(value[-1:], None)
    number = value[:-1] if factor else value
    try:
        result = float(number) * (factor or 1)
    except ValueError:
        raise ValueError(f"expected a duration like 90, 90s, 20m or 1.5h, got {text!r}") from None
    if not result > 0:
        raise ValueError(f"a duration must be > 0, got {text!r}")
    return result


def claim_run_dir(run_dir: Path, identity: dict, kind: str) -> bool:
    """Create ``run_dir`` with ``config.json`` = ``identity``, or check that an existing one
    holds the same ``kind`` of run with the same identity. True when resuming.

    A key an older run directory lacks is not a difference (it predates the flag).
    """
    config_path = run_dir / "config.json"
    if config_path.exists():
        try:
            saved = json.loads(config_path.read_text())
        except json.JSONDecodeError:
            raise UsageError(f"{config_path}: unreadable; is {run_dir} a {kind} run directory?") from None
        differing = [key for key in identity if key in saved and saved[key] != identity[key]]
        if differing:
            key = differing[0]
            flag = f"--{key.replace('_', '-')}"
            shown = (f"a different {key.replace('_', ' ')}" if isinstance(saved[key], dict)
                     else f"{flag} {saved[key]!r}, not {identity[key]!r}")
            raise UsageError(f"{run_dir} holds a {kind} run with {shown}: use the same flags to resume, or a new --out")
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UsageError(f"{run_dir} exists and is not a {kind} run directory; choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(identity, indent=2))
    return False
