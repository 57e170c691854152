"""Evaluating scaled networks with the search runner's proxy, resumably.

A scaling run trains, for ``--seeds`` seeds each, the base (phi = 0), every point of
the share grid at phi = 1 (:func:`scaling.simplex_grid`, rounding-corrected with
:func:`scaling.corrected_scale`), and afterwards the chosen direction at the small
``law_phis`` used to fit a metric-vs-MACs law. Training is
:func:`runners.train_and_evaluate` (the search's proxy); the metric is its
validation accuracy. The proxy trains at the data's proxy resolution times the
network's resolution multiplier, so resolution scaling is felt by the proxy too.

The proxy resolution scales with the network's real (rounded) resolution, and the
multipliers recorded are the effective ones (:func:`scaling.compound.effective_multipliers`):
what the network is, not what was asked of the rounding rules. Grid points that round to
the same network as an earlier point are trained once.

Each finished evaluation is one line of ``evaluations.jsonl`` (appended and fsynced),
so a kill loses at most the one in flight and rerunning continues where it stopped.
Grid points run in a space-filling order (corners first, then the point farthest from
those done), all seeds of a point together: a run stopped by its time limit still
covers the simplex.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from infra.errors import InfrastructureFault
from infra.files import append_json_line
from infra.progress import progress_bar
from infra.rows import read_rows, row_to
from infra.seeds import replicate_seed
from infra.trial_state import TrialState
from runners.data.sources import DataOptions, Splits, prepare
from runners.executors import InProcess, outcome
from runners.learning.loop import TrainConfig, train_and_evaluate
from scaling.compound import Coefficients, ScaledNetwork, corrected_scale, simplex_grid
from scaling.run_files import EVALUATIONS_LOG
from search_space import NetworkSpec, count_cost, scale_resolution, stages_summary


@dataclass(frozen=True)
class NetworkEvaluation:
    """One trained network: which role it plays, what it is, how it scored."""

    role: str  # "base", "grid" or "law"
    phi: float
    seed: int
    share_depth: float
    share_width: float
    share_resolution: float
    depth_mult: float  # effective (see scaling.compound.effective_multipliers): what the network is
    width_mult: float
    resolution_mult: float
    requested_depth: float  # the continuous multipliers asked of the rounding rules
    requested_width: float
    requested_resolution: float
    macs: int
    params: int
    realised_ratio: float
    resolution: str
    proxy_resolution: str
    spec: str
    state: TrialState = TrialState.COMPLETE  # or FAIL

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TrialState(self.state))
    metric: float | None = None
    failure_reason: str = ""
    seconds: float = 0.0
    finished_at: float = 0.0

    @property
    def key(self) -> tuple:
        return (self.role, round(self.phi, 9), round(self.share_depth, 9), round(self.share_width, 9), self.seed)


@dataclass(frozen=True)
class Task:
    role: str
    phi: float
    coefficients: Coefficients
    seed: int
    network: ScaledNetwork = field(compare=False)

    @property
    def key(self) -> tuple:
        depth, width, _ = self.coefficients.shares if self.phi != 0 else (0.0, 0.0, 0.0)
        return (self.role, round(self.phi, 9), round(depth, 9), round(width, 9), self.seed)


def space_filling_order(points: list[Coefficients]) -> list[Coefficients]:
    """Corners of the simplex first, then repeatedly the point farthest from those chosen."""
    shares = np.array([p.shares for p in points])
    corners = [int(np.argmax(shares[:, axis])) for axis in range(3)]
    chosen = list(dict.fromkeys(corners))
    distance = np.min(np.linalg.norm(shares[:, None, :] - shares[chosen][None, :, :], axis=2), axis=1)
    while len(chosen) < len(points):
        index = int(np.argmax(distance))  # first maximum: deterministic
        chosen.append(index)
        distance = np.minimum(distance, np.linalg.norm(shares - shares[index], axis=1))
    return [points[i] for i in chosen]


def base_task(base: NetworkSpec, seed: int) -> Task:
    network = ScaledNetwork(base, 1.0, 1.0, 1.0, count_cost(base).macs, 1.0)
    return Task("base", 0.0, Coefficients(1.0, 1.0, 1.0), seed, network)


def grid_tasks(base: NetworkSpec, step: float, seeds: int, depth_rule: str = "per-stage") -> tuple[list[Task], int]:
    """The grid's tasks in space-filling order, and how many points were dropped because
    rounding made them the same network as an earlier point (training it again would only
    repeat that point's seeds; shallow bases collapse many points onto the depth-doubled one)."""
    tasks, seen, dropped = [], set(), 0
    for point in space_filling_order(simplex_grid(step)):
        network = corrected_scale(base, point, 1.0, depth_rule=depth_rule)
        if network.spec in seen:
            dropped += 1
            continue
        seen.add(network.spec)
        tasks += [Task("grid", 1.0, point, seed, network) for seed in range(seeds)]
    return tasks, dropped


def law_tasks(base: NetworkSpec, coefficients: Coefficients, phis, seeds: int, first_seed: int = 0,
              depth_rule: str = "per-stage") -> list[Task]:
    """Members along ``coefficients`` at each ``phi``, ``seeds`` seeds from ``first_seed``
    (seeds the grid did not use give an estimate free of the grid's selection).

    A phi that rounds to the base or to the network of an earlier phi (channels at their
    floor, one repeat per stage) is skipped: the same network at the same seeds would only
    repeat those results and weigh one compute level several times in the law."""
    tasks, seen = [], {base}
    for phi in phis:
        network = corrected_scale(base, coefficients, float(phi), depth_rule=depth_rule)
        if network.spec in seen:
            continue
        seen.add(network.spec)
        tasks += [Task("law", float(phi), coefficients, seed, network) for seed in range(first_seed, first_seed + seeds)]
    return tasks


class ProxyEvaluator:
    """Trains tasks on the data, each at its own proxy resolution (prepared once per size).

    Picklable, so that worker processes and Ray tasks evaluate exactly as this process
    does; ``without_data()`` is the copy to send them (they prepare, or are given, data).
    """

    def __init__(self, data: DataOptions, train: TrainConfig, base_data: Splits):
        """``base_data``: the data prepared at the base's proxy resolution (the others derive from it)."""
        self.data_options = data
        self.train = train
        self.base_proxy_resolution = base_data.resolution
        self._prepared: dict[tuple[int, int], Splits] = {base_data.resolution: base_data}

    def without_data(self) -> "ProxyEvaluator":
        light = copy.copy(self)
        light._prepared = {}
        return light

    def proxy_resolution(self, task: Task) -> tuple[int, int]:
        """The proxy resolution ``task`` trains at: the base's, times its resolution multiplier."""
        return scale_resolution(self.base_proxy_resolution, task.network.effective[2])

    def data_at(self, resolution: tuple[int, int]) -> Splits:
        if resolution not in self._prepared:
            self._prepared[resolution] = prepare(self.data_options.at_resolution(resolution))
        return self._prepared[resolution]

    def evaluate(self, task: Task, data: Splits | None = None) -> NetworkEvaluation:
        """Train ``task`` at its proxy resolution (on ``data`` when given: prepared by the caller)."""
        network = task.network
        depth, width, resolution = network.effective
        proxy_resolution = self.proxy_resolution(task)
        if data is not None:
            self._prepared[proxy_resolution] = data
        shares = task.coefficients.shares if task.role != "base" else (0.0, 0.0, 0.0)
        record = NetworkEvaluation(
            role=task.role, phi=task.phi, seed=task.seed, share_depth=shares[0], share_width=shares[1],
            share_resolution=shares[2], depth_mult=depth, width_mult=width, resolution_mult=resolution,
            requested_depth=network.depth_mult, requested_width=network.width_mult,
            requested_resolution=network.resolution_mult, macs=network.macs, params=count_cost(network.spec).params,
            realised_ratio=network.realised_ratio, resolution="x".join(map(str, network.spec.resolution)),
            proxy_resolution="x".join(map(str, proxy_resolution)), spec=stages_summary(network.spec))
        start = time.perf_counter()
        try:
            result = train_and_evaluate(network.spec, self.data_at(proxy_resolution), self.train,
                                        seed=replicate_seed(self.data_options.seed, task.seed))
            return dataclasses.replace(record, metric=result.accuracy, seconds=time.perf_counter() - start,
                                       finished_at=time.time())
        except (KeyboardInterrupt, InfrastructureFault):  # a stop or a fault is not the network's result
            raise
        except Exception as error:  # one network's failure is a result, not the end of the run
            return dataclasses.replace(record, state=TrialState.FAIL, seconds=time.perf_counter() - start,
                                       finished_at=time.time(),
                                       failure_reason=f"{type(error).__name__}: {error}".splitlines()[0][:300])


def read_evaluations(run_dir: Path) -> list[NetworkEvaluation]:
    """The logged evaluations, one per task (a rerun's last line wins), in the order of their
    keys: the same list whatever order parallel workers finished them in."""
    latest: dict[tuple, NetworkEvaluation] = {}
    for evaluation in read_rows(run_dir / EVALUATIONS_LOG, lambda row: row_to(NetworkEvaluation, row)):
        latest[evaluation.key] = evaluation
    return [latest[key] for key in sorted(latest)]


_WORKER_EVALUATORS: dict[tuple, ProxyEvaluator] = {}


def _evaluate_in_worker(evaluator: ProxyEvaluator, task: Task, data: Splits | None) -> NetworkEvaluation:
    """A worker's evaluation: its evaluator (and the data it prepared) kept between tasks."""
    key = (evaluator.data_options, evaluator.train, evaluator.base_proxy_resolution)
    return _WORKER_EVALUATORS.setdefault(key, evaluator).evaluate(task, data)


def run_tasks(run_dir: Path, tasks: list[Task], evaluator: ProxyEvaluator, *, deadline: float | None = None,
              required: int = 0, quiet: bool = False, description: str = "evaluations",
              executor: InProcess | None = None) -> list[NetworkEvaluation]:
    """Evaluate the tasks not yet in the log, in order, until done or past ``deadline``
    (a ``time.monotonic()`` value; evaluations in flight are finished). The first
    ``required`` tasks run whatever the deadline (a grid needs its corners to mean anything).

    ``executor`` (:mod:`runners.executors`) runs up to its ``slots`` evaluations at once, in
    worker processes or on Ray; each result is logged as it arrives, so a kill loses only
    those in flight. Each evaluation is seeded by its task alone, so the results are those
    of a sequential run.
    """
    executor = executor or InProcess()
    done = {evaluation.key for evaluation in read_evaluations(run_dir)}
    todo = [(index, task) for index, task in enumerate(tasks) if task.key not in done]
    bar = progress_bar(len(todo), description, "network", quiet)
    pending = iter(todo)
    light = None if executor.in_process else evaluator.without_data()  # workers prepare or are sent their data
    shared: dict[tuple[int, int], object] = {}
    in_flight: dict[concurrent.futures.Future, Task] = {}
    starting = True
    try:
        while True:
            while starting and len(in_flight) < executor.slots:
                index, task = next(pending, (None, None))
                if task is None or (deadline is not None and index >= required and time.monotonic() > deadline):
                    starting = False
                    break
                data = None
                if executor.ships_data:  # the nodes need not see the data's files
                    resolution = evaluator.proxy_resolution(task)
                    if resolution not in shared:
                        shared[resolution] = executor.share(evaluator.data_at(resolution))
                    data = shared[resolution]
                future = (executor.submit(evaluator.evaluate, task) if executor.in_process
                          else executor.submit(_evaluate_in_worker, light, task, data))
                in_flight[future] = task
            if not in_flight:
                break
            finished, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                del in_flight[future]
                evaluation = outcome(future)
                append_json_line(run_dir / EVALUATIONS_LOG,
                                 {**dataclasses.asdict(evaluation), "state": evaluation.state.value})
                bar.update(1)
                if evaluation.metric is not None:
                    bar.set_postfix_str(f"last proxy accuracy {evaluation.metric:.3f}")
    finally:
        bar.close()
    return read_evaluations(run_dir)


__all__ = ["NetworkEvaluation", "ProxyEvaluator", "Task", "base_task", "grid_tasks",
           "law_tasks", "read_evaluations", "run_tasks", "space_filling_order"]
