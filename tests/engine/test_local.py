"""The embedded worker pool stops at once when its job is given back on shutdown."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from cinefuse.engine import local
from cinefuse.engine.local import LocalWorkerPool


def test_a_stop_while_a_job_runs_does_not_wait_out_a_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    running = threading.Event()

    def run_job(ctx: Any, job_id: str) -> None:
        running.set()
        while not ctx.stopping():  # the engine's next step sees the stop: the job is given back
            time.sleep(0.005)

    monkeypatch.setattr(local, "run_job", run_job)
    ctx: Any = SimpleNamespace(store=SimpleNamespace(leases=SimpleNamespace(next_queued=lambda limit: ["job"])))
    pool = LocalWorkerPool(ctx, 1, poll_interval=5.0)
    pool.start()
    assert running.wait(5)
    started = time.monotonic()
    pool.stop(timeout=10)
    took = time.monotonic() - started
    # An older pool went on to wait a whole poll interval: the stop's notify came while it was busy.
    assert took < 1.0, f"stop took {took:.2f} s"
