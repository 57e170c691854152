"""Figures of one search run directory, read from its files (shared by its ``report.html``
and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.figures import (macs_vs_accuracy, network_stages, parallel_coordinates, parameter_importances,
                              search_history, stage_choice_frequencies)
from analysis.report import Section
from infra.run_dirs import read_config
from infra.statistics import mean_interval
from runners.search.candidates import SearchSettings
from runners.search.driver import screening_reliability, winner_verdict
from runners.search.finalists import read_decision
from runners.search.records import BEST_SPEC, Objective, TrialRecord, read_records, records_frame
from search_space import SpecError, count_cost, encode_stage, read_spec_file


@dataclass(frozen=True)
class SearchRun:
    path: Path
    config: dict
    frame: pd.DataFrame  # results table, one row per trial
    params: pd.DataFrame  # sampled parameters of each trial, indexed like ``frame``
    records: tuple[TrialRecord, ...] = ()

    def winner(self) -> str:
        """The best trial's score with its interval over seeds and whether it is separated
        from the runner-up (what the search's summary prints)."""
        best = self.objective.best(list(self.records))
        if best is None:
            return "no trial completed yet"
        verdict = winner_verdict(SearchSettings.from_config(self.config), list(self.records), best)
        return f"best: trial {best.number}. {verdict.strip()}"

    @property
    def objective(self) -> Objective:
        return Objective.from_config(self.config)

    @property
    def budget(self) -> float | None:
        """The budget's value: MACs, or ms for a latency budget (see :attr:`objective`'s ``cost``)."""
        return self.config.get("budget_latency") or self.config.get("budget_flops")


def load_search_run(path: Path) -> SearchRun:
    config = read_config(path)
    records = read_records(path)
    frame = records_frame(records)
    params = pd.DataFrame([record.params_sampled for record in records])
    return SearchRun(path, config, frame, params, tuple(records))


def best_network_parts(spec) -> pd.DataFrame:
    """Per part of ``spec`` (stem, stages, head, classifier): block string, MACs, params."""
    cost = count_cost(spec)
    descriptions = {f"stage{i + 1}": encode_stage(stage, channels)
                    for i, (stage, channels) in enumerate(zip(spec.stages, spec.stage_inputs))}
    descriptions.update(stem=f"stem conv to {spec.stem_channels}", head=f"head 1x1 conv to {spec.head_channels}",
                        classifier=f"{spec.classifier} classifier, {spec.num_classes} classes")
    rows = []
    for part in cost.parts:
        rows.append({"part": part.name, "description": descriptions.get(part.name, part.name), "macs": part.macs,
                     "params": part.params, "output": "x".join(map(str, part.output_resolution))})
    return pd.DataFrame(rows)


def _importances(path: Path) -> dict[str, float] | str:
    """Optuna's importances from the run's study, or why there are none."""
    import optuna

    database = path / "study.db"
    if not database.exists():
        return "no Optuna study in this run directory (Ray runs keep theirs under ray_results)"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{database.resolve()}"
    try:
        names = optuna.get_all_study_names(storage)
        study = optuna.load_study(study_name=names[0], storage=storage)
        complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if len(complete) < 2:
            return "parameter importances need at least 2 complete trials"
        if len(study.directions) > 1:
            return optuna.importance.get_param_importances(study, target=lambda t: t.values[0])
        return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, IndexError) as error:  # e.g. no parameter varied yet
        return f"parameter importances unavailable: {error}"


# Importances and parallel coordinates from fewer complete trials than this show noise, not patterns.
MIN_TRIALS_FOR_PATTERNS = 8


def _finalists_rows(decision: dict, label: str) -> list[tuple[str, str, str, str]]:
    """The finalists rung's decision (``finalists.json``) as answer rows."""
    finalists = {f["trial"]: f for f in decision["finalists"]}
    winner, chosen = finalists[decision["winner"]], finalists[decision["chosen"]]
    scores = winner["scores"]
    interval = (f"[{mean_interval(scores).low:.4f}, {mean_interval(scores).high:.4f}] over {len(scores)} seeds"
                if len(scores) >= 2 else "one seed")
    equivalent = ", ".join(str(t) for t in decision["equivalent"])
    level = decision.get("comparison_level", 0.95)
    rows = [
        ("reported best", f"trial {chosen['trial']} ({chosen['spec'][:60]}...)" if len(chosen["spec"]) > 60
         else f"trial {chosen['trial']} ({chosen['spec']})", f"tie-break by {decision['tie_break']}",
         "the rung's winner" if chosen is winner else
         f"same {label} within the interval, {decision['saving']:.0%} less {decision['tie_break']} than trial "
         f"{winner['trial']}"),
        ("rung winner", f"trial {winner['trial']}: {label} {winner['mean']:.4f}", interval,
         f"finalists {', '.join(str(t) for t in finalists)}" + (f"; {decision['rung']}" if decision.get("rung") else "")),
        ("equivalence set", f"trials {equivalent}", f"simultaneous {level:.2%} paired intervals",
         "not separated from the rung's winner" if len(decision["equivalent"]) > 1 else "the winner is separated"),
    ]
    reliability = decision.get("reliability")
    if reliability:
        kendall = reliability.get("kendall")
        tau = "" if not kendall else f"; seed 0 vs 1 Kendall {kendall['mean']:+.2f} [{kendall['low']:+.2f}, {kendall['high']:+.2f}]"
        rows.append(("ranking at the rung", "separates the finalists" if reliability["separates"]
                     else "finalists not distinguishable",
                     f"{reliability['between_share']:.0%} of one seed's variance between candidates{tau}",
                     f"F-test p = {reliability['p_value']:.2g}, {reliability['candidates']} x {reliability['seeds']} seeds"))
    return rows


