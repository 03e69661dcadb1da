"""Database engines and migrations for the job store (SQLite by default, PostgreSQL when distributed)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: How long a SQLite writer waits for the lock before failing (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 64 * 1024
#: Execution option marking a connection that only reads (see ``make_engine``).
READ_ONLY = "cinefuse_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database:
        raise ValueError("in-memory SQLite cannot be shared between API and workers; give a file path")
    return database


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level, so SQLAlchemy's "begin" below decides how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit is fsynced before we acknowledge a task (durable, not just crash-safe).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # No checkpoint inside a committing transaction: it would fsync the main file on the
    # acknowledgement path. ``Checkpointer`` does it in the background instead.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    # The (key, taskUUID) index takes random inserts: keep its pages in memory.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str) -> Engine:
    """An engine with the pragmas and transaction mode the job store relies on. JSON
    columns go through orjson: the stored task is serialised on every submission."""
    json = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        Path(sqlite_path(url)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **json
        )
        event.listen(engine, "connect", _configure_sqlite)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the lock up front: claim/fence checks read then write, and a
            # deferred transaction could be upgraded too late and fail with SQLITE_BUSY.
            # Reads (marked READ_ONLY) must not queue behind writers: a plain BEGIN.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **json)


#: The PostgreSQL advisory lock key that serialises migrations (any constant both sides agree on).
MIGRATION_LOCK = 0x63696E6566757365  # "cinefuse"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe at every start).

    On PostgreSQL every API server and worker of a fleet runs this at start, often at the
    same moment: the upgrade runs under a transaction-scoped advisory lock, so the first
    process migrates and the others wait for its commit, then find the schema at head.
    (PostgreSQL's DDL is transactional: a failed upgrade leaves nothing half done.)
    SQLite serialises writers by itself.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


#: Seconds between background WAL checkpoints.
CHECKPOINT_INTERVAL = 0.25
#: Past this size, a checkpoint is completed with the writers paused, so the WAL is reused.
WAL_RESET_BYTES = 16 * 1024 * 1024


class Checkpointer:
    """Copies the SQLite WAL back into the database file from a background thread.

    PASSIVE checkpoints never block writers, so commits (and therefore acknowledgements)
    keep a flat latency. But while writers keep appending, a checkpoint rarely
    *completes*, and only after a complete one can SQLite start the WAL file over. So
    once the WAL passes ``WAL_RESET_BYTES``, the checkpointer takes ``pause`` (the lock
    this process's writer holds per batch) and runs one more PASSIVE checkpoint: the
    previous one already copied nearly everything, so writers wait only for the rest.
    """

    def __init__(
        self,
        url: str,
        interval: float = CHECKPOINT_INTERVAL,
        pause: threading.Lock | None = None,
        wal_reset_bytes: int = WAL_RESET_BYTES,
    ) -> None:
        self.path = sqlite_path(url)
        self.interval = interval
        self.pause = pause
        self.wal_reset_bytes = wal_reset_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cinefuse-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except FileNotFoundError:
            return 0

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if self.pause is not None and self.wal_bytes() > self.wal_reset_bytes:
                        with self.pause:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
