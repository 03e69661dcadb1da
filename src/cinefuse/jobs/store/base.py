"""What every repository of the job store shares: the engine, the clock, read connections.

SQL style: SQLAlchemy Core statements everywhere. Two hot paths run a statement that Core
built on a raw SQLite connection instead (``SqliteFastPath``), because
``bench/bench_api.py`` shows it pays there (see the comments where they are used).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from cinefuse.jobs.db import READ_ONLY, SQLITE_BUSY_TIMEOUT_MS, sqlite_path

Clock = Callable[[], float]


class SqliteFastPath:
    """Runs Core-built statements on one raw ``sqlite3`` connection per thread.

    A pooled SQLAlchemy connection costs a checkout, a ``BEGIN`` and a rollback around
    every statement; for one indexed read that is most of the work. The statement itself
    is still written once, in Core, and compiled here to its SQLite text.
    """

    def __init__(self, engine: Engine) -> None:
        self._file = sqlite_path(str(engine.url))
        self._dialect = engine.dialect
        self._local = threading.local()

    def compile(self, statement: ClauseElement) -> tuple[str, tuple[str, ...]]:
        """The statement's SQLite text and the names of its positional parameters."""
        compiled = cast(SQLCompiler, statement.compile(dialect=self._dialect))
        return compiled.string, tuple(compiled.positiontup or ())

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Autocommit: each SELECT sees the newest committed state (WAL readers never block).
            conn = sqlite3.connect(self._file, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self.connection().execute(sql, params).fetchall()


class Repository:
    """Base of the aggregate repositories: the store's engine, clock and SQLite fast path,
    shared by all of them (``JobStore`` builds each once)."""

    def __init__(self, engine: Engine, clock: Clock = time.time, sqlite: SqliteFastPath | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.sqlite = sqlite

    def reads(self) -> Connection:
        """A connection for reading only: on SQLite it never waits for the write lock."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})
