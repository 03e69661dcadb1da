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
import time
from concurrent.futures import Future

from cinefuse.jobs.models import NewJob
from cinefuse.jobs.repository import JobRepository

log = logging.getLogger(__name__)

#: Upper bound on one transaction, so one huge burst cannot starve the next.
MAX_BATCH = 512
_STOP = object()


#: How often the writer looks at the WAL's size (seconds), and the size past which it
#: completes a checkpoint itself between two batches, so the WAL file is reused.
WAL_CHECK_EVERY = 1.0
WAL_RESET_BYTES = 32 * 1024 * 1024


class BatchWriter:
    """See the module docstring.

    On SQLite, ``jobs.db.Checkpointer`` copies the WAL back in the background without
    blocking commits; but while this writer keeps appending, those checkpoints rarely
    *complete*, and the WAL can only be reused after a complete one. So once the WAL
    passes ``WAL_RESET_BYTES`` the writer runs one itself between two batches: the
    background thread has already copied nearly everything, so the pause is short.
    """

    def __init__(self, repo: JobRepository) -> None:
        self._repo = repo
        self._last_checkpoint = time.monotonic()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="cinefuse-writer", daemon=True)
        self._thread.start()

    def submit(self, job: NewJob) -> Future[bool]:
        """Queue ``job`` for insertion; the future resolves to False on a taskUUID conflict."""
        future: Future[bool] = Future()
        self._queue.put((job, future))
        return future

    def close(self) -> None:
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
            outcomes = self._repo.insert_jobs([job for job, _ in batch])
        except Exception as exc:  # the database is down or full: fail these callers, keep serving
            log.exception("job insert failed for a batch of %d", len(batch))
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), ok in zip(batch, outcomes, strict=True):
            future.set_result(ok)
        if time.monotonic() - self._last_checkpoint >= WAL_CHECK_EVERY:
            self._last_checkpoint = time.monotonic()
            try:
                if self._repo.wal_bytes() > WAL_RESET_BYTES:
                    self._repo.checkpoint()
            except Exception:  # a failed checkpoint is retried next time; writes are unaffected
                log.exception("WAL checkpoint failed")
