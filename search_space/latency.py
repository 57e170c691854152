"""Batch-1 CPU latency of a spec: measured, and predicted from a per-block lookup table.

Measurement (:func:`measure_latency`) times the fused eval model (what
``python -m search_space export`` ships) on one random input of the spec's size, after a
warm-up, under ``torch.inference_mode``, with a stated number of intra-op threads, and
reports the median and percentiles in milliseconds.

Prediction (:class:`LatencyTable`) follows nn-Meter's kernel-level idea (Zhang et al.,
MobiSys 2021) at the granularity of this suite's parts: the network is cut into its stem,
each block, the head and the pooled classifier; each part's latency is measured once, alone,
on an input of its shape, and kept in a table keyed by what the part computes (its module's
structure and input shape) plus the machine (CPU, threads, torch version). A spec's
prediction is the sum of its parts (times one calibration factor of the machine, 1 unless
:meth:`LatencyTable.calibrate` fitted one), so any spec built from parts already measured is
predicted without building or running it. A part the table has never seen is either timed
(building the spec once) or, with ``measure_unseen=False``, predicted by :class:`PartModel`,
a non-negative linear regression over the table's parts (nn-Meter's answer for unseen
kernels): per kind of part an intercept and a cost per MAC, shared costs per activation and
per parameter. Parts are timed where they run: a spec with
parts not yet in the table is built once and timed whole, with hooks at the parts'
boundaries (timed alone, a part keeps its weights and input in cache and reads 10-30%
fast); the table is saved under ``$XDG_CACHE_HOME/efficientnet-nas/latency``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from infra.files import write_atomically
from search_space.blocks import block_class
from search_space.fusion import fuse_model
from search_space.model import build_model, classifier_plan, head_plan, stage_blocks, stem_plan
from search_space.spec import NetworkSpec

WARMUP = 10
REPEATS = 50
TABLE_VERSION = 2  # 2: each part's kind and analytic cost are kept for the regression
MIN_MODEL_PARTS = 30  # fewer table entries than this fit no regression: unseen parts are timed


@dataclass(frozen=True)
class Latency:
    """Batch-1 latency in milliseconds over ``repeats`` timed runs, with ``threads`` threads."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    p99_ms: float
    repeats: int
    threads: int

    def describe(self) -> str:
        return (f"median {self.median_ms:.3f} ms (p10 {self.p10_ms:.3f}, p90 {self.p90_ms:.3f}, p99 {self.p99_ms:.3f}) "
                f"over {self.repeats} runs, batch 1, {self.threads} thread{'s' if self.threads != 1 else ''}")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_module(module: nn.Module, example: torch.Tensor, warmup: int = WARMUP, repeats: int = REPEATS) -> Latency:
    """Time ``module(example)`` (eval mode, no autograd)."""
    module.eval()
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            module(example)
        for _ in range(repeats):
            start = time.perf_counter()
            module(example)
            times.append(1000 * (time.perf_counter() - start))
    return Latency(statistics.median(times), _percentile(times, 0.1), _percentile(times, 0.9),
                   _percentile(times, 0.99), repeats, torch.get_num_threads())


def measure_latency(spec: NetworkSpec, threads: int | None = None, warmup: int = WARMUP,
                    repeats: int = REPEATS) -> Latency:
    """Batch-1 latency of ``spec``'s fused eval model on this machine's CPU."""
    with _threads(threads):
        model = fuse_model(build_model(spec))
        return time_module(model, torch.randn(1, spec.in_channels, *spec.resolution), warmup, repeats)


class _threads:
    """``torch.set_num_threads`` for a ``with`` block (``None``: leave as it is)."""

    def __init__(self, threads: int | None):
        self.threads, self.saved = threads, torch.get_num_threads()

    def __enter__(self):
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


@dataclass(frozen=True)
class Part:
    """One part of a network as the table knows it: a key for what it computes (module
    type, its constructor's arguments, input shape), how to build it alone, its input shape,
    its kind (``stem``, ``head``, ``classifier`` or ``<block type>/<attention>``) and its
    analytic cost (MACs, activations, params: :mod:`search_space.counting`), the features
    :class:`PartModel` predicts unseen parts from."""

    key: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    kind: str = ""
    cost: tuple[int, int, int] = (0, 0, 0)


def _features(cost) -> tuple[int, int, int]:
    return cost.macs, cost.activations, cost.params


def _key(*description) -> str:
    return hashlib.sha1(repr(description).encode()).hexdigest()[:20]


