"""The task envelope shared by REST and WebSocket (docs/api.md, "Transport").

``TaskHandler.handle(raw_tasks, session)`` authenticates, validates each task, runs the
valid ones and returns the ``{"data": [...], "errors": [...]}`` reply plus the HTTP status
REST should use. Errors are per task: other tasks still run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from cinefuse.api.auth import KeyRing, Session, Sessions
from cinefuse.api.errors import STATUS_PRIORITY, http_status
from cinefuse.api.results import UrlSigner, job_items
from cinefuse.engine.inputs import ImageInputs
from cinefuse.errors import (
    CinefuseError,
    InvalidApiKey,
    InvalidPayload,
    MissingApiKey,
    RateLimitExceeded,
    TooManyTasks,
)
from cinefuse.jobs.service import JobService
from cinefuse.schemas.parser import parse_task, task_identity
from cinefuse.schemas.tasks import (
    AuthenticationTask,
    ImageUploadTask,
    PingTask,
    TaskLookup,
    VideoInferenceTask,
)
from cinefuse.settings import DEFAULT_MAX_TASKS_PER_REQUEST, IMAGE_RETENTION_SECONDS

Items = list[dict[str, Any]]


@dataclass
class Reply:
    data: Items = field(default_factory=list)
    errors: Items = field(default_factory=list)
    status: int = 200

    def add_error(self, error: CinefuseError, task_type: str | None, task_uuid: str | None) -> None:
        self.errors.append(error.to_wire(task_type, task_uuid))
        status = http_status(error)
        if STATUS_PRIORITY.get(status, 0) > STATUS_PRIORITY.get(self.status, 0):
            self.status = status

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.data or not self.errors:
            out["data"] = self.data
        if self.errors:
            out["errors"] = self.errors
        return out


class TokenBucket:
    """Per-key request rate limit (``CINEFUSE_RATE_LIMIT``), burst of twice the rate."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._state: dict[int, tuple[float, float]] = {}

    def allow(self, key_id: int) -> bool:
        now = time.monotonic()
        tokens, last = self._state.get(key_id, (2 * self.rate, now))
        tokens = min(2 * self.rate, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._state[key_id] = (tokens, now)
            return False
        self._state[key_id] = (tokens - 1, now)
        return True


class TaskHandler:
    def __init__(
        self,
        keys: KeyRing,
        jobs: JobService,
        inputs: ImageInputs,
        sign: UrlSigner,
        *,
        rate_limit: float = 0.0,
        max_tasks: int = DEFAULT_MAX_TASKS_PER_REQUEST,
    ) -> None:
        self.keys = keys
        self.jobs = jobs
        self.inputs = inputs
        self.sign = sign
        self.limiter = TokenBucket(rate_limit) if rate_limit > 0 else None
        self.max_tasks = max_tasks
        self.sessions = Sessions()

    def authenticate(self, task: AuthenticationTask, session: Session) -> dict[str, Any]:
        """Bind the session to the task's key, or raise ``AuthError``."""
        if not task.api_key:
            raise MissingApiKey("Missing apiKey in the authentication task.", parameter="apiKey")
        key_id = self.keys.key_id(task.api_key)
        if key_id is None:
            raise InvalidApiKey("Invalid API key.", parameter="apiKey")
        self.sessions.bind(session, key_id, task.connection_session_uuid)
        return {"taskType": "authentication", "connectionSessionUUID": session.session_uuid}

    def response(self, key_id: int, task_uuid: str) -> tuple[Items, Items]:
        """getResponse: (data items, error items) for every result of the task."""
        return job_items(task_uuid, self.jobs.view(key_id, task_uuid), self.sign)

    async def handle(self, raw_tasks: Any, session: Session) -> Reply:
        """Answer one message/body. Authentication and pings are handled in order, as
        they come; the other tasks then run concurrently; replies keep the tasks' order."""
        reply = Reply()
        if not isinstance(raw_tasks, list) or not raw_tasks:
            reply.add_error(InvalidPayload("The body must be a non-empty JSON array of task objects."), None, None)
            return reply
        if len(raw_tasks) > self.max_tasks:
            error = TooManyTasks(f"{len(raw_tasks)} tasks in one request; the limit is {self.max_tasks}.")
            reply.add_error(error, None, None)
            return reply
        outcomes: list[Any] = []
        for raw in raw_tasks:
            task_type, task_uuid = task_identity(raw)
            try:
                task = parse_task(raw)
                if isinstance(task, AuthenticationTask):
                    outcomes.append((task_type, task_uuid, [self.authenticate(task, session)], []))
                elif isinstance(task, PingTask):
                    outcomes.append((task_type, task_uuid, [{"taskType": "ping", "pong": True}], []))
                else:
                    if session.key_id is None:
                        raise MissingApiKey("Missing API key: authenticate first.")
                    if self.limiter and not self.limiter.allow(session.key_id):
                        raise RateLimitExceeded("Rate limit exceeded for this API key.")
                    if isinstance(task, TaskLookup) and task.task_type == "getResponse":
                        # The polling hot path: one indexed read, answered without a task switch.
                        outcomes.append((task_type, task_uuid, *self.response(session.key_id, task.task_uuid)))
                    else:
                        outcomes.append((task_type, task_uuid, asyncio.ensure_future(self._run(task, session.key_id))))
            except CinefuseError as error:
                outcomes.append((task_type, task_uuid, error))
        for outcome in outcomes:
            task_type, task_uuid, result = outcome[0], outcome[1], outcome[2]
            try:
                if isinstance(result, CinefuseError):
                    raise result
                data, errors = (await result) if isinstance(result, asyncio.Future) else (result, outcome[3])
                reply.data.extend(data)
                reply.errors.extend(errors)
            except CinefuseError as error:
                reply.add_error(error, task_type, task_uuid)
        return reply

    async def _run(self, task: VideoInferenceTask | ImageUploadTask | TaskLookup, key_id: int) -> tuple[Items, Items]:
        """Run one authenticated task: (data items, error items)."""
        if isinstance(task, VideoInferenceTask):
            if task.frame_images or task.reference_images:
                self.jobs.check_capacity(key_id)  # before storing images for a task refused anyway
                task = await asyncio.to_thread(self.inputs.settle, key_id, task)
            await self.jobs.create(key_id, task)
            return [{"taskType": "videoInference", "taskUUID": task.task_uuid}], []
        if isinstance(task, ImageUploadTask):
            stored = await asyncio.to_thread(self.inputs.store_image, key_id, task.image, "image")
            url = self.sign(stored.record.media_key, int(time.time() + IMAGE_RETENTION_SECONDS))
            item = {
                "taskType": "imageUpload",
                "taskUUID": task.task_uuid,
                "imageUUID": stored.record.uuid,
                "imageURL": url,
            }
            return [item], []
        status = self.jobs.cancel(key_id, task.task_uuid)
        return [{"taskType": "cancelTask", "taskUUID": task.task_uuid, "status": status}], []
