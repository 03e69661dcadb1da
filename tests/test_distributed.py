"""``cinefuse.distributed``: the probes behind ``/readyz`` and ``cinefuse doctor``, and the
``cinefuse worker`` command's roles (the processes themselves run in
tests/integration/test_distributed.py)."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from cinefuse.cli import app
from cinefuse.distributed import probes
from cinefuse.doctor import distributed_checks
from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.store import JobStore
from cinefuse.settings import Settings
from cinefuse.storage.memory import MemoryMediaStore


def store_at(tmp_path: Path) -> JobStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'cinefuse.db'}")
    migrate(engine)
    return JobStore(engine)


def test_probes_name_what_is_up_and_what_is_not(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    settings = Settings(data_dir=tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//", heartbeat_interval=1)
    found = {p.name: p for p in probes(settings, store, MemoryMediaStore())}
    assert list(found) == ["database", "broker", "workers"]  # no bucket: not an S3 store
    assert found["database"].ok and found["database"].required
    assert not found["broker"].ok and found["broker"].required
    assert not found["workers"].ok and not found["workers"].required
    assert "no worker heartbeat in the last 3 s" in found["workers"].detail

    now = time.time()
    store.workers.beat("h:1:a/worker", "worker", "gpu-host-1", 1, ["pixverse:1@3"], now)
    store.workers.beat("h:2:b/sweeper", "sweeper", "gpu-host-1", 2, ["*"], now)
    workers = {p.name: p for p in probes(settings, store, MemoryMediaStore())}["workers"]
    assert workers.ok and workers.detail == "1 live (gpu-host-1), models: pixverse:1@3"


def test_doctor_reports_the_distributed_parts(tmp_path: Path) -> None:
    store_at(tmp_path)
    checks = distributed_checks(Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0"))
    assert [(name, ok) for name, ok, _ in checks] == [("broker", False), ("workers", False)]


def test_worker_refuses_an_unknown_role() -> None:
    result = CliRunner().invoke(app, ["worker", "--role", "everything"])
    assert result.exit_code == 2
    assert "all, jobs, deliverer, sweeper" in result.output