def spec_parts(spec: NetworkSpec) -> list[Part]:
    """``spec`` cut into the parts its model runs one after another (stem, each block, head,
    pooled classifier), from the spec alone: input sizes come from the analytic cost model."""
    stem = stem_plan(spec)
    stem_cost, *size = stem.cost(*spec.resolution)
    parts = [Part(_key("stem", stem.layer.__name__, sorted(stem.config.items()), spec.resolution), stem.build,
                  (spec.in_channels, *spec.resolution), "stem", _features(stem_cost))]
    for _, stage, in_channels, stride in stage_blocks(spec):
        single = dataclasses.replace(stage, repeats=1)
        block = block_class(stage)
        cost, *output = block.cost(single, in_channels, stride, *size)
        attention = "none" if stage.attention is None else type(stage.attention).__name__
        parts.append(Part(_key("block", block.__name__, single, in_channels, stride, tuple(size)),
                          functools.partial(block, single, in_channels, stride, 0.0),
                          (in_channels, *size), f"{block.__name__}/{attention}", _features(cost)))
        size = output
    head, classifier = head_plan(spec), classifier_plan(spec)
    head_cost, *_ = head.cost(*size)
    classifier_cost, *_ = classifier.cost(*size)
    parts.append(Part(_key("head", head.layer.__name__, sorted(head.config.items()), tuple(size)), head.build,
                      (spec.stages[-1].out_channels, *size), "head", _features(head_cost)))
    parts.append(Part(_key("classifier", classifier.layer.__name__, sorted(classifier.config.items()), tuple(size)),
                      lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), classifier.build()),
                      (spec.head_channels, *size), "classifier", _features(classifier_cost)))
    return parts


def machine_key(threads: int) -> str:
    """The machine a table is valid for: processor, thread count, torch version."""
    processor = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return hashlib.sha1(f"{TABLE_VERSION}|{processor}|{threads}|{torch.__version__}".encode()).hexdigest()[:16]


def default_table_path(threads: int) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "efficientnet-nas" / "latency" / f"{machine_key(threads)}.json"


class PartModel:
    """Latency of a part the table has not seen, from those it has: a non-negative least-squares
    fit of ``ms = intercept[k] + macs * (rate[k] + rate) + activations * (traffic[k] + traffic)
    + params * p`` for a part of kind ``k``.

    Per kind an intercept (the fixed cost of its layers: an SE block's pooling and small
    matrix products cost time at any size), a cost per MAC (depthwise and Ghost layers use a
    core far less well than dense ones) and per activation (memory traffic differs with the
    layer mix); shared rates for kinds never seen, and a cost per parameter (weights read).
    Non-negative, so a part never predicts below zero and more work never predicts less time.
    Rows are weighted by ``1 / sqrt(ms)``: timing noise grows with a part's time, and an
    unweighted fit would leave small parts, most of a network's count, to chance (on the
    latency benchmark it put 72% of specs within +-10%, this one 74%; BENCHMARKS.md).
    """

    SCALES = (1e6, 1e5, 1e5)  # MACs, activations, params: coefficients of similar size

    def __init__(self, rows: list[tuple[str, tuple[int, int, int], float]]):
        """``rows``: (kind, (macs, activations, params), ms) of the table's parts."""
        from scipy.optimize import nnls

        self.kinds = sorted({kind for kind, _, _ in rows})
        matrix = np.array([self._row(kind, cost) for kind, cost, _ in rows])
        latencies = np.array([ms for _, _, ms in rows])
        weights = 1 / np.sqrt(np.maximum(latencies, 1e-6))
        self.coefficients, _ = nnls(matrix * weights[:, None], latencies * weights)

    def _row(self, kind: str, cost: tuple[int, int, int]) -> list[float]:
        macs, activations, params = (value / scale for value, scale in zip(cost, self.SCALES))
        own = [float(kind == known) for known in self.kinds]
        return [*own, *(flag * macs for flag in own), *(flag * activations for flag in own), macs, activations,
                params]

    def predict(self, kind: str, cost: tuple[int, int, int]) -> float:
        """Predicted ms of a part of ``kind`` costing ``cost`` (a kind never seen gets the shared rates)."""
        return float(np.dot(self._row(kind, cost), self.coefficients))


