"""A real two-node Ray cluster on this machine's loopback, for the cluster tests.

Ray replaces 127.0.0.1 (and "localhost") by the machine's external interface address
wherever it takes a node address, so the nodes use other loopback addresses, 127.0.0.2
(the head) and 127.0.0.3: every connection stays on the loopback device. Token
authentication is on, with a token made for the test; each node runs ``ray start --block``
in its own process group, so stopping the cluster stops only these nodes (``ray stop``
would stop every Ray of the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.postgres import free_port

HEAD, SECOND = "127.0.0.2", "127.0.0.3"


def _ray() -> str:
    return shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"


def _stop(node: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGINT)  # what --block answers by stopping its node (SIGTERM it ignores)
    with contextlib.suppress(subprocess.TimeoutExpired):
        node.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)  # what the node left of its daemons
    node.wait(timeout=30)


def _wait_for_nodes(address: str, count: int, environment: dict, timeout: float = 120.0) -> None:
    probe = ("import ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
             "print(sum(n['Alive'] for n in ray.nodes()))" % address)
    deadline = time.monotonic() + timeout
    while True:
        found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment,
                               timeout=timeout)
        if found.stdout.strip() == str(count):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {count} nodes: {found.stdout} {found.stderr[-500:]}")
        time.sleep(1.0)


def kill_node(node: subprocess.Popen) -> None:
    """The node dies as a machine does: every process of it at once, nothing told."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    node.wait(timeout=30)


@contextlib.contextmanager
def ray_cluster(cpus_per_node: int = 1):
    """Yield ``(address, environment, nodes)``: the head's address, the environment (token
    included) a driver needs to join, and the two nodes' processes (head first, for
    :func:`kill_node`); both nodes are stopped afterwards."""
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths must stay short
    environment = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                   "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    address = f"{HEAD}:{port}"
    common = ["--block", "--num-cpus", str(cpus_per_node), "--object-store-memory", str(100 * 2**20),
              "--disable-usage-stats"]
    nodes = []
    try:
        nodes.append(subprocess.Popen(
            [_ray(), "start", "--head", "--node-ip-address", HEAD, "--port", str(port), "--include-dashboard",
             "false", "--temp-dir", str(temp), *common], env=environment, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 1, environment)
        nodes.append(subprocess.Popen(
            [_ray(), "start", "--address", address, "--node-ip-address", SECOND, *common], env=environment,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 2, environment)
        yield address, environment, nodes
    finally:
        for node in reversed(nodes):
            if node.poll() is None:
                _stop(node)
        shutil.rmtree(temp, ignore_errors=True)
