"""Task lifecycle on the API side: create, look up, cancel.

``create`` is the one way a videoInference task enters the system: inputs are
checked (inline images decoded and stored, image UUIDs verified), the job row and
its result rows are written durably through the group-commit writer, and only
then is the task dispatched and acknowledged.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from cinefuse.engine.dispatcher import Dispatcher
from cinefuse.errors import LoadShed, RequestError, TaskNotFound
from cinefuse.jobs.models import NewJob, NewResult
from cinefuse.jobs.repository import JobRepository
from cinefuse.jobs.writer import BatchWriter
from cinefuse.media.inputs import ImageInputs
from cinefuse.models.registry import get_model
from cinefuse.schemas.results import UrlSigner, job_items
from cinefuse.schemas.tasks import FrameImage, ImageInput, VideoInferenceTask, task_to_record


def new_job_id() -> str:
    """32 hex chars, time-ordered (ns clock, then random): new rows append at the end of
    the primary-key B-tree instead of dirtying a random page on every insert."""
    return f"{time.time_ns():016x}{secrets.randbits(64):016x}"


class JobService:
    def __init__(
        self,
        repo: JobRepository,
        writer: BatchWriter,
        images: ImageInputs,
        dispatcher: Dispatcher,
        sign: UrlSigner,
        *,
        queue_limit: int,
        max_attempts: int,
    ) -> None:
        self.repo = repo
        self.writer = writer
        self.images = images
        self.dispatcher = dispatcher
        self.sign = sign
        self.queue_limit = queue_limit
        self.max_attempts = max_attempts
        # Queued jobs per key: refreshed from the store by ``refresh_queue_counts`` (workers
        # in other processes drain the queue), bumped locally on every accepted task.
        self._queued: dict[int, int] = {}
        self._lock = threading.Lock()

    def refresh_queue_counts(self) -> None:
        counts = self.repo.queued_counts()
        with self._lock:
            self._queued = counts

    async def create(self, key_id: int, task: VideoInferenceTask) -> None:
        """Accept a validated task durably, or raise ``RequestError`` (``conflictTaskUUID``,
        ``invalidImage``, ``queueFull``)."""
        if self.queue_limit and self._queued.get(key_id, 0) >= self.queue_limit:
            raise LoadShed(f"Too many queued tasks for this API key (limit {self.queue_limit}).", code="queueFull")
        if task.frame_images or task.reference_images:
            task = await asyncio.to_thread(self._prepare_images, key_id, task)
        job_id = new_job_id()
        job = NewJob(
            id=job_id,
            key_id=key_id,
            task_uuid=task.task_uuid,
            model=task.model,
            request=task_to_record(task),
            results=tuple(NewResult(i, str(uuid.uuid4()), task.result_seed(i)) for i in range(task.number_results)),
            created_at=time.time(),
            max_attempts=self.max_attempts,
        )
        if not await asyncio.wrap_future(self.writer.submit(job)):
            raise RequestError(
                f"taskUUID {task.task_uuid} was already used by this API key.",
                code="conflictTaskUUID",
                parameter="taskUUID",
            )
        with self._lock:
            self._queued[key_id] = self._queued.get(key_id, 0) + 1
        self.dispatcher.dispatch(job_id)

    def _prepare_images(self, key_id: int, task: VideoInferenceTask) -> VideoInferenceTask:
        """Store inline images (the job keeps their UUIDs), verify UUIDs, and fix the output
        size from the first frame image when it is already known."""
        first_size: tuple[int, int] | None = None
        frames: list[FrameImage] = []
        for i, frame in enumerate(task.frame_images):
            record = self.images.settle(key_id, frame.image.value, frame.image.parameter)
            if record is not None:
                frames.append(FrameImage(ImageInput(record.uuid, frame.image.parameter), frame.position))
                first_size = (record.width, record.height) if i == 0 else first_size
            else:
                frames.append(frame)
        refs = []
        for ref in task.reference_images:
            record = self.images.settle(key_id, ref.value, ref.parameter)
            refs.append(ImageInput(record.uuid, ref.parameter) if record else ref)
        task = replace(task, frame_images=tuple(frames), reference_images=tuple(refs))
        if task.width is None and first_size is not None:
            caps = get_model(task.model)
            assert caps is not None
            width, height = caps.size_for_image(task.resolution, *first_size)
            task = replace(task, width=width, height=height)
        return task

    def response(self, key_id: int, task_uuid: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """getResponse: (data items, error items) for every result of the task."""
        view = self.repo.job_view(key_id, task_uuid)
        if view is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return job_items(task_uuid, view, self.sign)

    def cancel(self, key_id: int, task_uuid: str) -> str:
        status = self.repo.request_cancel(
            key_id, task_uuid, "Task cancelled by the client.", lambda record: record.get("webhook_url")
        )
        if status is None:
            raise TaskNotFound(f"No task {task_uuid} for this API key.", parameter="taskUUID")
        return status
