"""Group commit: many concurrent submissions share one durable transaction.

The API must not acknowledge a task before its row is on disk (fsynced). One
transaction per request would cap throughput at the disk's fsync rate; instead a
single writer thread drains every submission waiting at that moment into one
transaction, then resolves each caller's future. Latency stays one commit; the
fsync cost is shared by the batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from cinefuse.errors import QueueFull
from cinefuse.jobs.models import NewJob
from cinefuse.jobs.store.jobs import JobRepository

log = logging.getLogger(__name__)

#: Upper bound on one transaction, so one huge burst cannot starve the next.
MAX_BATCH = 512
_STOP = object()


def queue_full(limit: int) -> QueueFull:
    return QueueFull(f"Too many queued tasks for this API key (limit {limit}).")


class BatchWriter:
    """See the module docstring. ``lock`` is held while a batch is written: the WAL
    checkpointer takes it for a moment to complete a checkpoint (``jobs.db.Checkpointer``).

    With a ``queue_limit`` the batch's transaction also enforces each key's queue cap
    (``JobRepository.admit``): a job over it fails its caller with ``QueueFull``."""

    def __init__(self, repo: JobRepository, queue_limit: int = 0) -> None:
        self._repo = repo
        self.queue_limit = queue_limit
        self.lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="cinefuse-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: NewJob) -> Future[bool]:
        """Queue ``job`` for insertion; the future resolves to False on a taskUUID conflict.
        Jobs submitted before ``start`` wait for it."""
        future: Future[bool] = Future()
        self._queue.put((job, future))
        return future

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._write(batch)  # type: ignore[arg-type]
                    return
                batch.append(nxt)
            self._write(batch)  # type: ignore[arg-type]

    def _write(self, batch: list[tuple[NewJob, Future[bool]]]) -> None:
        try:
            with self.lock:
                outcomes = self._repo.admit([job for job, _ in batch], self.queue_limit)
        except Exception as exc:  # the database is down or full: fail these callers, keep serving
            log.exception("job insert failed for a batch of %d", len(batch))
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), admission in zip(batch, outcomes, strict=True):
            if admission == "queue_full":
                future.set_exception(queue_full(self.queue_limit))
            else:
                future.set_result(admission == "inserted")
