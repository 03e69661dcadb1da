"""Shared fixtures: a fresh job store per test (SQLite, and PostgreSQL where it runs), and
the tiny neural weights folders (built once per session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.store import JobStore


class FakeClock:
    """A settable clock: lease expiry is tested by moving time, not by sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


POSTGRES_URL = os.environ.get("CINEFUSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def database_name(base: str) -> str:
    """``base`` made this test process's own: parallel test workers (pytest-xdist), and two
    runs on one machine, share the PostgreSQL server but never a database."""
    return f"{base}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


#: The databases this process created, dropped when the session ends.
_CREATED: set[str] = set()


def fresh_database(name: str) -> str:
    """A new, empty PostgreSQL database ``name`` (made this process's own with
    ``database_name``) on the test server; skips when it cannot be reached."""
    url = make_url(POSTGRES_URL)
    name = database_name(name)
    try:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # no server, no driver, no rights: all mean "not here"
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}")
    _CREATED.add(name)
    return url.set(database=name).render_as_string(hide_password=False)


def _fresh_postgres() -> str:
    """This process's test PostgreSQL database, emptied; skips when it cannot be reached."""
    name = database_name(make_url(POSTGRES_URL).database or "test")
    if name not in _CREATED:
        return fresh_database(make_url(POSTGRES_URL).database or "test")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as exc:  # no server, no driver, no rights: all mean "not here"
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}")
    return url


@pytest.fixture(scope="session", autouse=True)
def _drop_created_databases() -> Iterator[None]:
    yield
    if not _CREATED:
        return
    try:
        admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in sorted(_CREATED):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    except Exception:  # the server went away: leftovers are dropped by the next run's DROP IF EXISTS
        pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def repo(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[JobStore]:
    """A migrated, empty job store: SQLite (embedded profile) and PostgreSQL (distributed)."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else _fresh_postgres()
    engine = make_engine(url)
    migrate(engine)
    yield JobStore(engine, clock=clock)
    engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``late`` run last (in their order): they check work started in the background."""
    late = [item for item in items if item.get_closest_marker("late")]
    if late:
        items[:] = [item for item in items if not item.get_closest_marker("late")] + late


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``CINEFUSE_MODELS_DIR`` with every tiny weights folder and the ``inflate`` LoRA."""
    pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")
    from tests.generation.neural.tiny_weights import build_tiny_models

    root = tmp_path_factory.mktemp("models")
    build_tiny_models(root)
    return root
