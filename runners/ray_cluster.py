"""Joining Ray: a local Ray, or the cluster at ``--ray-address``, for the search's Ray Tune
backend and the Ray-task executor of the scaling grid alike."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile

from infra.errors import UsageError

CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """One line at once when nothing listens at ``HOST:PORT`` (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--ray-address {address}: expected HOST:PORT of a Ray head (or auto), e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UsageError(f"--ray-address {address}: no Ray head answers there ({error.strerror or error}); "
                         "start one with: ray start --head --port PORT") from None


@contextlib.contextmanager
def _stderr_into(file):
    """Ray's C++ core writes its connection retries to file descriptor 2, past Python's logging."""
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def init_ray(address: str | None, workers: int) -> int:
    """Start a local Ray, or join the cluster at ``address``; returns the CPU threads each of
    ``workers`` concurrent trials gets.

    A cluster that cannot be joined is one line (no head there, or a token Ray refused:
    Ray enables token authentication by default, and every process of a cluster, this
    driver included, needs the head's token in ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``).
    Calling it again in the same process reuses the connection.
    """
    import ray

    workers = max(1, workers)
    if address and address != "auto":
        _check_reachable(address)
    threads = max(1, (os.cpu_count() or 1) // workers)
    with tempfile.TemporaryFile() as captured:
        try:
            with _stderr_into(captured):
                ray.init(address=address, num_cpus=None if address else os.cpu_count() or 1,
                         include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                         ignore_reinit_error=True, runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})
        except ConnectionError as error:
            captured.seek(0)
            said = captured.read().decode(errors="replace")
            hint = ("the cluster refused this driver's authentication token: export RAY_AUTH_TOKEN (or "
                    "RAY_AUTH_TOKEN_PATH) with the head's token, as for every node"
                    if "InvalidAuthToken" in said or "Unauthenticated" in said else str(error))
            raise UsageError(f"--ray-address {address}: cannot join the Ray cluster ({hint})") from None
    if not address:
        return threads
    # On a cluster a trial must fit on its smallest node, and the workers share all CPUs.
    nodes = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")]
    return max(1, int(min(min(nodes, default=1), sum(nodes) // workers)))


__all__ = ["init_ray"]
