"""Calling the suite's commands from tests: in-process for speed, a subprocess for smoke tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def call(main, args, capsys) -> Outcome:
    """``main(args)`` in this process; argparse's ``SystemExit`` becomes the exit code."""
    capsys.readouterr()
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def spawn(module: str, *args, cwd=None, timeout: float = 600) -> Outcome:
    """``python -m module args`` in a fresh interpreter, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, timeout=timeout)
    return Outcome(result.returncode, result.stdout, result.stderr)


def assert_one_line_error(outcome: Outcome, *fragments: str) -> None:
    """Exit 2, nothing but one line on stderr, no traceback, naming what is wrong."""
    lines = outcome.err.strip().splitlines()
    assert outcome.code == 2, (outcome.code, outcome.err)
    assert len(lines) == 1 and "Traceback" not in outcome.err, outcome.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
