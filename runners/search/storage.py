"""Where a study lives: ``--storage`` URLs checked before any work and opened for Optuna.

* ``sqlite:///PATH`` (the default, ``study.db`` in the run directory): one machine.
* ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``mysql://...``): several processes or
  machines on one study. PostgreSQL goes through psycopg 3 (``pip install -e ".[postgres]"``);
  a plain ``postgresql://`` URL is read as ``postgresql+psycopg://`` when only psycopg 3 is
  installed, since SQLAlchemy's own default driver is psycopg2.
* ``journal:///PATH``: Optuna's ``JournalStorage`` in an append-only file, for shared or
  network file systems where SQLite's locks fail (NFS); every process appends to one log.

A database server may go away for a while (a restart, a failover, a network cut): every call
of the search to it is retried with backoff for up to ``--storage-patience`` seconds
(:class:`PatientStorage`), so an outage shorter than that costs only the wait and no trial.
A longer one stops the command with one line (:class:`StorageOutage`, exit 1); the trials it
left running are recorded ``INTERRUPTED`` and rerun by the same command, never recorded as
the candidates' failures.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat

from infra.errors import InfrastructureFault, UsageError
from infra.files import FULL, causes, disk_full

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
# A managed database restarts or fails over in seconds to tens of seconds; a minute rides
# through those and still ends a run whose database is really gone within a minute.
STORAGE_PATIENCE_S = 60.0
FIRST_RETRY_S, LONGEST_RETRY_S = 0.5, 8.0  # backoff between attempts during an outage


class StorageOutage(InfrastructureFault):
    """The database server did not answer for ``--storage-patience`` seconds."""


def storage_outage(url: str, what: str, patience_s: float) -> StorageOutage:
    """The one line of an outage of the database at ``url`` (shown without its password)."""
    import sqlalchemy

    where = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    return StorageOutage(f"the study's database {where} {what} (--storage-patience {patience_s:g}); finished "
                         "trials are saved: rerun the same command once it is back")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` is a lost or refused connection to the database server (or a
    transaction it rolled back: a deadlock, a serialisation failure), which a later attempt
    may not meet, rather than an error of the query itself. Optuna wraps SQLAlchemy's errors
    in its own, so the chain of causes is searched."""
    import sqlalchemy

    return any(isinstance(seen, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError))
               or (isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated)
               for seen in causes(error))


def infrastructure_fault(error: BaseException, url: str) -> InfrastructureFault | None:
    """The fault of the infrastructure behind ``error``, wherever in its chain of causes
    (Optuna wraps storage errors, and its clean-up after one can fail in turn): an outage
    past the patience, or a full disk under the run's files or the study at ``url``
    (SQLite says "database or disk is full"); None for anything else."""
    import sqlite3

    for seen in causes(error):
        if isinstance(seen, InfrastructureFault):
            return seen
        if isinstance(seen, OSError) and seen.errno in FULL:
            return disk_full(Path(seen.filename or "."), None)
        if isinstance(seen, sqlite3.OperationalError) and "full" in str(seen):
            return disk_full(Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else Path("."), None)
    return None


class Backoff:
    """The waits between attempts of one call during an outage: exponential pauses (from
    :data:`FIRST_RETRY_S` to :data:`LONGEST_RETRY_S`) until the outage has lasted ``patience_s``."""

    def __init__(self, patience_s: float):
        self.patience_s, self.retried = patience_s, False
        self._deadline: float | None = None
        self._pause = FIRST_RETRY_S

    def wait(self) -> bool:
        """Sleep before the next attempt; False (at once) when the patience is spent."""
        now = time.monotonic()
        self._deadline = self._deadline or now + self.patience_s
        if now >= self._deadline:
            return False
        time.sleep(min(self._pause, self._deadline - now))
        self._pause, self.retried = min(2 * self._pause, LONGEST_RETRY_S), True
        return True


