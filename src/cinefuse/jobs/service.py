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

from cinefuse.errors import ConflictTaskUUID, QueueFull, TaskNotFound
from cinefuse.jobs.dispatch import Dispatcher
from cinefuse.jobs.models import JobStatus, JobView, NewJob, NewResult
from cinefuse.jobs.store import JobStore
from cinefuse.jobs.writer import BatchWriter
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
        # Queued jobs per key: refreshed from the store by ``refresh_queue_counts`` (workers
        # in other processes drain the queue), bumped locally on every accepted task.
        self._queued: dict[int, int] = {}
        self._lock = threading.Lock()

    def refresh_queue_counts(self) -> None:
        counts = self.store.jobs.queued_counts()
        with self._lock:
            self._queued = counts

    def check_capacity(self, key_id: int) -> None:
        """Raise ``QueueFull`` when this key already has ``queue_limit`` tasks queued."""
        if self.queue_limit and self._queued.get(key_id, 0) >= self.queue_limit:
            raise QueueFull(f"Too many queued tasks for this API key (limit {self.queue_limit}).")

    async def create(self, key_id: int, task: VideoInferenceTask) -> str:
        """Accept a validated task durably and dispatch it; returns its job id. Raises
        ``QueueFull`` or ``ConflictTaskUUID``."""
        self.check_capacity(key_id)
        job = NewJob(
            id=new_job_id(),
            key_id=key_id,
            task=task,
            results=tuple(NewResult(i, str(uuid.uuid4()), task.result_seed(i)) for i in range(task.number_results)),
            created_at=self.clock(),
            max_attempts=self.max_attempts,
        )
        if not await asyncio.wrap_future(self.writer.submit(job)):
            raise ConflictTaskUUID(f"taskUUID {task.task_uuid} was already used by this API key.", parameter="taskUUID")
        with self._lock:
            self._queued[key_id] = self._queued.get(key_id, 0) + 1
        self.dispatcher.dispatch(job.id)
        return job.id

    def view(self, key_id: int, task_uuid: str) -> JobView:
        """The task's job and results; ``TaskNotFound`` for a UUID this key never used."""
        view = self.store.jobs.view(key_id, task_uuid)
        if view is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return view

    def cancel(self, key_id: int, task_uuid: str) -> JobStatus:
        """Cancel the task (docs/api.md, cancelTask); returns the job's status afterwards."""
        status = self.store.jobs.request_cancel(key_id, task_uuid, CANCELLED_BY_CLIENT)
        if status is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return status
