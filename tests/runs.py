"""Small generated run directories (search and scaling) for the analysis tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import optuna

from runners.search.records import Objective, TrialRecord, append_record, read_records, write_tables
from search_space import count_cost, load_space, spec_to_dict, stages_summary


def make_search_run(path: Path, trials: int = 10, seed: int = 0, objective: str = "reward",
                    budget: int = 400_000_000, states=None) -> Path:
    """A search run as ``runners.search`` leaves it: config, Optuna study, trial log, tables."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"kind": "search", "budget_flops": budget, "objective": objective,
                                                 "seed": seed}))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="search", storage=f"sqlite:///{(path / 'study.db').resolve()}",
                                direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    space = load_space("default")
    rng = np.random.default_rng(seed)
    start = time.time() - 60 * trials
    for number in range(trials):
        trial = study.ask()
        spec = space.suggest(trial)
        cost = count_cost(spec)
        state = states[number] if states else "COMPLETE"
        accuracy = float(rng.uniform(0.5, 0.9))
        record = TrialRecord(number=number, state=state, spec=stages_summary(spec), macs=cost.macs,
                             params=cost.params, proxy_accuracy=accuracy if state == "COMPLETE" else None,
                             reward=accuracy * (cost.macs / budget) ** -0.07 if state == "COMPLETE" else None,
                             duration_s=30.0, params_sampled=dict(trial.params), spec_dict=spec_to_dict(spec),
                             finished_at=start + 60 * number, epochs=2,
                             failure_reason="" if state == "COMPLETE" else "RuntimeError: generated failure")
        if state == "COMPLETE":
            study.tell(trial, record.reward)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        append_record(path, record)
    write_tables(path, read_records(path), Objective(objective))
    return path