def search_answer(run: SearchRun, complete: int) -> pd.DataFrame:
    """The search's answer in rows: with a finalists rung, its reported best, winner, equivalence
    set and ranking reliability first; the screening's top candidate with its score and interval
    (or "one seed") and whether it is separated from the runner-up; how many trials completed."""
    best = run.objective.best(list(run.records))
    decision = read_decision(run.path)
    rows = [("complete trials", f"{complete} of {len(run.frame)}", "", "")]
    if best is not None:
        seeds = best.seed_accuracies
        if len(seeds) >= 2:
            estimate = mean_interval(seeds)
            interval = f"[{estimate.low:.4f}, {estimate.high:.4f}] over {len(seeds)} seeds"
        else:
            interval = "one seed"
        verdict = winner_verdict(SearchSettings.from_config(run.config), list(run.records), best).strip()
        rows.insert(0, ("screening top" if decision else "winner",
                        f"trial {best.number}: {run.objective.label} {run.objective.score(best):.4f}", interval, verdict))
    screening = screening_reliability(SearchSettings.from_config(run.config), list(run.records))
    if screening:
        rows.append(("screening ranking", screening.removeprefix("screening ranking: "), "", ""))
    if decision:
        rows = _finalists_rows(decision, run.objective.label) + rows
    return pd.DataFrame(rows, columns=("quantity", "value", "uncertainty", "status"))


def _titled(figure, suffix: str):
    """``figure`` with ``suffix`` (how many points it rests on) appended to its title."""
    return figure.update_layout(title=f"{figure.layout.title.text or ''}{suffix}")


def search_sections(path: Path) -> list[Section]:
    """Every search figure the run's files support; a note where one cannot be drawn yet."""
    run = load_search_run(path)
    done = run.objective.scored(run.frame)
    if done.empty:
        return [("Trials", f"No trial has completed yet ({len(run.frame)} finished in another state).")]
    column = run.objective.column
    sections: list[Section] = [
        ("Answer", search_answer(run, len(done))),
        ("Search history", search_history(run.frame, run.objective)),
        ("MACs vs accuracy" if run.objective.cost == "macs" else "Latency vs accuracy",
         macs_vs_accuracy(run.frame, run.budget, run.objective.cost)),
        ("Per-stage choices", stage_choice_frequencies(run.frame, objective=run.objective)),
    ]
    if len(done) < MIN_TRIALS_FOR_PATTERNS:
        too_few = (f"left out: {len(done)} complete trial(s); parameter importances and parallel coordinates need "
                   f"at least {MIN_TRIALS_FOR_PATTERNS} to mean anything")
        sections += [("Parameter importances", too_few), ("Parallel coordinates", too_few)]
    else:
        importances = _importances(path)
        resting = f" (from {len(done)} complete trials)"
        sections.append(("Parameter importances", _titled(parameter_importances(importances), resting)
                         if isinstance(importances, dict) else importances))
        params = run.params.loc[done.index].dropna(axis=1, how="any")
        varied = [c for c in params.columns if params[c].astype(str).nunique() > 1]
        sections.append(("Parallel coordinates", _titled(parallel_coordinates(
            params[varied], done[column], column, importances if isinstance(importances, dict) else None), resting)
            if varied else "no parameter varied among the complete trials"))
    best_path = path / BEST_SPEC
    if best_path.exists():
        try:
            spec = read_spec_file(best_path)
            sections.append(("Best network", network_stages(best_network_parts(spec), f"Best network: {spec.name}")))
        except SpecError as error:
            sections.append(("Best network", f"{BEST_SPEC} is unreadable: {error}"))
    return sections
