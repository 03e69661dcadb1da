"""Task lifecycle on the API side: create, look up, cancel.

``create`` is the one way a videoInference task enters the system: the job row and its
result rows are written durably through the group-commit writer, and only then is the job
dispatched (and the task acknowledged by the caller). Input images are settled before
(``engine.inputs``), so a job row names images by UUID or URL only.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Callable

from cinefuse.errors import ConflictTaskUUID, TaskNotFound
from cinefuse.jobs.dispatch import Dispatcher
from cinefuse.jobs.models import JobStatus, JobView, NewJob, NewResult
from cinefuse.jobs.store import JobStore
from cinefuse.jobs.writer import BatchWriter, queue_full
from cinefuse.schemas.tasks import VideoInferenceTask

CANCELLED_BY_CLIENT = "Task cancelled by the client."


def new_job_id() -> str:
    """32 hex chars, time-ordered (ns clock, then random): new rows append at the end of
    the primary-key B-tree instead of dirtying a random page on every insert."""
    return f"{time.time_ns():016x}{secrets.randbits(64):016x}"


class JobService:
    def __init__(
        self,
        store: JobStore,
        writer: BatchWriter,
        dispatcher: Dispatcher,
        *,
        queue_limit: int,
        max_attempts: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.writer = writer
        self.dispatcher = dispatcher
        self.queue_limit = queue_limit
        self.max_attempts = max_attempts
        self.clock = clock
        # The queue cap. On SQLite (one server) queued jobs per key are counted here:
        # refreshed from the store by ``refresh_queue_counts`` (workers in other processes
        # drain the queue), bumped locally on every accepted task. On PostgreSQL, where
        # several API servers share the store, the writer's transaction counts them instead
        # (``JobRepository.admit``), so the cap holds across servers.
        self.shared_queue = store.jobs.sqlite is None
        if self.shared_queue:
            writer.queue_limit = queue_limit
        self._queued: dict[int, int] = {}
        self._lock = threading.Lock()

    def refresh_queue_counts(self) -> None:
        if self.shared_queue:
            return
        counts = self.store.jobs.queued_counts()
        with self._lock:
            self._queued = counts

    def check_capacity(self, key_id: int) -> None:
        """Raise ``QueueFull`` when this key already has ``queue_limit`` tasks queued."""
        if not self.queue_limit:
            return
        queued = self.store.jobs.queued_count(key_id) if self.shared_queue else self._queued.get(key_id, 0)
        if queued >= self.queue_limit:
            raise queue_full(self.queue_limit)

    def _reserve(self, key_id: int) -> None:
        """Count the task before its write is awaited, so concurrent tasks of one body or
        message cannot all pass the limit; ``_unreserve`` when the task is refused."""
        if self.shared_queue:
            return
        with self._lock:
            self.check_capacity(key_id)
            self._queued[key_id] = self._queued.get(key_id, 0) + 1

    def _unreserve(self, key_id: int) -> None:
        if self.shared_queue:
            return
        with self._lock:
            self._queued[key_id] = max(self._queued.get(key_id, 1) - 1, 0)

    async def create(self, key_id: int, task: VideoInferenceTask) -> str:
        """Accept a validated task durably and dispatch it; returns its job id. Raises
        ``QueueFull`` (here, or from the writer on a shared store) or ``ConflictTaskUUID``."""
        self._reserve(key_id)
        job = NewJob(
            id=new_job_id(),
            key_id=key_id,
            task=task,
            results=tuple(NewResult(i, str(uuid.uuid4()), task.result_seed(i)) for i in range(task.number_results)),
            created_at=self.clock(),
            max_attempts=self.max_attempts,
        )
        try:
            inserted = await asyncio.wrap_future(self.writer.submit(job))
        except BaseException:
            self._unreserve(key_id)
            raise
        if not inserted:
            self._unreserve(key_id)
            raise ConflictTaskUUID(f"taskUUID {task.task_uuid} was already used by this API key.", parameter="taskUUID")
        self.dispatcher.dispatch(job.id)
        return job.id

    def find(self, key_id: int, task_uuid: str) -> JobView | None:
        """The task's job and results, or None for a UUID this key never used."""
        return self.store.jobs.view(key_id, task_uuid)

    def view(self, key_id: int, task_uuid: str) -> JobView:
        """The task's job and results; ``TaskNotFound`` for a UUID this key never used."""
        view = self.find(key_id, task_uuid)
        if view is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return view

    def cancel(self, key_id: int, task_uuid: str) -> JobStatus:
        """Cancel the task (docs/api.md, cancelTask); returns the job's status afterwards."""
        status = self.store.jobs.request_cancel(key_id, task_uuid, CANCELLED_BY_CLIENT)
        if status is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return status
