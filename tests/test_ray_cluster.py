"""``--backend ray --ray-address`` against a real two-node Ray cluster on loopback (see
tests/ray_cluster.py): trials run on both nodes, the run directory is complete, a driver
without the cluster's token gets one line, and a node killed mid-trial costs no trial; the
same for a node lost under ``scaling.fit``'s grid."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from infra.trial_state import TrialState
from runners.search.records import read_records
from tests.datasets import write_npz
from tests.ray_cluster import HEAD, SECOND, kill_node, ray_cluster
from tests.scaling_runs import coefficients_json, evaluations, fit_process, logged_networks

pytestmark = pytest.mark.ray  # a cluster of two nodes: one Ray at a time on the machine

QUICK = ["--epochs", "1", "--max-train-samples", "48", "--max-val-samples", "16", "--quiet", "--startup-trials", "2",
         "--finalists", "0"]


def _search(address: str, environment: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runners.search", "--backend", "ray", "--ray-address", address,
                           *map(str, args)], capture_output=True, text=True, env=environment, timeout=600)


def _trial_nodes(run) -> dict[str, str]:
    """Each Tune trial's node address, from the results Tune's driver logged per trial."""
    nodes = {}
    for result in (run / "ray").glob("tune-*/*/result.json"):
        for line in result.read_text().splitlines():
            report = json.loads(line)
            nodes[report["trial_id"]] = report["node_ip"]
    return nodes


def _training_on(run, node: str) -> bool:
    """Whether a trial on ``node`` has reported an epoch and is not done yet."""
    for result in (run / "ray").glob("tune-*/*/result.json"):
        reports = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        if reports and reports[-1]["node_ip"] == node and not reports[-1].get("done"):
            return True
    return False


def test_a_search_runs_on_both_nodes_of_a_real_cluster(tmp_path):
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    run = tmp_path / "run"
    with ray_cluster() as (address, environment, nodes):
        outcome = _search(address, environment, "--workers", "2", "--trials", "4", "--data", data, *QUICK,
                          "--out", run)
        refused = _search(address, {**environment, "RAY_AUTH_TOKEN": "not-the-token"}, "--data", data, *QUICK,
                          "--out", tmp_path / "refused")
        # The second node dies (every process at once) while a trial trains on it: Tune runs
        # that trial again on the head, and the run records every trial once, none failed.
        killed = tmp_path / "killed"
        longer = write_npz(tmp_path / "longer.npz", n=700, shape=(16, 16))  # epochs long enough to die in
        search = subprocess.Popen([sys.executable, "-m", "runners.search", "--backend", "ray", "--ray-address",
                                   address, "--workers", "2", "--trials", "4", "--data", str(longer), *QUICK,
                                   "--epochs", "10", "--max-train-samples", "600", "--no-pruning", "--out", str(killed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        deadline = time.monotonic() + 300
        while not _training_on(killed, SECOND) and search.poll() is None:
            assert time.monotonic() < deadline, "no trial reached the second node"
            time.sleep(0.2)
        kill_node(nodes[1])
        _, err = search.communicate(timeout=600)
    assert search.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert len(err.strip().splitlines()) <= 2, err[-2000:]  # a line per trial run again, at most
    survived = read_records(killed)
    assert sorted(r.number for r in survived) == [0, 1, 2, 3], survived
    assert all(r.state is TrialState.COMPLETE for r in survived), [r.failure_reason for r in survived]
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    records = read_records(run)
    assert sorted(r.number for r in records) == [0, 1, 2, 3]
    assert all(r.state in (TrialState.COMPLETE, TrialState.PRUNED) for r in records), records
    assert pd.read_csv(run / "results.csv")["number"].tolist() == [0, 1, 2, 3] and (run / "best.yaml").is_file()
    nodes = _trial_nodes(run)
    assert len(nodes) == 4 and set(nodes.values()) == {HEAD, SECOND}, nodes
    print("trials per node:", {node: list(nodes.values()).count(node) for node in (HEAD, SECOND)})

    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1 and "RAY_AUTH_TOKEN" in lines[0], refused.stderr
    assert not (tmp_path / "refused").exists()
    # The cluster is gone: nothing answers at the head's address any more.
    host, port = address.split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0


def test_a_node_lost_under_a_scaling_grid_costs_no_network_and_changes_no_result(tmp_path):
    """``scaling.fit --backend ray`` on the two-node cluster (one CPU each, so each node trains
    one network at a time); the second node dies once networks are being logged: its task
    runs again on the head, every network is logged once, and the log and the coefficients
    equal those of a sequential run, bit for bit (one thread per network in both)."""
    longer = ("--epochs", "20")  # seconds per network: the node dies with one in flight
    sequential = fit_process(tmp_path, "sequential", *longer)
    assert sequential.wait(timeout=600) == 0, sequential.stderr.read()[-2000:]
    expected, _ = evaluations(tmp_path / "sequential")
    with ray_cluster() as (address, environment, nodes):
        grid = fit_process(tmp_path, "cluster", *longer, "--backend", "ray", "--workers", "2", "--ray-address", address,
                           env=environment)
        deadline = time.monotonic() + 300
        while len(logged_networks(tmp_path / "cluster")) < 2 and grid.poll() is None:
            assert time.monotonic() < deadline, "no network was logged"
            time.sleep(0.2)
        assert grid.poll() is None, "the grid ended before a node could die under it"
        kill_node(nodes[1])
        _, err = grid.communicate(timeout=600)
    assert grid.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert len(err.strip().splitlines()) <= 1, err[-2000:]
    found, lines = evaluations(tmp_path / "cluster")
    assert lines == len(found) == len(expected), "a network was lost or trained twice"
    assert found == expected
    assert coefficients_json(tmp_path / "cluster") == coefficients_json(tmp_path / "sequential")
