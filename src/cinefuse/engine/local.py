"""The embedded dispatcher (``jobs.dispatch.Dispatcher``): worker threads polling the job store.

Used in-process by ``cinefuse serve`` and, with no API, by ``cinefuse worker`` in the
embedded profile (several processes may share one SQLite file: claims are atomic).
``dispatch`` only wakes an idle thread early; the store's queue is the truth.
"""

from __future__ import annotations

import logging
import threading

from cinefuse.engine.runner import RunnerContext, run_job

log = logging.getLogger(__name__)

#: How often idle workers look for queued jobs they were not told about.
POLL_INTERVAL = 0.5


class LocalWorkerPool:
    def __init__(self, ctx: RunnerContext, workers: int, poll_interval: float = POLL_INTERVAL) -> None:
        self.ctx = ctx
        self.workers = workers
        self.poll_interval = poll_interval
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        ctx.stopping = self._stopping.is_set

    def dispatch(self, job_id: str) -> None:
        with self._wake:
            self._wake.notify()

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"cinefuse-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; running ones give their lease back at their next step."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            ran = False
            try:
                for job_id in self.ctx.store.leases.next_queued(limit=self.workers):
                    if self._stopping.is_set():
                        return
                    if run_job(self.ctx, job_id) is not None:
                        ran = True
                        break  # look at the queue afresh: oldest first
            except Exception:  # the store is unreachable: keep the thread alive and retry
                log.exception("worker loop error")
            if not ran:
                with self._wake:
                    # A stop that came while this thread was running a job (which it gave
                    # back) notified no one: waiting now would add a poll interval to it.
                    if not self._stopping.is_set():
                        self._wake.wait(self.poll_interval)
