"""Stable answers? The default scaling run on one base at several --seed values, side by side.

    python benchmarks/scaling_stability.py --base RUN_OR_SPEC [--seeds 0,1,2] [--runs runs/stability]
        > benchmarks/outputs/scaling_stability.txt

Each seed is the default ``python -m scaling.fit --base BASE --seed S --out RUNS/seed-S``
(resumed where it stopped; a finished seed is only re-read). Per seed it prints the
coefficients with their intervals (or on the boundary), the chosen shares, each verdict against
the single-dimension corners, the law and whether it is usable, and the checked members.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from scaling.members import band_verdict, measured_members, read_family
from scaling.reports import NAMES, read_coefficients, read_laws


def run_seed(base: str, seed: int, out: Path) -> None:
    if (out / "family.csv").exists() and "measured_metric" in read_family(out):
        return  # finished, members checked
    subprocess.run([sys.executable, "-m", "scaling.fit", "--base", base, "--seed", str(seed), "--quiet",
                    "--out", str(out)], check=True)


def describe(seed: int, out: Path) -> list[str]:
    coefficients = read_coefficients(out)
    laws, note = read_laws(out)
    lines = [f"seed {seed}:"]
    lines.append("  " + "; ".join(coefficients.describe_coefficient(name) for name in NAMES)
                 + f" ({coefficients.method})")
    lines.append("  shares d/w/r " + "/".join(f"{share:.2f}" for share in coefficients.chosen.shares))
    if coefficients.instability:
        lines.append("  " + coefficients.instability)
    lines += ["  " + comparison.describe() for comparison in coefficients.corner_comparisons]
    lines.append("  law: " + (laws[0].describe("MACs") if laws else f"none ({note})"))
    lines.append("  family check: " + band_verdict(measured_members(read_family(out))))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--runs", type=Path, default=Path("runs/stability"))
    args = parser.parse_args()
    for seed in (int(part) for part in args.seeds.split(",")):
        out = args.runs / f"seed-{seed}"
        run_seed(args.base, seed, out)
        print("\n".join(describe(seed, out)), flush=True)


if __name__ == "__main__":
    main()
