"""A real PostgreSQL server from Debian's packages, on loopback, for the shared-storage tests.

Each server lives in its own temporary cluster directory and is stopped and removed
afterwards. ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

POSTGRES_HINT = ("the shared-storage tests need Debian's postgresql server and the psycopg driver: "
                 "apt-get install -y postgresql && pip install -e \".[dev]\" (see the README's test command)")


def postgres_binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def postgres_available() -> bool:
    import importlib.util

    binaries = all(postgres_binary(name) for name in ("initdb", "pg_ctl", "createdb"))
    return binaries and importlib.util.find_spec("psycopg") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server():
    """Yield the URL of an empty database on a fresh server at 127.0.0.1."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    cluster = Path(tempfile.mkdtemp(prefix="pg-cluster-"))  # under /tmp: the postgres user can reach it
    if as_root:
        shutil.chown(cluster, "postgres")
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    data = cluster / "data"
    try:
        run(postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(postgres_binary("pg_ctl"), "-D", str(data), "-w", "-l", str(cluster / "log"), "-o",
            f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        run(postgres_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "study")
        yield f"postgresql://postgres@127.0.0.1:{port}/study"
    finally:
        subprocess.run([*prefix, postgres_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(cluster, ignore_errors=True)
