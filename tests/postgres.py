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


class PostgresServer:
    """A server in its own cluster directory, which a test may stop and start again (as a
    managed database restarts or fails over) on the same port."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0
        self.cluster = Path(tempfile.mkdtemp(prefix="pg-cluster-"))  # under /tmp: the postgres user can reach it
        if self.as_root:
            shutil.chown(self.cluster, "postgres")
        self.data, self.port = self.cluster / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/study"

    def _run(self, *command: str, check: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *command], check=check, capture_output=True, timeout=120)

    def create(self) -> None:
        self._run(postgres_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run(postgres_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "study")

    def start(self) -> None:
        self._run(postgres_binary("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.cluster / "log"), "-o",
                  f"-p {self.port} -k {self.cluster} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: what a managed database's restart does (sessions are ended, transactions
        rolled back); ``immediate``: a crash."""
        self._run(postgres_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.cluster, ignore_errors=True)


@contextmanager
def postgres_server():
    """Yield a :class:`PostgresServer` with an empty database ``study`` at 127.0.0.1 (its ``url``)."""
    server = PostgresServer()
    try:
        server.create()
        yield server
    finally:
        server.remove()
