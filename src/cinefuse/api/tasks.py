"""The task envelope shared by REST and WebSocket (API.md section 1).

``TaskHandler.handle(raw_tasks, session)`` authenticates, validates each task,
runs the valid ones and returns the ``{"data": [...], "errors": [...]}`` reply plus
the HTTP status REST should use. Errors are per task: other tasks still run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cinefuse.errors import AuthError, CinefuseError, LoadShed, RequestError
from cinefuse.jobs.service import JobService
from cinefuse.keys import KeyRing
from cinefuse.media.inputs import ImageInputs
from cinefuse.schemas.tasks import (
    AuthenticationTask,
    ImageUploadTask,
    PingTask,
    TaskLookup,
    VideoInferenceTask,
    parse_task,
    task_identity,
)
from cinefuse.settings import IMAGE_RETENTION_SECONDS


@dataclass
class Session:
    """Who is talking: set by an authentication task or the Bearer header."""

    key_id: int | None = None
    session_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


#: Sessions remembered for resume (a resumed session past this is simply a new one).
MAX_SESSIONS = 100_000

#: When several tasks fail differently, the REST status names the most telling failure.
_STATUS_PRIORITY = {401: 4, 413: 3, 429: 2, 400: 1}


@dataclass
class Reply:
    data: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def add_error(self, error: CinefuseError, task_type: str | None, task_uuid: str | None) -> None:
        self.errors.append(error.to_wire(task_type, task_uuid))
        if _STATUS_PRIORITY.get(error.http_status, 0) > _STATUS_PRIORITY.get(self.status, 0):
            self.status = error.http_status

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
    def __init__(self, keys: KeyRing, jobs: JobService, images: ImageInputs, *, rate_limit: float = 0.0) -> None:
        self.keys = keys
        self.jobs = jobs
        self.images = images
        self.limiter = TokenBucket(rate_limit) if rate_limit > 0 else None
        # connectionSessionUUID -> key id, for resume; bounded (oldest forgotten first):
        # REST clients that authenticate in the body make a session per request.
        self.sessions: OrderedDict[str, int] = OrderedDict()

    def authenticate(self, task: AuthenticationTask, session: Session) -> dict[str, Any]:
        """Bind the session to the task's key, or raise ``AuthError``."""
        if not task.api_key:
            raise AuthError("Missing apiKey in the authentication task.", code="missingApiKey", parameter="apiKey")
        key_id = self.keys.key_id(task.api_key)
        if key_id is None:
            raise AuthError("Invalid API key.", code="invalidApiKey", parameter="apiKey")
        resumed = task.connection_session_uuid
        if resumed and self.sessions.get(resumed) == key_id:
            session.session_uuid = resumed
        session.key_id = key_id
        self.sessions[session.session_uuid] = key_id
        self.sessions.move_to_end(session.session_uuid)
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return {"taskType": "authentication", "connectionSessionUUID": session.session_uuid}

    async def handle(self, raw_tasks: Any, session: Session) -> Reply:
        """Answer one message/body. Authentication and pings are handled in order, as
        they come; the other tasks then run concurrently; replies keep the tasks' order."""
        reply = Reply()
        if not isinstance(raw_tasks, list) or not raw_tasks:
            error = RequestError("The body must be a non-empty JSON array of task objects.", code="invalidPayload")
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
                        raise AuthError("Missing API key: authenticate first.", code="missingApiKey")
                    if self.limiter and not self.limiter.allow(session.key_id):
                        raise LoadShed("Rate limit exceeded for this API key.", code="rateLimitExceeded")
                    if isinstance(task, TaskLookup) and task.task_type == "getResponse":
                        # The polling hot path: one indexed read, answered without a task switch.
                        outcomes.append((task_type, task_uuid, *self.jobs.response(session.key_id, task.task_uuid)))
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

    async def _run(self, task: Any, key_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Run one authenticated task: (data items, error items)."""
        if isinstance(task, VideoInferenceTask):
            await self.jobs.create(key_id, task)
            return [{"taskType": "videoInference", "taskUUID": task.task_uuid}], []
        if isinstance(task, ImageUploadTask):
            stored = await asyncio.to_thread(self.images.store_image, key_id, task.image, "image")
            url = self.images.store.signed_url(stored.record.media_key, int(time.time() + IMAGE_RETENTION_SECONDS))
            item = {
                "taskType": "imageUpload",
                "taskUUID": task.task_uuid,
                "imageUUID": stored.record.uuid,
                "imageURL": url,
            }
            return [item], []
        assert isinstance(task, TaskLookup) and task.task_type == "cancelTask"
        status = self.jobs.cancel(key_id, task.task_uuid)
        return [{"taskType": "cancelTask", "taskUUID": task.task_uuid, "status": status}], []