class LatencyTable:
    """Per-part batch-1 latencies (median ms) of one machine, filled on first use and saved."""

    def __init__(self, threads: int = 1, path: Path | None = None, repeats: int = REPEATS):
        self.threads, self.repeats = threads, repeats
        self.path = path or default_table_path(threads)
        self.entries: dict[str, float] = {}
        self.kinds: dict[str, tuple[str, tuple[int, int, int]]] = {}  # key -> (kind, cost): the model's features
        self.calibration = 1.0
        if self.path.is_file():
            try:
                saved = json.loads(self.path.read_text())
                self.entries = {str(k): float(v) for k, v in saved["parts"].items()}
                self.kinds = {str(k): (str(kind), tuple(int(c) for c in cost))
                              for k, (kind, cost) in saved.get("features", {}).items()}
                self.calibration = float(saved.get("calibration", 1.0))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.entries, self.kinds, self.calibration = {}, {}, 1.0  # damaged: measured again, not trusted
        self.measured = 0  # parts measured by this object (the rest came from the table)
        self._model: PartModel | None = None

    def calibrate(self, specs: list[NetworkSpec]) -> float:
        """Fit the table's one correction factor: the median over ``specs`` of measured over
        summed part latency (what the parts' sum leaves out: the hooks' own time, the calls
        between parts); returns the factor, saved."""
        ratios = [measure_latency(spec, self.threads, repeats=self.repeats).median_ms / self.parts_sum(spec)
                  for spec in specs]
        self.calibration = statistics.median(ratios)
        self.save()
        return self.calibration

    def predict(self, spec: NetworkSpec, measure_unseen: bool = True) -> float:
        """Predicted batch-1 latency of ``spec`` in ms: the sum of its parts' latencies times
        the table's calibration (see :meth:`calibrate`). Parts missing from the table are
        timed (``measure_unseen``) or predicted by the table's :class:`PartModel` (timed
        all the same while the table is too small to fit one)."""
        return self.calibration * self.parts_sum(spec, measure_unseen)

    def parts_sum(self, spec: NetworkSpec, measure_unseen: bool = True) -> float:
        """The sum of ``spec``'s parts' latencies in ms. When every part is in the table the
        network is never built. Otherwise, with ``measure_unseen``, it is built once and its
        parts are timed where they run, in the whole network (alone, a part keeps its weights
        and input in cache and reads 10-30% fast), and the new ones are saved; without, the
        missing parts are predicted by :meth:`model`."""
        parts = spec_parts(spec)
        missing = [part for part in parts if part.key not in self.entries]
        model = None if measure_unseen or not missing else self.model()
        if missing and model is None:
            timed = self._time_in_context(spec, parts)
            for part in missing:
                self.entries[part.key] = timed[part.key]
                self.kinds[part.key] = (part.kind, part.cost)
            self.measured += len({part.key for part in missing})
            self._model = None
            self.save()
        return sum(self.entries[part.key] if part.key in self.entries else model.predict(part.kind, part.cost)
                   for part in parts)

    def model(self) -> PartModel | None:
        """The regression over the table's parts, or None while it has fewer than
        :data:`MIN_MODEL_PARTS` (then unseen parts are timed)."""
        rows = [(*self.kinds[key], ms) for key, ms in self.entries.items() if key in self.kinds]
        if self._model is None and len(rows) >= MIN_MODEL_PARTS:
            self._model = PartModel(rows)
        return self._model

    def fill(self, specs: list[NetworkSpec], progress: Callable[[], None] | None = None) -> None:
        """Time every part of ``specs`` not yet in the table (each spec built once at most)."""
        for spec in specs:
            self.parts_sum(spec)
            if progress is not None:
                progress()

    def _time_in_context(self, spec: NetworkSpec, parts: list[Part]) -> dict[str, float]:
        """Median time of each part over ``repeats`` batch-1 runs of the whole fused model,
        from forward hooks at the parts' boundaries."""
        with _threads(self.threads):
            model = fuse_model(build_model(spec))
            bounds = [(model.stem, model.stem), *((block, block) for block in model.blocks), (model.head, model.head),
                      (model.pool, model.classifier)]
            stamps: list[list[float]] = [[] for _ in bounds]
            handles = []
            for index, (first, last) in enumerate(bounds):
                handles.append(first.register_forward_pre_hook(
                    lambda module, args, index=index: stamps[index].append(-time.perf_counter())))
                handles.append(last.register_forward_hook(
                    lambda module, args, output, index=index: stamps[index].__setitem__(
                        -1, stamps[index][-1] + time.perf_counter())))
            example = torch.randn(1, spec.in_channels, *spec.resolution)
            with torch.inference_mode():
                for _ in range(WARMUP):
                    model(example)
                for times in stamps:
                    times.clear()
                for _ in range(self.repeats):
                    model(example)
            for handle in handles:
                handle.remove()
        return {part.key: 1000 * statistics.median(times) for part, times in zip(parts, stamps)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": TABLE_VERSION, "threads": self.threads, "torch": torch.__version__,
                   "calibration": self.calibration, "parts": self.entries,
                   "features": {key: [kind, list(cost)] for key, (kind, cost) in self.kinds.items()}}
        write_atomically(self.path, lambda path: Path(path).write_text(json.dumps(payload, indent=0)))


__all__ = ["Latency", "LatencyTable", "Part", "PartModel", "measure_latency", "spec_parts", "time_module"]
