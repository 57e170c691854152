"""Which depth rule lets a scaling grid tell depth's share apart? (issue 9, item 5)

    python benchmarks/depth_rule.py [--step 0.1] [--bases benchmarks/fidelity/panel.json]

For each base (the fidelity panel's 24 candidates, searched-style networks with few blocks
per stage, and efficientnet-b0) and each depth rule, build the compound-scaling grid at
phi = 1 exactly as ``scaling.fit`` does (rounding-corrected to 2x the base's MACs) and
count what the grid can distinguish: distinct networks among its points, distinct
realised depth multipliers, and the rank correlation between a point's requested depth
share and the depth it really got. No training: this is about the rounding rules alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from scipy import stats

from scaling.compound import corrected_scale, simplex_grid
from search_space import load_spec, spec_from_dict
from search_space.rules import DEPTH_RULES


def grid_summary(base, step: float, depth_rule: str) -> dict:
    points = simplex_grid(step)
    networks = [corrected_scale(base, point, 1.0, depth_rule=depth_rule) for point in points]
    depths = [network.effective[0] for network in networks]
    shares = [point.shares[0] for point in points]
    return {"networks": len({network.spec for network in networks}), "points": len(points),
            "depths": len({round(depth, 6) for depth in depths}),
            "spearman": float(stats.spearmanr(shares, depths).statistic) if len(set(depths)) > 1 else 0.0,
            "in_tolerance": sum(abs(network.realised_ratio - 2) <= 0.1 for network in networks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--bases", type=Path, default=Path(__file__).parent / "fidelity" / "panel.json")
    args = parser.parse_args()
    bases = [("efficientnet-b0", load_spec("efficientnet-b0"))]
    bases += [(f"panel {row['candidate']}", spec_from_dict(row["spec"])) for row in json.loads(args.bases.read_text())]
    print(f"grid step {args.step}; per base: distinct networks / points, distinct depth multipliers, "
          f"Spearman(depth share, realised depth), points within 2 +- 0.1x MACs")
    totals = {rule: [] for rule in DEPTH_RULES}
    for name, base in bases:
        blocks = "-".join(str(stage.repeats) for stage in base.stages)
        cells = []
        for rule in DEPTH_RULES:
            summary = grid_summary(base, args.step, rule)
            totals[rule].append(summary)
            cells.append(f"{rule:9s} {summary['networks']:3d}/{summary['points']} nets {summary['depths']:3d} depths "
                         f"rho {summary['spearman']:+.2f} ok {summary['in_tolerance']:3d}")
        print(f"{name:16s} repeats {blocks:16s} | " + " | ".join(cells))
    for rule, rows in totals.items():
        print(f"mean over {len(rows)} bases, {rule:9s}: {statistics.mean(r['networks'] for r in rows):5.1f} distinct "
              f"networks, {statistics.mean(r['depths'] for r in rows):5.1f} distinct depths, Spearman "
              f"{statistics.mean(r['spearman'] for r in rows):+.2f}, "
              f"{statistics.mean(r['in_tolerance'] for r in rows):5.1f} points within tolerance")


if __name__ == "__main__":
    main()
