"""Proxy fidelity: how well short proxy trainings rank candidates against a long reference.

    python benchmarks/fidelity.py panel                   # the fixed panel of candidates (once)
    python benchmarks/fidelity.py reference [--device cuda]  # the long reference trainings (resumable)
    python benchmarks/fidelity.py reference --seeds 2 --every 3  # its reproducibility on every 3rd candidate
    python benchmarks/fidelity.py proxies [--configs default,epochs-4,...]  # proxy configurations (resumable)
    python benchmarks/fidelity.py reproducibility --configs epochs-4 [--seeds 4]  # seeds 1..N-1 of configurations
    python benchmarks/fidelity.py timing [--configs ...] [--every 3]  # seconds per candidate, side by side
    python benchmarks/fidelity.py report                  # Kendall/Spearman with intervals, s/candidate, front

Everything lands in ``benchmarks/fidelity/`` (``--dir``): ``panel.json`` (the candidates:
the default space sampled with fixed seeds, projected into the 400M-MAC window at 224x224
with 1 channel and 10 classes, and spread over it by MACs), ``reference.jsonl`` and
``proxies.jsonl`` (one line per candidate, configuration and seed, appended as each
finishes: a kill loses the training in flight only), ``timings.jsonl`` (the side-by-side
seconds), ``fidelity.csv`` (the report's table) and ``front.html``/``front.png`` (its plot).
``before.jsonl`` and ``before-zero-init/`` hold the proxies as they were before this
benchmark's findings changed them; the report scores them as history rows.

The reference recipe (``REFERENCE``): each candidate trained on 20,000 Fashion-MNIST
training images for 6 epochs (120,000 images seen, 29x the default proxy's 4,096) at 64x64,
where a stride-32 network's last stage still sees a 2x2 map, and scored on the 10,000-image
test split. The proxies are scored on the validation split, as the search scores them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.files import append_json_line, read_json_lines, write_json
from infra.progress import progress_bar
from infra.reliability import ranking_reliability
from infra.seeds import replicate_seed
from infra.statistics import rank_agreement, rank_agreement_difference
from runners.data.sources import DataOptions, Splits, prepare
from runners.flags import SEARCH_PROXY, checked_device
from runners.learning.loop import TrainConfig, train_and_evaluate
from runners.learning.zero_cost import SCORES, zero_cost_scores
from runners.search.budget import project
from search_space import NetworkSpec, count_cost, load_space, spec_from_dict, spec_to_dict, stages_summary
from search_space.space import replace_fixed

BUDGET = 400_000_000
PANEL_SIZE = 24
DIRECTORY = Path(__file__).parent / "fidelity"


@dataclass(frozen=True)
class Recipe:
    """One way to train and score the panel (every ranking signal of a training is logged)."""

    name: str
    resolution: tuple[int, int] = (32, 32)
    epochs: int = SEARCH_PROXY.epochs
    train_samples: int = SEARCH_PROXY.max_train_samples
    val_samples: int | None = SEARCH_PROXY.max_val_samples  # None: the whole validation split (6,000)
    batch_size: int = SEARCH_PROXY.batch_size
    learning_rate: float = SEARCH_PROXY.learning_rate
    seeds: int = 1
    stem_stride: int | None = None  # None: the candidate's own

    @property
    def images_seen(self) -> int:
        return self.epochs * self.train_samples


REFERENCE_SEED = 0  # the seed of the reference's one full-panel training
REFERENCE = Recipe("reference", resolution=(64, 64), epochs=6, train_samples=20_000, batch_size=128,
                   learning_rate=5e-3)

# The proxy configurations scored against the reference: one knob at a time from the default.
PROXIES = {recipe.name: recipe for recipe in (
    Recipe("default"),
    Recipe("epochs-1", epochs=1),
    Recipe("epochs-4", epochs=4),
    Recipe("samples-1024", train_samples=1024),
    Recipe("samples-4096", train_samples=4096),
    Recipe("resolution-48", resolution=(48, 48)),  # the last stage of a stride-32 network at 2x2
    Recipe("stem-stride-1", stem_stride=1),  # 32x32 input, stride-adapted stem: last stage at 2x2
    Recipe("lr-3e-3", learning_rate=3e-3),  # a calmer optimiser: is the seed noise the recipe's?
    # 1,024 validation images put a binomial standard error of about 0.014 on each accuracy,
    # more than the reference's spread between candidates (0.008): score on all 6,000.
    Recipe("val-all", val_samples=None),
    # Pairs of the knobs that did best alone (stem-stride-1 ranked best at one seed).
    Recipe("stem-stride-1-val-all", stem_stride=1, val_samples=None),
    Recipe("stem-stride-1-epochs-1", stem_stride=1, epochs=1),
    # A promotion rung for the search's finalists (runners.search --finalists): 6x the images
    # seen, scored on the whole validation split.
    Recipe("rung-3x8192", epochs=3, train_samples=8192, val_samples=None),
    # The same rung at the reference's resolution, at about the same cost: every feature map 4x
    # larger, so that the rung sees what the reference sees (where the strides fall).
    Recipe("rung-64-2x4096", resolution=(64, 64), epochs=2, train_samples=4096, val_samples=None),
)}


def build_panel(size: int = PANEL_SIZE, draws: int = 200) -> list[NetworkSpec]:
    """``size`` candidates of the default space in the budget window, evenly spread by MACs."""
    space = replace_fixed(load_space("default"), in_channels=1, num_classes=10)
    projected = []
    for seed in range(draws):
        projection = project(space.sample(seed), BUDGET)
        if projection.accepted:
            projected.append((projection.macs, seed, projection.spec))
    projected.sort(key=lambda item: item[0])
    picks = np.linspace(0, len(projected) - 1, size).round().astype(int)
    return [projected[index][2] for index in picks]


def read_panel(directory: Path) -> list[NetworkSpec]:
    path = directory / "panel.json"
    if not path.is_file():
        raise SystemExit(f"error: {path} is missing; run `python benchmarks/fidelity.py panel` first")
    return [spec_from_dict(entry["spec"]) for entry in json.loads(path.read_text())]


def adapted(spec: NetworkSpec, recipe: Recipe) -> NetworkSpec:
    return spec if recipe.stem_stride is None else dataclasses.replace(spec, stem_stride=recipe.stem_stride)


def recipe_data(recipe: Recipe, data_seed: int = 0) -> Splits:
    """Fashion-MNIST prepared as ``recipe`` trains on it (the validation split as the search's)."""
    return prepare(DataOptions(None, recipe.resolution, max_train_samples=recipe.train_samples,
                               max_val_samples=recipe.val_samples, seed=data_seed))


def train_with(recipe: Recipe, spec: NetworkSpec, data: Splits, device: str, data_seed: int = 0, seed: int = 0):
    """One training of ``spec`` by ``recipe``: the reference is scored on the test split, proxies
    on the validation split. Seed ``seed`` is the same stream for every candidate (paired)."""
    config = TrainConfig(epochs=recipe.epochs, batch_size=recipe.batch_size, learning_rate=recipe.learning_rate,
                         device=device)
    return train_and_evaluate(adapted(spec, recipe), data, config, seed=replicate_seed(data_seed, seed),
                              evaluate_on="test" if recipe.name == REFERENCE.name else "val")


def run_recipe(recipe: Recipe, panel: list[NetworkSpec], log: Path, device: str, data_seed: int = 0,
               seeds: range | None = None, every: int = 1) -> None:
    """Train every (candidate, seed) of ``recipe`` not yet in ``log``, appending each result.
    ``seeds``: the recipe's own seeds by default; ``range(1, 2)`` measures its reproducibility.
    ``every``: only every N-th candidate of the panel (a subset for costly recipes)."""
    done = {(row["recipe"], row["candidate"], row["seed"]) for row in read_json_lines(log)} if log.exists() else set()
    pending = [(seed, index) for seed in (seeds or range(recipe.seeds)) for index in range(0, len(panel), every)
               if (recipe.name, index, seed) not in done]
    if not pending:
        return
    data = recipe_data(recipe, data_seed)
    bar = progress_bar(len(pending), recipe.name, "training")
    for seed, index in pending:
        result = train_with(recipe, panel[index], data, device, data_seed, seed)
        append_json_line(log, {"recipe": recipe.name, "candidate": index, "seed": seed, "accuracy": result.accuracy,
                               "training_loss_sum": result.training_loss_sum,
                               "validation_loss": result.validation_loss, "seconds": result.seconds})
        bar.update(1)
    bar.close()


def baseline_data() -> Splits:
    """The data the zero-cost scores see: the default proxy's training images at 32x32."""
    return prepare(DataOptions(None, (32, 32), max_train_samples=SEARCH_PROXY.max_train_samples))


def run_baselines(panel: list[NetworkSpec], log: Path, device: str) -> None:
    """Zero-cost scores (on the default proxy's data), MACs and parameters of every candidate."""
    done = {row["candidate"] for row in read_json_lines(log) if row["recipe"] == "baselines"} if log.exists() else set()
    data: Splits | None = None
    for index, spec in enumerate(panel):
        if index in done:
            continue
        data = data or baseline_data()
        start = time.perf_counter()
        scores = zero_cost_scores(spec, data, seed=replicate_seed(0, 0), device=device)
        cost = count_cost(spec)
        append_json_line(log, {"recipe": "baselines", "candidate": index, "seed": 0, **scores, "macs": cost.macs,
                               "params": cost.params, "seconds": time.perf_counter() - start})


def run_timing(configs: list[str], panel: list[NetworkSpec], log: Path, device: str, every: int) -> None:
    """Seconds per candidate of every configuration measured side by side: for every
    ``every``-th candidate, one seed-0 training of each configuration in turn (and the
    zero-cost scores), so that drift of the machine's speed hits all of them alike. The
    logs' own seconds come from different sessions and machine states; these are comparable."""
    done = {(row["recipe"], row["candidate"]) for row in read_json_lines(log)} if log.exists() else set()
    candidates = range(0, len(panel), every)
    pending = [(index, name) for index in candidates for name in ["baselines", *configs] if (name, index) not in done]
    if not pending:
        return
    data = {name: recipe_data(PROXIES[name]) for name in configs}
    data["baselines"] = baseline_data()
    bar = progress_bar(len(pending), "timing", "training")
    for index, name in pending:
        start = time.perf_counter()
        if name == "baselines":
            zero_cost_scores(panel[index], data[name], seed=replicate_seed(0, 0), device=device)
        else:
            train_with(PROXIES[name], panel[index], data[name], device)
        append_json_line(log, {"recipe": name, "candidate": index, "seconds": time.perf_counter() - start})
        bar.update(1)
    bar.close()


def timed_seconds(directory: Path) -> dict[str, float]:
    """Mean seconds of one seed per configuration from ``timings.jsonl`` (side by side)."""
    path = directory / "timings.jsonl"
    rows = read_json_lines(path) if path.exists() else []
    return {name: float(np.mean([r["seconds"] for r in rows if r["recipe"] == name]))
            for name in dict.fromkeys(r["recipe"] for r in rows)}


# Higher is better for every ranking; losses are negated.
SIGNAL_SIGN = {"accuracy": 1, "training_loss_sum": -1, "validation_loss": -1, "macs": 1, "params": 1,
               **{score: 1 for score in SCORES}}
# Logs of the proxies as they were before this benchmark's findings changed them, scored
# against the same reference: (file under --dir, label appended to each configuration).
HISTORY = (("before.jsonl", ""), ("before-zero-init/proxies.jsonl", " [before zero-init]"))


def logged_rows(directory: Path) -> list[dict]:
    """Every proxy row: ``proxies.jsonl``, then the history logs' rows, labelled and marked
    ``history``."""
    rows = read_json_lines(directory / "proxies.jsonl") if (directory / "proxies.jsonl").exists() else []
    for name, label in HISTORY:
        if (directory / name).exists():
            rows += [{**row, "recipe": row["recipe"] + label, "history": True}
                     for row in read_json_lines(directory / name)]
    return rows


def variants(proxy_rows: list[dict]) -> list[tuple[str, int]]:
    """(configuration, seeds) pairs to score: each configuration at seed 0, and, where
    ``reproducibility`` measured more seeds, at the mean of seeds 0..K-1 for every K up to
    the contiguous count. That mean is the same recipe at K paired seeds, as ``--seeds K``
    without racing would score it."""
    pairs = []
    for name in dict.fromkeys(r["recipe"] for r in proxy_rows):
        measured = {r["seed"] for r in proxy_rows if r["recipe"] == name}
        contiguous = next(k for k in range(len(measured) + 1) if k not in measured)
        pairs += [(name, seeds) for seeds in range(1, max(contiguous, 1) + 1)]
    return pairs


def reference_seeds(directory: Path) -> dict[int, dict[int, float]]:
    """The reference accuracies by seed, then by candidate."""
    rows = read_json_lines(directory / "reference.jsonl") if (directory / "reference.jsonl").exists() else []
    by_seed: dict[int, dict[int, float]] = {}
    for row in rows:
        by_seed.setdefault(row["seed"], {})[row["candidate"]] = row["accuracy"]
    return by_seed


def reference_scores(directory: Path, panel_size: int) -> np.ndarray:
    """Each candidate's reference accuracy (NaN where it is not trained yet): the mean over the
    seeds that every trained candidate has, so that a second seed measured on a subset (its
    reproducibility) does not make some candidates' scores less noisy than others'."""
    by_seed = reference_seeds(directory)
    trained = set(by_seed.get(0, {}))
    common = [seed for seed in sorted(by_seed) if trained and trained <= set(by_seed[seed])] or [0]
    reference = np.full(panel_size, np.nan)
    for index in trained:
        reference[index] = np.mean([by_seed[seed][index] for seed in common])
    return reference


def first_two_seeds(by_seed: dict[int, dict[int, float]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The scores at seed 0 and at seed 1 of the candidates that have both (None: under 3)."""
    shared = sorted(set(by_seed.get(0, {})) & set(by_seed.get(1, {})))
    if len(shared) < 3:
        return None
    return np.array([by_seed[0][c] for c in shared]), np.array([by_seed[1][c] for c in shared])


def reference_ceiling(directory: Path, bootstrap: int = 2000) -> str | None:
    """How well the reference agrees with itself, from the candidates trained at seeds 0 and 1:
    their seed-to-seed Kendall tau, the noise of one reference score (sd of a paired
    difference / sqrt 2), and the Kendall tau a noiseless proxy could at most reach against a
    one-seed reference whose scores carry that noise (normal model: tau = 2/pi asin(sqrt(r)),
    r the reliability 1 - noise variance / variance of the scores across the panel)."""
    by_seed = reference_seeds(directory)
    pair = first_two_seeds(by_seed)
    if pair is None:
        return None
    first, second = pair
    agreement = rank_agreement(first, second, bootstrap=bootstrap).kendall
    noise = float(np.std(first - second, ddof=1) / math.sqrt(2))
    spread = float(np.var(list(by_seed[0].values()), ddof=1))
    reliability = max(0.0, 1 - noise**2 / spread)
    ceiling = 2 / math.pi * math.asin(math.sqrt(reliability))
    return (f"reference: seed 0 vs seed 1 over {len(first)} candidates: Kendall {agreement.mean:+.3f} "
            f"[{agreement.low:+.3f}, {agreement.high:+.3f}]; noise of one score {noise:.4f} against a spread of "
            f"{math.sqrt(spread):.4f} (sd over {len(by_seed[0])} candidates): reliability {reliability:.2f}, so a "
            f"noiseless proxy reaches at most Kendall {ceiling:.2f} against the one-seed reference")


BASELINE_CONFIGURATION = "default"  # every row is also compared with this one, paired by candidate


def report(directory: Path, bootstrap: int = 2000) -> list[dict]:
    """One row per (configuration, signal): agreement with the reference, its difference
    from the default configuration's agreement on the same signal (paired: the same
    resampled candidates for both), and seconds per candidate (from the side-by-side
    ``timing`` step where it measured the configuration, else the log's own). The signals
    are those every row of a configuration logged."""
    panel_size = len(read_panel(directory))
    reference = reference_scores(directory, panel_size)
    proxy_rows = logged_rows(directory)
    timed = timed_seconds(directory)
    scored = {}  # (configuration label, signal) -> (values per candidate, logged seconds, name, seeds, history)
    for name, seeds in variants(proxy_rows):
        measured = [r for r in proxy_rows if r["recipe"] == name and r["seed"] < seeds]
        by_candidate = [[r for r in measured if r["candidate"] == index] for index in range(panel_size)]
        for signal in (signal for signal in SIGNAL_SIGN if all(signal in r for r in measured)):
            values = np.full(panel_size, np.nan)
            seconds = np.zeros(panel_size)
            for index, at in enumerate(by_candidate):
                if len(at) == seeds:
                    values[index] = SIGNAL_SIGN[signal] * np.mean([r[signal] for r in at])
                    seconds[index] = sum(r["seconds"] for r in at)
            label = name if seeds == 1 else f"{name} x{seeds} seeds"
            scored[label, signal] = (values, seconds, name, seeds, bool(measured[0].get("history")))
    rows = []
    for (label, signal), (values, seconds, name, seeds, history) in scored.items():
        usable = ~np.isnan(reference) & ~np.isnan(values)
        if usable.sum() < 3:
            continue
        agreement = rank_agreement(reference[usable], values[usable], bootstrap=bootstrap)
        cost = (0.0 if signal in ("macs", "params") else seeds * timed[name] if name in timed
                else float(seconds[usable].mean()))
        row = {"configuration": label, "signal": signal, "history": history, "candidates": int(usable.sum()),
               "kendall": agreement.kendall.mean, "kendall_low": agreement.kendall.low,
               "kendall_high": agreement.kendall.high, "spearman": agreement.spearman.mean,
               "spearman_low": agreement.spearman.low, "spearman_high": agreement.spearman.high,
               "seconds_per_candidate": cost, "seconds_side_by_side": name in timed}
        default = scored.get((BASELINE_CONFIGURATION, signal))
        if default is not None and label != BASELINE_CONFIGURATION:
            both = usable & ~np.isnan(default[0])
            if both.sum() >= 3:
                difference = rank_agreement_difference(reference[both], values[both], default[0][both],
                                                       bootstrap=bootstrap)
                row.update(kendall_minus_default=difference.mean, kendall_minus_default_low=difference.low,
                           kendall_minus_default_high=difference.high)
        rows.append(row)
    return rows


def reproducibility(directory: Path, bootstrap: int = 2000) -> list[str]:
    """For every configuration with two or more seeds: Kendall tau between its rankings at
    seed 0 and seed 1, and the mean absolute accuracy change between the two. No proxy can
    agree with the reference much better than with itself."""
    rows = logged_rows(directory)
    lines = []
    for name in dict.fromkeys(r["recipe"] for r in rows if "accuracy" in r):
        pair = first_two_seeds({seed: {r["candidate"]: r["accuracy"] for r in rows
                                       if r["recipe"] == name and r["seed"] == seed} for seed in (0, 1)})
        if pair is None:
            continue
        first, second = pair
        agreement = rank_agreement(first, second, bootstrap=bootstrap).kendall
        change = float(np.mean(np.abs(np.subtract(first, second))))
        lines.append(f"{name}: seed 0 vs seed 1 over {len(first)} candidates: Kendall {agreement.mean:+.3f} "
                     f"[{agreement.low:+.3f}, {agreement.high:+.3f}], mean |accuracy change| {change:.3f} "
                     f"(panel accuracies {min(first):.3f}-{max(first):.3f})")
    return lines


def seed_tables(rows: list[dict], name: str) -> dict[int, dict[int, float]]:
    """``name``'s accuracies by seed, then candidate (current logs only, not history)."""
    by_seed: dict[int, dict[int, float]] = {}
    for row in rows:
        if row["recipe"] == name and "accuracy" in row and not row.get("history"):
            by_seed.setdefault(row["seed"], {})[row["candidate"]] = row["accuracy"]
    return by_seed


def seed_accuracies(rows: list[dict], name: str, panel_size: int) -> dict[int, np.ndarray]:
    """``name``'s accuracy per candidate at each seed that measured the whole panel."""
    return {seed: np.array([values[c] for c in range(panel_size)])
            for seed, values in sorted(seed_tables(rows, name).items()) if len(values) == panel_size}


SCREENING = "default"  # the search's screening proxy, which ranks on one seed


def independent_agreement(directory: Path, bootstrap: int = 2000) -> list[str]:
    """What a configuration's ranking is worth, measured on seeds independent of the reference.

    The reference was trained at seed 0, the stream that also draws every proxy's seed-0
    initial weights: a proxy's seed-0 ranking shares that draw with the reference. Here only
    seeds 1 and up meet the reference. For every configuration measured at 2m seeds or more
    (m = 1, 2, 4, 8): its ranking by the mean of m paired seeds (how the search's finalists
    are decided) at seeds 0..m-1 against seeds m..2m-1, the mean of seeds m..2m-1 against the
    reference (for the screening proxy, which the search ranks on one seed, also each of its
    independent seeds against the reference); and, from all its seeds, the share of one seed's variance
    between candidates with the Kendall tau a ranking by the mean of m seeds is expected to
    reach (:meth:`infra.reliability.RankingReliability.kendall_at`)."""
    panel_size = len(read_panel(directory))
    reference = reference_seeds(directory).get(REFERENCE_SEED, {})
    if len(reference) < panel_size:
        return []
    reference_values = np.array([reference[c] for c in range(panel_size)])
    rows = logged_rows(directory)
    lines = []
    for name in dict.fromkeys(r["recipe"] for r in rows if not r.get("history")):
        seeds = seed_accuracies(rows, name, panel_size)
        contiguous = next(k for k in range(len(seeds) + 1) if k not in seeds)
        if contiguous < 4:
            continue
        lines.append(f"{name}, over {panel_size} candidates:")
        for m in (m for m in (1, 2, 4, 8) if 2 * m <= contiguous):
            first = np.mean([seeds[s] for s in range(m)], axis=0)
            second = np.mean([seeds[s] for s in range(m, 2 * m)], axis=0)
            own = rank_agreement(first, second, bootstrap=bootstrap).kendall
            against = rank_agreement(reference_values, second, bootstrap=bootstrap).kendall
            lines.append(f"  mean of {m} seed{'s' if m > 1 else ''}: {seed_span(0, m)} vs {seed_span(m, 2 * m)} "
                         f"Kendall {own.mean:+.3f} [{own.low:+.3f}, {own.high:+.3f}]; {seed_span(m, 2 * m)} vs "
                         f"reference {against.mean:+.3f} [{against.low:+.3f}, {against.high:+.3f}]")
        if name == SCREENING:  # the search ranks on one screening seed: its agreement at every independent one
            singles = [rank_agreement(reference_values, values, bootstrap=bootstrap).kendall.mean
                       for seed, values in seeds.items() if seed != REFERENCE_SEED]
            lines.append(f"  one seed vs reference at each of seeds 1-{len(singles)}: mean {np.mean(singles):+.3f}, "
                         f"from {min(singles):+.3f} to {max(singles):+.3f}")
        reliability = ranking_reliability(np.stack(list(seeds.values()), axis=1), bootstrap=bootstrap)
        lines.append(f"  all {len(seeds)} seeds: {reliability.between_share:.0%} of one seed's variance is between "
                     f"candidates (seed noise {reliability.seed_noise:.4f} against a spread of "
                     f"{reliability.spread:.4f}); expected Kendall of two rankings by the mean of 1, 2, 4, 8 seeds: "
                     + ", ".join(f"{reliability.kendall_at(m):+.2f}" for m in (1, 2, 4, 8)))
    return lines


def seed_span(start: int, stop: int) -> str:
    """Seeds ``start..stop-1`` in words."""
    return f"seed {start}" if stop == start + 1 else f"seeds {start}-{stop - 1}"


def front(rows: list[dict]) -> list[dict]:
    """The current rows (not history) that no other current row beats on both Kendall tau
    (higher) and seconds per candidate (lower)."""
    rows = [row for row in rows if not row["history"]]
    return [row for row in rows if not any(
        other["kendall"] >= row["kendall"] and other["seconds_per_candidate"] <= row["seconds_per_candidate"]
        and (other["kendall"] > row["kendall"] or other["seconds_per_candidate"] < row["seconds_per_candidate"])
        for other in rows)]


def plot(rows: list[dict], directory: Path) -> str:
    """Kendall tau (95% interval) against seconds per candidate, one panel per ranking signal
    of the trainings and one for the training-free baselines; the front and the default
    named, the other rows as light points; the proxies before this benchmark's changes
    (history) as grey crosses beside the current accuracy rows.
    Writes ``front.html``, and ``front.png`` when kaleido can render it."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    def panel_of(row: dict) -> str:
        return "training-free baselines" if row["configuration"].startswith("baselines") else row["signal"]

    current = [row for row in rows if not row["history"]]
    panels = list(dict.fromkeys(sorted((panel_of(row) for row in current), key=lambda name: name.startswith("training-free"))))
    figure = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.03,
                           subplot_titles=[f"signal: {name}" if name != "training-free baselines" else name
                                           for name in panels])
    history = [row for row in rows if row["history"] and row["signal"] == "accuracy" and " x" not in row["configuration"]]
    trained = [row["seconds_per_candidate"] for row in current + history if panel_of(row) != "training-free baselines"]
    trained_range = [math.log10(min(trained) / 1.3), math.log10(max(max(trained), 20.0) * 2.5)]  # room for names
    on_front = {(row["configuration"], row["signal"]) for row in front(rows)}
    labelled = lambda row: (row["configuration"], row["signal"]) in on_front or row["configuration"] in (  # noqa: E731
        BASELINE_CONFIGURATION, "baselines")
    for column, name in enumerate(panels, start=1):
        in_panel = [row for row in current if panel_of(row) == name]
        for chosen, style in (
                ([row for row in in_panel if not labelled(row)], {"color": "#9ecae1"}),
                ([row for row in in_panel if labelled(row)], {"color": "#08519c"}),
                (history if name == "accuracy" else [], {"color": "#bbbbbb", "symbol": "x"})):
            if not chosen:
                continue
            figure.add_trace(go.Scatter(
                x=[max(row["seconds_per_candidate"], 0.05) for row in chosen], y=[row["kendall"] for row in chosen],
                mode="markers+text", marker={"size": 8, **style}, showlegend=False,
                # Only the front, the default and the baselines are named: the panel would be unreadable.
                text=[(row["signal"] if name == "training-free baselines" else row["configuration"])
                      if labelled(row) and not row["history"] else "" for row in chosen],
                # Names of the slowest points go to their left, inside the panel.
                textposition=["middle left" if row["seconds_per_candidate"] > 20 else "middle right" for row in chosen],
                textfont={"size": 11},
                hovertext=[f"{row['configuration']} / {row['signal']}" for row in chosen],
                error_y={"type": "data", "symmetric": False, "color": style["color"], "thickness": 1,
                         "array": [row["kendall_high"] - row["kendall"] for row in chosen],
                         "arrayminus": [row["kendall"] - row["kendall_low"] for row in chosen]}),
                row=1, col=column)
        figure.add_hline(y=0.6, line_dash="dash", line_color="gray", row=1, col=column)
        if name != "training-free baselines":
            # A vertical line as a trace: shapes on a log axis take log10 coordinates.
            figure.add_trace(go.Scatter(x=[20, 20], y=[-1, 1], mode="lines", showlegend=False,
                                        line={"dash": "dot", "color": "gray"}), row=1, col=column)
        # MACs and parameters cost no time; the log axis draws them at 0.05 s, labelled 0.
        ticks = [0.05, 0.5, 1, 2, 5] if name == "training-free baselines" else [1, 2, 5, 10, 20, 50, 100]
        figure.update_xaxes(type="log", title_text="s per candidate (log)", row=1, col=column,
                            tickvals=ticks, ticktext=["0" if tick == 0.05 else f"{tick:g}" for tick in ticks],
                            range=[math.log10(0.03), math.log10(5)] if name == "training-free baselines" else trained_range)
    figure.update_yaxes(title_text="Kendall tau vs reference (95% interval)", range=[-0.7, 1.0], row=1, col=1)
    figure.update_layout(
        title="Proxy fidelity on 2 CPU cores: dark and named, the front (tau vs seconds) and the default; "
              "dashed, the target tau 0.6; dotted, 20 s per candidate;<br>grey crosses, the proxies before "
              "zero-init or the faster step (hover for every name)", width=1500, height=640,
        margin={"t": 110})
    figure.write_html(directory / "front.html", include_plotlyjs="cdn")
    try:
        figure.write_image(directory / "front.png")
        return f"{directory / 'front.html'} and front.png"
    except Exception as error:  # kaleido or a browser missing: the HTML is still there
        return f"{directory / 'front.html'} (no PNG: {type(error).__name__})"


def chosen_configurations(text: str) -> list[str]:
    """``--configs`` as names of ``PROXIES``; an unknown one ends the run with one line."""
    names = text.split(",")
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise SystemExit(f"error: unknown configuration {unknown[0]!r}; expected some of {', '.join(PROXIES)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("panel", "reference", "proxies", "reproducibility", "timing", "report"))
    parser.add_argument("--dir", type=Path, default=DIRECTORY, help="where the panel and the logs live")
    parser.add_argument("--configs", default=",".join(PROXIES), help="proxy configurations to run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--panel-size", type=int, default=PANEL_SIZE)
    parser.add_argument("--seeds", type=int, default=None,
                        help="reproducibility: seeds 1..N-1 (2: seed 1); reference: seeds 0..N-1 (1)")
    parser.add_argument("--every", type=int, default=None,
                        help="timing (3) and reference (1): every N-th candidate of the panel")
    parser.add_argument("--bootstrap", type=int, default=2000, help="report: bootstrap samples per interval")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    device = checked_device(args.device)
    if args.step == "panel":
        panel = build_panel(args.panel_size)
        write_json(args.dir / "panel.json", [{"candidate": index, "macs": count_cost(spec).macs,
                                              "params": count_cost(spec).params, "blocks": stages_summary(spec),
                                              "spec": spec_to_dict(spec)} for index, spec in enumerate(panel)])
        print(f"{len(panel)} candidates, {min(count_cost(s).macs for s in panel):,} to "
              f"{max(count_cost(s).macs for s in panel):,} MACs: {args.dir / 'panel.json'}")
    elif args.step == "reference":
        run_recipe(REFERENCE, read_panel(args.dir), args.dir / "reference.jsonl", device, seeds=range(args.seeds or 1),
                   every=args.every or 1)
    elif args.step == "proxies":
        panel = read_panel(args.dir)
        run_baselines(panel, args.dir / "proxies.jsonl", device)
        for name in chosen_configurations(args.configs):
            run_recipe(PROXIES[name], panel, args.dir / "proxies.jsonl", device)
    elif args.step == "reproducibility":
        panel = read_panel(args.dir)
        for name in chosen_configurations(args.configs):
            run_recipe(PROXIES[name], panel, args.dir / "proxies.jsonl", device, seeds=range(1, args.seeds or 2))
    elif args.step == "timing":
        run_timing(chosen_configurations(args.configs), read_panel(args.dir), args.dir / "timings.jsonl", device, args.every or 3)
    else:
        import pandas as pd

        for line in reproducibility(args.dir, args.bootstrap) + independent_agreement(args.dir, args.bootstrap):
            print(line)
        ceiling = reference_ceiling(args.dir, args.bootstrap)
        if ceiling:
            print(ceiling)
        rows = report(args.dir, args.bootstrap)
        if not rows:
            print(f"no agreement with the reference yet: it has "
                  f"{len(read_json_lines(args.dir / 'reference.jsonl')) if (args.dir / 'reference.jsonl').exists() else 0}"
                  f" of {len(read_panel(args.dir))} candidates (3 needed); run `python benchmarks/fidelity.py reference`")
            return
        frame = pd.DataFrame(rows).sort_values("kendall", ascending=False)
        frame.to_csv(args.dir / "fidelity.csv", index=False)
        print(f"reference: {REFERENCE.images_seen:,} images seen per candidate "
              f"({REFERENCE.images_seen / Recipe('default').images_seen:.0f}x the default proxy)")
        for history in (False, True):
            print("\nbefore this benchmark's changes (history logs):" if history else "")
            print(f"{'configuration':44s} {'signal':18s} {'n':>3s} {'Kendall tau [95%]':>26s} "
                  f"{'Spearman [95%]':>26s} {'s/cand':>7s}   {'tau - default (paired) [95%]':>28s}")
            for row in frame[frame["history"] == history].to_dict("records"):
                print(f"{row['configuration']:44s} {row['signal']:18s} {row['candidates']:3d} "
                      f"{row['kendall']:+.3f} [{row['kendall_low']:+.3f}, {row['kendall_high']:+.3f}]   "
                      f"{row['spearman']:+.3f} [{row['spearman_low']:+.3f}, {row['spearman_high']:+.3f}]   "
                      f"{row['seconds_per_candidate']:7.1f}   " + (
                          f"{row['kendall_minus_default']:+.3f} [{row['kendall_minus_default_low']:+.3f}, "
                          f"{row['kendall_minus_default_high']:+.3f}]" if pd.notna(row.get("kendall_minus_default")) else ""))
        print("\nfront (no other current row has both a higher tau and fewer seconds): " + ", ".join(
            f"{row['configuration']}/{row['signal']}" for row in
            sorted(front(rows), key=lambda row: row["seconds_per_candidate"])))
        print(f"plot: {plot(rows, args.dir)}")


if __name__ == "__main__":
    main()
