"""Shared fixtures: a fresh SQLite job store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.repository import JobRepository


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


@pytest.fixture
def repo(tmp_path: Path, clock: FakeClock) -> Iterator[JobRepository]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield JobRepository(engine, clock=clock)
    engine.dispose()
