"""Where a study lives: ``--storage`` URLs checked before any work and opened for Optuna.

* ``sqlite:///PATH`` (the default, ``study.db`` in the run directory): one machine.
* ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``mysql://...``): several processes or
  machines on one study. PostgreSQL goes through psycopg 3 (``pip install -e ".[postgres]"``);
  a plain ``postgresql://`` URL is read as ``postgresql+psycopg://`` when only psycopg 3 is
  installed, since SQLAlchemy's own default driver is psycopg2.
* ``journal:///PATH``: Optuna's ``JournalStorage`` in an append-only file, for shared or
  network file systems where SQLite's locks fail (NFS); every process appends to one log.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from pathlib import Path

import optuna

from infra.errors import UsageError

JOURNAL_SCHEME = "journal:///"
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def database_url(url: str) -> str:
    """``url`` with the PostgreSQL driver this machine has (see the module docstring)."""
    missing_psycopg2 = importlib.util.find_spec("psycopg2") is None
    if url.startswith("postgresql://") and missing_psycopg2 and importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


HEARTBEAT_S = 60  # how often a running trial on a database server says it is alive
STALE_AFTER_S = 600  # silent this long: its machine is gone; the trial is failed and retried
SCHEMA_ATTEMPTS = 5


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage behind ``url`` (checked with :func:`check_storage_url` first).

    On a database server, trials send Optuna's heartbeat, so a trial whose machine died
    (which no command on another machine can tell from a slow one) is failed after
    :data:`STALE_AFTER_S` seconds of silence and its parameters are queued again
    (``RetryFailedTrialCallback``); a trial of this machine is settled sooner, by its owner
    process's absence (``runners.search.optuna_backend.abandoned``).
    """
    if url.startswith(JOURNAL_SCHEME):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(journal_path(url))))
    import sqlalchemy

    url = database_url(url)
    server = not url.startswith("sqlite")
    attempt = 1
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are, since 2.x
                heartbeat = dict(heartbeat_interval=HEARTBEAT_S, grace_period=STALE_AFTER_S,
                                 heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                                     max_retry=2)) if server else {}
                return optuna.storages.RDBStorage(url, **heartbeat)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Commands started together on a new database race to create its tables; the
            # loser finds them there when it tries again.
            if attempt == SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
            attempt += 1


def journal_path(url: str) -> Path:
    return Path("/" + url[len(JOURNAL_SCHEME):].lstrip("/"))


STUDY_NAME_LIMIT = 200  # well inside every storage's column for it (Optuna's RDB schema: 512)


def parse_study_name(text: str) -> str:
    """A ``--study-name``: printable ASCII, 1 to :data:`STUDY_NAME_LIMIT` characters."""
    if not (0 < len(text) <= STUDY_NAME_LIMIT and text.isascii() and text.isprintable() and text.strip() == text):
        raise ValueError(f"expected a study name of 1 to {STUDY_NAME_LIMIT} printable ASCII characters without "
                         f"leading or trailing spaces, got {text[:60]!r}")
    return text


def check_storage_url(url: str) -> None:
    """One line when ``--storage`` cannot be used here (an unknown scheme, a missing driver,
    a file path that cannot hold a database, a database server that does not answer),
    before any run directory or study exists."""
    if url.startswith(JOURNAL_SCHEME):
        _check_file(url, journal_path(url), magic=None)
        return
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        engine = sqlalchemy.create_engine(database_url(url))  # resolves the dialect and imports its driver
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise UsageError(f"--storage {url}: not a database URL SQLAlchemy can use, nor {JOURNAL_SCHEME}PATH "
                         f"({str(error).splitlines()[0]})") from None
    except ImportError as error:
        extra = ' (pip install -e ".[postgres]")' if url.startswith("postgresql") else ""
        raise UsageError(f"--storage {url}: its database driver is not installed ({error.name or error}){extra}") from None
    try:
        if engine.url.get_backend_name() == "sqlite":
            if engine.url.database not in (None, "", ":memory:"):
                _check_file(url, Path(engine.url.database), magic=SQLITE_MAGIC)
            return
        with engine.connect():
            pass
    except sqlalchemy.exc.DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__
        raise UsageError(f"--storage {url}: cannot connect to the database ({reason})") from None
    finally:
        engine.dispose()


def _check_file(url: str, path: Path, magic: bytes | None) -> None:
    """A storage file is created on first use: its folder must exist, and a file already
    there must be of the right kind (an empty file is one the storage will initialise)."""
    if path.is_dir():
        raise UsageError(f"--storage {url}: {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise UsageError(f"--storage {url}: directory {path.parent} does not exist")
    if magic is not None and path.is_file():
        with path.open("rb") as file:
            head = file.read(len(magic))
        if head and head != magic:
            raise UsageError(f"--storage {url}: {path} exists and is not a SQLite database")


__all__ = ["JOURNAL_SCHEME", "check_storage_url", "database_url", "open_storage", "parse_study_name"]
