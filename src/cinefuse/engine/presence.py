"""Heartbeats of worker, deliverer and sweeper processes (the ``workers`` table): how
``/readyz``, ``cinefuse doctor`` and ``/metrics`` know which workers are alive."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

from cinefuse.jobs.store import JobStore

log = logging.getLogger(__name__)

#: A process silent for this many heartbeat intervals counts as gone.
LIVE_INTERVALS = 3


def live_since(now: float, interval: float) -> float:
    """The oldest heartbeat that still counts as alive at ``now``."""
    return now - LIVE_INTERVALS * interval


class Presence:
    """Records the heartbeat of ``owner`` in each of its ``roles`` (``worker``, ``sweeper``,
    ``deliverer``: one row each, ``<owner>/<role>``) every ``interval`` seconds from a
    background thread, and takes the rows away on a clean stop. A database outage only
    skips beats. ``models``: the model ids a job worker runs (``*``: any, polling the store)."""

    def __init__(
        self, store: JobStore, owner: str, roles: Sequence[str], models: Sequence[str], interval: float
    ) -> None:
        self.store = store
        self.owner = owner
        self.roles = tuple(roles)
        self.models = tuple(models)
        self.interval = interval
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        host, pid = socket.gethostname(), os.getpid()
        for role in self.roles:
            self.store.workers.beat(f"{self.owner}/{role}", role, host, pid, self.models, self.started_at)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cinefuse-presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        try:
            for role in self.roles:
                self.store.workers.forget(f"{self.owner}/{role}")
        except Exception:  # the rows age out instead
            log.warning("could not remove the heartbeat row of %s", self.owner)

    def _loop(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as exc:
                log.warning("heartbeat of %s failed: %s: %s", self.owner, type(exc).__name__, exc)
            if self._stop.wait(self.interval):
                return
