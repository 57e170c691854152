"""How long the training-free paths of ``python -m scaling.fit`` take, side by side.

    python benchmarks/scaling_fit.py [--repeats 3]

Times, as a user runs them (a fresh process each, so imports count): ``--results`` on a
66-point x 2-seed grid table with 1000 bootstrap samples, and ``--power-law`` on 12
points with 1000 bootstrap refits and a holdout validation; beside them, in-process,
the pieces they are made of, so the ratios say where the time goes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from scaling import Coefficients, corrected_scale, fit_coefficients, fit_power_law, scaled_family, simplex_grid
from search_space import load_spec
from timing import median_seconds  # benchmarks/ is the script's own directory


def grid_table(path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"depth_mult": p.alpha, "width_mult": p.beta, "resolution_mult": p.gamma, "macs": 8e8, "seed": s,
             "metric": 0.8 - float(((np.array(p.shares) - (0.3, 0.2, 0.5)) ** 2).sum()) + 0.005 * rng.normal()}
            for p in simplex_grid(0.1) for s in range(2)]
    frame = pd.DataFrame(rows)
    frame.to_csv(path, index=False)
    return frame


def law_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    compute = np.geomspace(1e7, 1e10, 12)
    error = (0.05 + 30 * compute**-0.3) * np.exp(np.random.default_rng(1).normal(0, 0.03, 12))
    pd.DataFrame({"macs": compute, "metric": 1 - error}).to_csv(path, index=False)
    return compute, error


def command(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "scaling.fit", *args], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        grid = grid_table(root / "grid.csv")
        compute, error = law_table(root / "law.csv")
        results_cli = median_seconds(lambda: command("--results", str(root / "grid.csv"), "--base", "efficientnet-b0",
                                            "--out", str(root / "fit")), repeats)
        law_cli = median_seconds(lambda: command("--power-law", str(root / "law.csv"), "--out", str(root / "law")), repeats)
        coefficient_fit = median_seconds(lambda: fit_coefficients(grid, bootstrap=1000), repeats)
        law_fit = median_seconds(lambda: fit_power_law(compute, error, bootstrap=1000), repeats)
        b0 = load_spec("efficientnet-b0")
        family = median_seconds(lambda: scaled_family(b0, Coefficients(1.2, 1.1, 1.15)), repeats)
        grid_networks = median_seconds(lambda: [corrected_scale(b0, p) for p in simplex_grid(0.1)], repeats)
    print(f"scaling.fit training-free paths (median of {repeats}, fresh process each)")
    print(f"  --results   (66 points x 2 seeds, 1000 bootstrap)   {results_cli:6.2f} s")
    print(f"    fit_coefficients in-process                       {coefficient_fit:6.2f} s  "
          f"({coefficient_fit / results_cli:.0%} of the command)")
    print(f"    B0..B7 + Ghost family of B0                       {family:6.2f} s  ({family / results_cli:.0%})")
    print(f"  --power-law (12 points, 1000 bootstrap + holdout)   {law_cli:6.2f} s")
    print(f"    fit_power_law in-process (one fit + bootstrap)    {law_fit:6.2f} s  ({law_fit / law_cli:.0%} of the command)")
    print(f"  the 66 rounding-corrected grid networks of B0        {grid_networks:6.2f} s "
          f"({grid_networks / 66 * 1000:.0f} ms each)")


if __name__ == "__main__":
    main()
