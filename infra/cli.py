"""Command-line plumbing shared by the suite's commands: a bad flag is one line and exit 2.

Every command's ``main(argv)`` returns an exit code and is called in-process by the tests;
:func:`run_main` is the one place that turns an expected failure into its line and exit
code: a :class:`UserError` (2), an :class:`InfrastructureFault` (1), a stop by SIGINT or
SIGTERM (130 or 143, :mod:`infra.stopping`).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable

from infra.errors import FAULT_EXIT, USAGE_ERROR, InfrastructureFault, UserError
from infra.stopping import signal_name, stop_exit_code, stop_on_signals


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default once, in plain text, where it has one.

    ``None`` and ``False`` defaults mean "not given": their help text says in words what
    happens then, so nothing is appended.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default == argparse.SUPPRESS or not action.option_strings
                or "%(default)" in text or "(default:" in text):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
        return f"{text} (default: {shown})"


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` with exit code 2 and a one-line message (no usage dump) for bad flags."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        if kwargs.get("description"):  # module docstrings mark code with RST backquotes; help is plain text
            kwargs["description"] = kwargs["description"].replace("``", "")
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


RESUME_HINT = "rerun the same command to continue"


def run_main(command: Callable[[], int]) -> int:
    """Run a command body, each expected failure as one line on stderr:

    * a :class:`UserError`: ``error: <message>``, exit 2;
    * an :class:`InfrastructureFault`: ``error: <message>``, exit 1;
    * a first SIGINT or SIGTERM (the body saved what finished and let it propagate):
      ``stopped by SIGTERM: ...``, exit 130 or 143 (:mod:`infra.stopping`).
    """
    with stop_on_signals():
        try:
            return command()
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return USAGE_ERROR
        except InfrastructureFault as fault:
            print(f"error: {fault}", file=sys.stderr)
            return FAULT_EXIT
        except KeyboardInterrupt as interrupt:
            print(f"stopped by {signal_name(interrupt)}: finished work is saved; {RESUME_HINT}", file=sys.stderr)
            return stop_exit_code(interrupt)


def _ascii(text: str) -> str:
    """``int`` and ``float`` also read other scripts' digits ("١٢" is 12); a flag does not."""
    if not str(text).isascii():
        raise ValueError(f"not an ASCII number: {text!r}")
    return text


def integer_between(minimum: int | None, maximum: int | None = None, description: str | None = None):
    """An argparse ``type`` for an ASCII integer within ``[minimum, maximum]`` (``None``: unbounded)."""
    if description is None:
        description = ("an integer" if minimum is None else f"an integer >= {minimum}" if maximum is None
                       else f"an integer between {minimum} and {maximum:,}")

    def parse(text: str) -> int:
        try:
            value = int(_ascii(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value
    parse.__name__ = description
    parse.numeric = True  # lets the suite find every numeric flag to fuzz it
    return parse


integer = integer_between(None)
positive_int = integer_between(1, description="a positive integer")
non_negative_int = integer_between(0)


def float_between(low: float, high: float = math.inf, include_low: bool = False):
    """An argparse ``type`` for a finite number in ``(low, high]`` (``[low, high]`` with ``include_low``)."""
    bracket, sign = ("[", ">=") if include_low else ("(", ">")
    description = f"a finite number {sign} {low:g}" if math.isinf(high) else f"a number in {bracket}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(_ascii(text))
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (low <= value if include_low else low < value) and value <= high):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value
    parse.__name__ = description
    parse.numeric = True
    return parse


positive_float = float_between(0.0)


def checked(parse):
    """An argparse ``type`` from a parser that raises ``ValueError`` with a readable message."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = parse.__name__
    return convert


__all__ = ["RESUME_HINT", "ArgumentParser", "HelpFormatter", "checked", "float_between", "integer", "integer_between",
           "non_negative_int", "positive_float", "positive_int", "run_main"]
