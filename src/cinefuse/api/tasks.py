"""The task envelope shared by REST and WebSocket (docs/api.md, "Transport").

``TaskHandler.handle(raw_tasks, session)`` authenticates, validates each task, runs the
valid ones and returns the ``{"data": [...], "errors": [...]}`` reply plus the HTTP status
REST should use. Errors are per task: other tasks still run.

Work is only done for a caller with a key: before the session is authenticated, a task
other than ``authentication`` or ``ping`` is answered ``missingApiKey`` without even being
parsed, and once its key is revoked, ``invalidApiKey``. A dry run (``?dryRun=1``) validates
every task exactly as usual and answers it, but queues, renders, stores and delivers
nothing (docs/api.md, "Dry runs").
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cinefuse.api.auth import KeyRing, Session, Sessions
from cinefuse.api.errors import STATUS_PRIORITY, http_status
from cinefuse.api.ratelimit import LocalRateLimiter, RateLimiter
from cinefuse.api.results import UrlSigner, job_items
from cinefuse.engine.inputs import ImageInputs
from cinefuse.engine.runner import cost_of
from cinefuse.errors import (
    CinefuseError,
    ConflictTaskUUID,
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

#: The handler yields to the event loop after this many tasks of one request, so a large
#: batch never holds the loop (other sockets, health checks) for long.
YIELD_EVERY = 64
#: Dry-run tasks remembered for getResponse (oldest forgotten first).
MAX_DRY_RUN_TASKS = 10_000
_PUBLIC_TASK_TYPES = ("authentication", "ping")


def is_dry_run(value: str | None) -> bool:
    """The ``dryRun`` query parameter: ``1``/``true``/``yes`` (any case) turns it on."""
    return value is not None and value.strip().lower() in ("1", "true", "yes")


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
        prices: dict[str, float] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.prices = prices or {}
        self.keys = keys
        self.jobs = jobs
        self.inputs = inputs
        self.sign = sign
        # ``limiter``: one shared by the fleet's servers (api/ratelimit.py); else this process's.
        self.limiter = limiter or (LocalRateLimiter(rate_limit) if rate_limit > 0 else None)
        self.max_tasks = max_tasks
        self.sessions = Sessions()
        # (key id, taskUUID) -> the getResponse items of a dry-run videoInference.
        self.dry_runs: OrderedDict[tuple[int, str], Items] = OrderedDict()

    def authenticate(self, task: AuthenticationTask, session: Session) -> dict[str, Any]:
        """Bind the session to the task's key, or raise ``AuthError``. An absent key is
        missing; an empty or blank one is invalid (the JavaScript SDK treats only
        ``invalidApiKey`` as final: anything else makes it reconnect for a minute)."""
        if task.api_key is None:
            raise MissingApiKey("Missing apiKey in the authentication task.", parameter="apiKey")
        key_id = self.keys.key_id(task.api_key.strip())
        if key_id is None:
            raise InvalidApiKey("Invalid API key.", parameter="apiKey")
        self.sessions.bind(session, key_id, task.connection_session_uuid)
        return {"taskType": "authentication", "connectionSessionUUID": session.session_uuid}

    def _check_key(self, session: Session) -> None:
        """Refuse work to a session without a key, or whose key was revoked since it
        authenticated (a WebSocket outlives a refresh of the keys)."""
        if session.key_id is None:
            raise MissingApiKey("Missing API key: authenticate first.")
        if not self.keys.is_active(session.key_id):
            raise InvalidApiKey("API key revoked.")

    def response(self, key_id: int, task_uuid: str) -> tuple[Items, Items]:
        """getResponse: (data items, error items) for every result of the task."""
        return job_items(task_uuid, self.jobs.view(key_id, task_uuid), self.sign)

    async def handle(self, raw_tasks: Any, session: Session, *, dry_run: bool = False) -> Reply:
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
        for count, raw in enumerate(raw_tasks, 1):
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            task_type, task_uuid = task_identity(raw)
            try:
                if task_type not in _PUBLIC_TASK_TYPES:
                    self._check_key(session)
                task = parse_task(raw)
                if isinstance(task, AuthenticationTask):
                    outcomes.append((task_type, task_uuid, [self.authenticate(task, session)], []))
                elif isinstance(task, PingTask):
                    outcomes.append((task_type, task_uuid, [{"taskType": "ping", "pong": True}], []))
                else:
                    if session.key_id is None:
                        raise MissingApiKey("Missing API key: authenticate first.")
                    if self.limiter and not await self.limiter.allow(session.key_id):
                        raise RateLimitExceeded("Rate limit exceeded for this API key.")
                    if isinstance(task, TaskLookup) and task.task_type == "getResponse":
                        # The polling hot path: one indexed read, answered without a task switch.
                        found = self.dry_runs.get((session.key_id, task.task_uuid)) if dry_run else None
                        items = (found, []) if found else self.response(session.key_id, task.task_uuid)
                        outcomes.append((task_type, task_uuid, *items))
                    else:
                        run = self._dry_run(task, session.key_id) if dry_run else self._run(task, session.key_id)
                        outcomes.append((task_type, task_uuid, asyncio.ensure_future(run)))
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
            record = await asyncio.to_thread(self.inputs.store_image, key_id, task.image, "image")
            url = self.sign(record.media_key, int(time.time() + IMAGE_RETENTION_SECONDS))
            item = {"taskType": "imageUpload", "taskUUID": task.task_uuid, "imageUUID": record.uuid, "imageURL": url}
            return [item], []
        status = self.jobs.cancel(key_id, task.task_uuid)
        return [{"taskType": "cancelTask", "taskUUID": task.task_uuid, "status": status}], []

    async def _dry_run(
        self, task: VideoInferenceTask | ImageUploadTask | TaskLookup, key_id: int
    ) -> tuple[Items, Items]:
        """Check one authenticated task exactly as ``_run`` would, and answer it the same
        way with ``"dryRun": true``, changing nothing. A videoInference is remembered (in
        memory) so that getResponse in the same dry run answers its results, each
        ``success`` with its videoUUID, seed and cost but no ``videoURL``."""
        if isinstance(task, VideoInferenceTask):
            used = (key_id, task.task_uuid) in self.dry_runs or self.jobs.find(key_id, task.task_uuid) is not None
            if used:
                raise ConflictTaskUUID(
                    f"taskUUID {task.task_uuid} was already used by this API key.", parameter="taskUUID"
                )
            if task.frame_images or task.reference_images:
                await asyncio.to_thread(self.inputs.settle, key_id, task, keep=False)
            ack: dict[str, Any] = {"taskType": "videoInference", "taskUUID": task.task_uuid, "dryRun": True}
            results: Items = []
            for i in range(task.number_results):
                item = {
                    "taskType": "videoInference",
                    "taskUUID": task.task_uuid,
                    "status": "success",
                    "dryRun": True,
                    "videoUUID": str(uuid.uuid4()),
                    "seed": task.result_seed(i),
                    "progress": 100,
                }
                if task.include_cost:
                    item["cost"] = cost_of(task, self.prices)
                results.append(item)
            if task.include_cost:
                ack["cost"] = round(cost_of(task, self.prices) * task.number_results, 6)
            self.dry_runs[(key_id, task.task_uuid)] = results
            while len(self.dry_runs) > MAX_DRY_RUN_TASKS:
                self.dry_runs.popitem(last=False)
            return [ack], []
        if isinstance(task, ImageUploadTask):
            await asyncio.to_thread(self.inputs.check_upload, key_id, task.image, "image")
            return [{"taskType": "imageUpload", "taskUUID": task.task_uuid, "dryRun": True}], []
        dry = (key_id, task.task_uuid) in self.dry_runs
        status = "success" if dry else self.jobs.view(key_id, task.task_uuid).status
        return [{"taskType": "cancelTask", "taskUUID": task.task_uuid, "status": status, "dryRun": True}], []
