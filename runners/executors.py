"""Where independent evaluations run: in this process, in worker processes, or as Ray tasks.

Each executor's ``submit(function, *args)`` returns a ``concurrent.futures.Future``, so one
loop (e.g. :func:`scaling.grid_run.run_tasks`) drives all three and writes each result as
it arrives; ``slots`` says how many may be in flight. The function and its arguments must
be picklable for the process pool and Ray. ``share(value)`` makes a large argument cheap to
pass many times: on Ray it goes into the object store once (so nodes need no shared file
system), elsewhere it is the value itself.

The backends are the search's (``--backend optuna`` runs local processes, as the Optuna
backend's ``--workers`` do; ``--backend ray`` runs on a local Ray or joins ``--ray-address``).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import multiprocessing
from typing import Any, Callable

import torch

from infra.errors import InfrastructureFault
from infra.stopping import ignore_interrupts


NODE_RETRIES = 3  # runs of a Ray task again after its node or worker died (not after its own exception)


# Ray's errors for a task whose worker, node or object was lost past its retries (by name:
# this module does not import Ray unless a Ray executor is made).
RAY_LOSSES = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "OwnerDiedError",
              "ObjectReconstructionFailedError")


class WorkerLost(InfrastructureFault):
    """A worker process died (killed, out of memory) with an evaluation in flight."""


def outcome(future: concurrent.futures.Future) -> Any:
    """A finished future's result; a worker that died under it is :class:`WorkerLost` (one
    line, exit 1: the same command redoes what it had in flight), not a traceback."""
    try:
        return future.result()
    except Exception as error:
        if not isinstance(error, concurrent.futures.process.BrokenProcessPool) and not (
                type(error).__module__.startswith("ray.") and type(error).__name__ in RAY_LOSSES):
            raise
        raise WorkerLost(f"a worker died during an evaluation ({type(error).__name__}: killed, out of memory, or "
                         "its node lost); finished evaluations are saved: rerun the same command to continue") from None


def _with_threads(threads: int, function: Callable, *args) -> Any:
    """``function(*args)`` with ``threads`` intra-op threads (workers share the machine's cores)."""
    torch.set_num_threads(threads)
    return function(*args)


class InProcess:
    """Runs each function at submission, in this process (the sequential default)."""

    slots = 1
    in_process = True  # the function's arguments are not copied: state it keeps stays here
    ships_data = False  # whether workers need their data passed (no shared file system)

    def submit(self, function: Callable, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(function(*args))
        except Exception as error:  # KeyboardInterrupt passes: the caller stops
            future.set_exception(error)
        return future

    def share(self, value: Any) -> Any:
        return value

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop at once (a SIGINT or SIGTERM, :mod:`infra.stopping`): evaluations in flight
        are abandoned, to be redone by a resume; nothing is waited for."""
        self.close()


class ProcessPool(InProcess):
    """``workers`` spawned processes on this machine, the threads split between them."""

    in_process = False

    def __init__(self, workers: int):
        self.slots = workers
        self.threads = max(1, torch.get_num_threads() // workers)
        self.pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                           initializer=ignore_interrupts)

    def submit(self, function: Callable, *args) -> concurrent.futures.Future:
        return self.pool.submit(_with_threads, self.threads, function, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        workers = list(multiprocessing.active_children())  # the pool's processes, and only children
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.kill()
            process.join()


class RayTasks(InProcess):
    """Ray tasks on a local Ray or the cluster at ``address``; a CUDA run's task holds one GPU.

    A task whose node or worker process dies is run again (up to :data:`NODE_RETRIES`
    times, by Ray, on another node or when the node returns); an exception the function
    raises is not retried: it is the evaluation's own result."""

    in_process = False
    ships_data = True

    def __init__(self, workers: int, address: str | None, device: str = "cpu"):
        from runners.ray_cluster import init_ray

        self.slots, self.address = workers, address
        import ray

        self.threads = init_ray(address, workers)
        self.remote = ray.remote(_with_threads).options(
            num_cpus=self.threads, num_gpus=1 if device.startswith("cuda") else 0, max_retries=NODE_RETRIES,
            retry_exceptions=False)

    def submit(self, function: Callable, *args) -> concurrent.futures.Future:
        return self.remote.remote(self.threads, function, *args).future()

    def share(self, value: Any) -> Any:
        import ray

        return ray.put(value)

    def close(self) -> None:
        import ray

        if not self.address:
            ray.shutdown()


def make_executor(backend: str = "optuna", workers: int = 1, ray_address: str | None = None,
                  device: str = "cpu") -> InProcess:
    """The executor for the command-line flags ``--backend``, ``--workers``, ``--ray-address``."""
    if backend == "ray":
        return RayTasks(workers, ray_address, device)
    return ProcessPool(workers) if workers > 1 else InProcess()


__all__ = ["InProcess", "ProcessPool", "RayTasks", "WorkerLost", "make_executor", "outcome"]
