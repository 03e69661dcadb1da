"""Periodic housekeeping: expired leases back to the queue (or failed), expired media and
old uploaded images deleted. Safe to run in several processes at once: each step is one
transaction that skips rows another sweeper holds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cinefuse.jobs.store import JobStore
from cinefuse.metrics import count_failure
from cinefuse.settings import IMAGE_RETENTION_SECONDS
from cinefuse.storage.base import MediaStore

log = logging.getLogger(__name__)

#: Heartbeat rows of processes silent this long are deleted (they died without a word).
WORKER_ROW_RETENTION = 86_400.0


class Sweeper:
    def __init__(
        self,
        store: JobStore,
        media: MediaStore,
        interval: float,
        *,
        image_retention: float = IMAGE_RETENTION_SECONDS,
        on_requeue: Callable[[str], None] | None = None,
        after_sweep: Callable[[], None] | None = None,
        redispatch: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.media = media
        self.interval = interval
        self.image_retention = image_retention
        self.on_requeue = on_requeue
        self.after_sweep = after_sweep
        #: Publishes again the queued jobs whose broker message may be lost (distributed
        #: profile: ``engine.celery_app.CeleryDispatcher.redispatch_lost``); returns how many.
        self.redispatch = redispatch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> dict[str, int]:
        requeued, failed = self.store.leases.requeue_expired()
        for job_id in requeued:
            log.warning("job %s: lease expired, requeued", job_id)
            if self.on_requeue:
                self.on_requeue(job_id)
        for job_id in failed:
            log.warning("job %s: lease expired, attempts spent: ended", job_id)
        count_failure("inferenceError", len(failed))
        redispatched = self.redispatch() if self.redispatch else 0
        expired = self.store.results.expired_media()
        for _, _, media_key in expired:
            self.media.delete(media_key)
        self.store.results.forget_media([(job_id, idx) for job_id, idx, _ in expired])
        old_images = self.store.images.expired(self.store.clock() - self.image_retention)
        for _, media_key in old_images:
            self.media.delete(media_key)
        self.store.images.delete([u for u, _ in old_images])
        self.store.workers.prune(self.store.clock() - WORKER_ROW_RETENTION)
        if self.after_sweep:
            self.after_sweep()
        return {
            "requeued": len(requeued),
            "failed": len(failed),
            "redispatched": redispatched,
            "media": len(expired),
            "images": len(old_images),
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cinefuse-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep_once()
            except Exception:  # a transient DB error must not end housekeeping
                log.exception("sweep failed")
