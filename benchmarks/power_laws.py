"""How often the law check gets it right: planted power laws and pure noise.

    python benchmarks/power_laws.py [--draws 300] [--noise-draws 2000] > benchmarks/outputs/power_laws.txt

Each draw plants data at compute levels 2x apart (a scaling run's law phis), several seeds
per level, with multiplicative log-normal noise of 3-5%, fits it with ``fit_power_law`` and
judges it with ``validate_by_holdout`` and ``judge`` (the rule ``scaling.fit`` applies):

* a pure power law ``error = A * C^-a`` (``a`` uniform in [lo, 0.5], ``A`` such that the
  error at the smallest level is in [0.1, 0.5]): the share judged usable, the share of
  held-out points inside the refit's 95% band, and the reasons for the others;
* pure noise around a constant error: the share judged usable (it should be none).
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from scaling.power_law import fit_power_law, judge, validate_by_holdout


def trial(rng: np.random.Generator, kind: str, levels: int, seeds: int, low_exponent: float, draw: int):
    compute = np.repeat(1e8 * 2.0 ** np.arange(levels), seeds)
    noise = rng.uniform(0.03, 0.05)
    if kind == "law":
        error = rng.uniform(0.1, 0.5) * (compute / 1e8) ** -rng.uniform(low_exponent, 0.5)
    else:
        error = np.full(len(compute), rng.uniform(0.1, 0.5))
    error = error * np.exp(rng.normal(0, noise, len(compute)))
    fit = fit_power_law(compute, error, bootstrap=300, seed=draw)
    validation = validate_by_holdout(compute, error, bootstrap=300, seed=draw)
    return judge(fit, validation), [point.inside_band for point in validation.held_out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--noise-draws", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("kind   levels x seeds  exponent   draws  usable  held-out points inside band  reasons for the others")
    cases = [("law", 4, 3, 0.1, args.draws), ("law", 4, 3, 0.15, args.draws), ("law", 4, 2, 0.1, args.draws),
             ("law", 5, 2, 0.1, args.draws), ("noise", 4, 3, 0.0, args.noise_draws),
             ("noise", 4, 2, 0.0, args.noise_draws), ("noise", 6, 2, 0.0, args.noise_draws)]
    for kind, levels, seeds, low_exponent, draws in cases:
        usable, inside, reasons = 0, [], collections.Counter()
        for draw in range(draws):
            (verdict, reason), points = trial(rng, kind, levels, seeds, low_exponent, draw)
            usable += verdict
            inside += points
            if not verdict:
                reasons[reason.split(" (")[0].split(":")[0]] += 1
        exponent = f"[{low_exponent:g}, 0.5]" if kind == "law" else "-"
        print(f"{kind:6} {levels} x {seeds:<10} {exponent:10} {draws:6}  {usable / draws:6.1%}  {np.mean(inside):6.1%}"
              f"                       {dict(reasons.most_common(3))}", flush=True)


if __name__ == "__main__":
    main()
