"""``GET /v1`` upgraded to a WebSocket: the streaming transport of the task envelope.

Rules that keep the official SDKs working (docs/sdk-wire-notes.md):

* The first message must authenticate; a bad key is answered with an ``errors`` item
  whose ``taskType`` is ``authentication`` (the ``runware`` SDK waits for exactly that).
* Each task is answered in its own frame, and a frame never mixes ``data`` and
  ``errors`` (``runware-sdk`` drops the data part of a mixed frame).
* Messages are handled as separate asyncio tasks, so a slow upload never delays a ping.
* After a ``getResponse`` that found work still processing, the socket *watches* that
  task and pushes its finished results (data frames only) as soon as they exist, so
  a client waiting on the socket does not need another polling round.
* A socket idle for ``idle_timeout`` seconds is closed (code 1000).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from cinefuse.api.auth import Session
from cinefuse.api.tasks import Reply, TaskHandler
from cinefuse.errors import CinefuseError, InvalidJson, InvalidPayload, MissingApiKey
from cinefuse.schemas.parser import task_identity

CLOSE_NORMAL = 1000
#: How often a socket checks the tasks it watches for finished results (seconds).
WATCH_INTERVAL = 0.5


def _is_auth_task(task: Any) -> bool:
    return isinstance(task, dict) and task.get("taskType") == "authentication"


class _Connection:
    def __init__(self, websocket: WebSocket, handler: TaskHandler) -> None:
        self.websocket = websocket
        self.handler = handler
        self.session = Session()
        self.send_lock = asyncio.Lock()
        self.watched: set[str] = set()
        self.running: set[asyncio.Task[None]] = set()

    async def send(self, body: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_text(orjson.dumps(body).decode())

    async def send_reply(self, reply: Reply) -> None:
        """One reply, split so no frame carries both data and errors."""
        if reply.data or not reply.errors:
            await self.send({"data": reply.data})
        if reply.errors:
            await self.send({"errors": reply.errors})

    async def send_error(self, error: CinefuseError, task_type: str | None = None) -> None:
        reply = Reply()
        reply.add_error(error, task_type, None)
        await self.send_reply(reply)

    async def answer(self, task: Any) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            reply = await self.handler.handle([task], self.session)
            await self.send_reply(reply)
            task_type, task_uuid = task_identity(task)
            if task_type == "getResponse" and task_uuid and any(i.get("status") == "processing" for i in reply.data):
                self.watched.add(task_uuid.lower())

    def spawn(self, coro: Any) -> None:
        job: asyncio.Task[None] = asyncio.create_task(coro)
        self.running.add(job)
        job.add_done_callback(self.running.discard)

    async def watch(self) -> None:
        """Push finished results of watched tasks (see the module docstring)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.session.key_id is None:
                continue
            for task_uuid in list(self.watched):
                try:
                    data, _ = self.handler.response(self.session.key_id, task_uuid)
                except CinefuseError:
                    self.watched.discard(task_uuid)
                    continue
                if not any(item.get("status") == "processing" for item in data):
                    self.watched.discard(task_uuid)
                    if data:
                        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                            await self.send({"data": data})

    def close(self) -> None:
        for job in self.running:
            job.cancel()


def ws_router(handler: TaskHandler, idle_timeout: float, max_message_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.websocket("/v1")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        conn = _Connection(websocket, handler)
        conn.spawn(conn.watch())
        try:
            while True:
                try:
                    message = await asyncio.wait_for(websocket.receive(), timeout=idle_timeout)
                except TimeoutError:
                    await websocket.close(code=CLOSE_NORMAL, reason="idle timeout")
                    return
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text") or message.get("bytes") or b""
                if len(raw) > max_message_bytes:
                    await conn.send_error(InvalidPayload("Message too large."))
                    continue
                try:
                    tasks = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    await conn.send_error(InvalidJson(f"Message is not valid JSON: {exc}"))
                    continue
                if not isinstance(tasks, list) or not tasks:
                    await conn.send_error(InvalidPayload("A message must be a non-empty JSON array of tasks."))
                    continue
                for task in tasks:
                    if _is_auth_task(task):
                        await conn.answer(task)  # in order: later tasks need the session's key
                    elif conn.session.key_id is None and not (
                        isinstance(task, dict) and task.get("taskType") == "ping"
                    ):
                        # The runware SDK waits for an authentication-typed error here.
                        error = MissingApiKey("Authenticate first.")
                        reply = Reply()
                        reply.add_error(error, "authentication", task_identity(task)[1])
                        await conn.send_reply(reply)
                    else:
                        conn.spawn(conn.answer(task))
        except WebSocketDisconnect:
            return
        finally:
            conn.close()

    return router
