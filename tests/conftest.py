"""Shared fixtures: a fresh job store per test (SQLite, and PostgreSQL where it runs), and
the tiny neural weights folders (built once per session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

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


def _fresh_postgres() -> str:
    """The test PostgreSQL database, emptied; skips when it cannot be reached."""
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as exc:  # no server, no driver, no rights: all mean "not here"
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}")
    return POSTGRES_URL


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