class PatientStorage(BaseStorage, BaseHeartbeat):
    """An Optuna storage on a database server whose every call rides through an outage.

    Each call is retried with :class:`Backoff` while it fails for :func:`is_outage`; once an outage has lasted
    ``patience_s`` it raises :class:`StorageOutage`, and so does every later call at once:
    the command is stopping, and Optuna's own clean-up must not wait a second time.

    A call whose transaction committed just before the connection dropped is sent again; for
    a trial's final state that second attempt finds the trial finished with the state it
    was sending, which is success. A trial created twice this way would be a duplicate
    ``RUNNING`` trial, settled as interrupted on the next resume.
    """

    def __init__(self, storage: optuna.storages.RDBStorage, url: str, patience_s: float):
        self._storage, self._patience_s = storage, patience_s
        self._url = url
        self._given_up = False

    def _call(self, name: str, *args, **kwargs):
        if self._given_up:
            raise self._outage("is unreachable")
        backoff = Backoff(self._patience_s)
        while True:
            try:
                return getattr(self._storage, name)(*args, **kwargs)
            except optuna.exceptions.UpdateFinishedTrialError:
                if backoff.retried and name == "set_trial_state_values" and self._already_told(*args, **kwargs):
                    return True
                raise
            except Exception as error:
                if not is_outage(error):
                    raise
                if not backoff.wait():
                    self._given_up = True
                    raise self._outage(f"did not answer for {self._patience_s:g} s") from None

    def _already_told(self, trial_id: int, state, values=None) -> bool:
        trial = self._storage.get_trial(trial_id)
        return trial.state == state and (values is None or list(trial.values or []) == list(values))

    def _outage(self, what: str) -> StorageOutage:
        return storage_outage(self._url, what, self._patience_s)

    def record_heartbeat(self, trial_id: int) -> None:
        """Optuna beats from a thread of its own: a beat missed during an outage is harmless
        (the trial's thread meets the outage too), an exception there would be a traceback."""
        try:
            self._call("record_heartbeat", trial_id)
        except StorageOutage:
            pass

    def get_heartbeat_interval(self) -> int | None:
        return self._storage.get_heartbeat_interval()

    def get_failed_trial_callback(self):
        return self._storage.get_failed_trial_callback()

    def get_heartbeat_stale_trial_callback(self):
        return self._storage.get_heartbeat_stale_trial_callback()

    def remove_session(self) -> None:
        self._storage.remove_session()


def _patient(name: str):
    def call(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)
    call.__name__ = name
    return call


# Every other call of BaseStorage and BaseHeartbeat goes to the server, so each is patient.
for _name in [*BaseStorage.__abstractmethods__, "get_all_trials", "get_n_trials", "get_best_trial",
              "get_trial_id_from_study_id_trial_number", "get_trial_number_from_id", "get_trial_params",
              "get_trial_param", "get_trial_user_attrs", "get_trial_system_attrs", "check_trial_is_updatable",
              "_get_stale_trial_ids"]:
    setattr(PatientStorage, _name, _patient(_name))
PatientStorage.__abstractmethods__ = frozenset()


def open_storage(url: str, patience_s: float = STORAGE_PATIENCE_S) -> optuna.storages.BaseStorage:
    """The Optuna storage behind ``url`` (checked with :func:`check_storage_url` first).

    On a database server every call is patient (:class:`PatientStorage`, ``patience_s``),
    and trials send Optuna's heartbeat, so a trial whose machine died
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
    if server:
        for name in ("sqlalchemy", "psycopg"):  # a dropped connection is our one line, not their log's traceback
            logging.getLogger(name).addHandler(logging.NullHandler())
    attempt, backoff = 1, Backoff(patience_s)
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are, since 2.x
                heartbeat = dict(heartbeat_interval=HEARTBEAT_S, grace_period=STALE_AFTER_S,
                                 heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                                     max_retry=2)) if server else {}
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs={"pool_pre_ping": True} if server else None, **heartbeat)
            if not server:
                serialise_sqlite_transactions(storage.engine)
            return PatientStorage(storage, url, patience_s) if server else storage
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Commands started together on a new database race to create its tables; the
            # loser finds them there when it tries again.
            if attempt == SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
            attempt += 1
        except Exception as error:
            if not (server and is_outage(error)):
                raise
            if not backoff.wait():
                raise storage_outage(url, f"did not answer for {patience_s:g} s", patience_s) from None


def serialise_sqlite_transactions(engine) -> None:
    """Make each SQLite transaction take the database's write lock as it begins.

    Python's sqlite3 driver opens a transaction only at the first write, so a read and the
    write that depends on it are not atomic across processes. Optuna pops an enqueued trial
    that way (find a WAITING trial, mark it RUNNING; ``SELECT ... FOR UPDATE`` means nothing
    to SQLite), so two workers resuming a study could both pop the same queued candidate,
    train it twice, and the second one's telling of it then fails. ``BEGIN IMMEDIATE`` at
    the start of every transaction (SQLAlchemy's documented recipe for the pysqlite driver)
    serialises them; a run's few workers wait milliseconds for each other.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _driver_does_not_begin(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_with_the_write_lock(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while Optuna created its tables predate the listeners


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


__all__ = ["JOURNAL_SCHEME", "STORAGE_PATIENCE_S", "PatientStorage", "StorageOutage", "check_storage_url", "database_url",
           "infrastructure_fault", "is_outage", "open_storage", "parse_study_name", "storage_outage"]
