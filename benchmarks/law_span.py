"""How far down must a scaling run's law members go? Usability of the law by its lowest phi.

    python benchmarks/law_span.py train [--directions 0,0.44,0.56 0,0,1 0,1,0] [--base SPEC]
    python benchmarks/law_span.py report        # benchmarks/outputs/law_span.txt

Along each direction (FLOP shares of depth, width, resolution) of the base, the networks at
phi = -6, -5, ..., -1 and 1 and the base itself are trained as ``scaling.fit`` trains its law
members (its default grid proxy, 4 seeds each; ``scaling.grid_run``). ``report`` fits the law
as ``scaling.fit`` does (``scaling.pipeline.fit_law_table``) to the levels from each lowest phi
up to phi = 1 and says whether it is usable: the span of compute a default must cover for the
law to be judged on prediction rather than lost in seed noise.

The base is the README search's (``benchmarks/grid_fidelity/base-search.yaml``); the directions
are a width-and-resolution mix a default run chose, resolution alone and width alone. Each
direction's trainings are one run directory's ``evaluations.jsonl`` under ``benchmarks/law_span/``
(appended as each finishes: resumable).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from infra.trial_state import TrialState
from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig
from scaling.compound import Coefficients
from scaling.fit import GRID_PROXY
from scaling.grid_run import ProxyEvaluator, base_task, law_tasks, read_evaluations, run_tasks
from scaling.pipeline import GridOptions, fit_law_table
from search_space import load_spec

DIRECTORY = Path(__file__).parent / "law_span"
BASE = Path(__file__).parent / "grid_fidelity" / "base-search.yaml"
PHIS = (-6, -5, -4, -3, -2, -1, 1)
SEEDS = 4
DIRECTIONS = ("0,0.44,0.56", "0,0,1", "0,1,0")


def train(directions: list[str], base_path: Path) -> None:
    data = DataOptions(None, None, 0.1, GRID_PROXY.max_train_samples, GRID_PROXY.max_val_samples, 0,
                       show_progress=False)
    recipe = TrainConfig(epochs=GRID_PROXY.epochs, batch_size=GRID_PROXY.batch_size,
                         learning_rate=GRID_PROXY.learning_rate, calibration_samples=256)
    probe = prepare(data)
    base = probe.deployed(load_spec(str(base_path)))
    evaluator = ProxyEvaluator(data, recipe, probe)
    depth_rule = GridOptions().depth_rule
    for direction in directions:
        shares = Coefficients.from_shares(*(float(x) for x in direction.split(",")))
        out = DIRECTORY / direction.replace(",", "_")
        out.mkdir(parents=True, exist_ok=True)
        tasks = [base_task(base, seed) for seed in range(SEEDS)] + law_tasks(base, shares, PHIS, SEEDS,
                                                                              depth_rule=depth_rule)
        run_tasks(out, tasks, evaluator, description=f"direction {direction}")


def report() -> list[str]:
    lines = [f"base {BASE.name}; law members at phi {', '.join(map(str, PHIS))} and the base, {SEEDS} seeds each, "
             "the default grid proxy; each row fits the levels from the lowest phi up to phi = 1"]
    for out in sorted(DIRECTORY.iterdir()):
        # A phi that rounds to the same network as a lower one is that network once (as
        # scaling.grid_run.law_tasks trains it): channels at their floor stop shrinking.
        evaluations, seen = [], {}
        for e in sorted(read_evaluations(out), key=lambda e: (e.role != "base", e.phi)):
            first = seen.setdefault((e.spec, e.resolution), e.phi)
            if e.state is TrialState.COMPLETE and first == e.phi:
                evaluations.append(e)
        lines.append(f"direction d/w/r {out.name.replace('_', '/')}:")
        levels = sorted({(e.phi if e.role == "law" else 0.0) for e in evaluations})
        for phi in levels:
            at = [e for e in evaluations if (e.phi if e.role == "law" else 0.0) == phi]
            lines.append(f"  phi {phi:+.0f}: {at[0].macs / 1e6:7.1f}M MACs at {at[0].proxy_resolution}, accuracy "
                         f"{np.mean([e.metric for e in at]):.4f} over {len(at)} seeds")
        for lowest in [phi for phi in levels if phi <= -3]:
            rows = [e for e in evaluations if (e.phi if e.role == "law" else 0.0) >= lowest]
            compute = np.array([e.macs for e in rows], dtype=float)
            error = np.array([1 - e.metric for e in rows], dtype=float)
            law = fit_law_table(compute, error, "macs", "proxy accuracy", "1 - proxy accuracy", None, 1000, 0)
            span = compute.max() / compute.min()
            lines.append(f"  from phi {lowest:+.0f} ({span:.0f}x of MACs): {law.describe('MACs')}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("train", "report"))
    parser.add_argument("--directions", nargs="+", default=list(DIRECTIONS))
    parser.add_argument("--base", type=Path, default=BASE)
    args = parser.parse_args()
    if args.step == "train":
        train(args.directions, args.base)
    else:
        print("\n".join(report()))


if __name__ == "__main__":
    main()
