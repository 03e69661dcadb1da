"""``GET /v1`` (also ``/v1/``) upgraded to a WebSocket: the streaming transport of the task envelope.

Rules that keep the official SDKs working (docs/sdk-wire-notes.md):

* The first message must authenticate; a bad key is answered with an ``errors`` item
  whose ``taskType`` is ``authentication`` (the SDKs wait for exactly that), and the socket
  stays open.
* Each task is answered in its own frame, and a frame never mixes ``data`` and
  ``errors`` (``runware-sdk`` drops the data part of a mixed frame).
* Tasks run as separate asyncio tasks, so a slow upload never delays a ping.
* After a ``getResponse`` that found work still processing, the socket *watches* that
  task and pushes its finished results (data frames only) as soon as they exist.
* ``?dryRun=1`` on the URL makes the whole session a dry run (docs/api.md, "Dry runs").

Limits that keep one client from stalling the server (docs/api.md, "Limits"):

* At most ``MAX_IN_FLIGHT`` tasks of a socket run or wait to send at once. When they are
  all taken, the socket stops reading (back-pressure); a client that does not read its
  replies for ``stall_timeout`` seconds is dropped (``api/ws_transport.py``).
* Before authenticating, a socket may send a few messages a second (a token bucket), each
  of at most ``max_unauthenticated_bytes``; a client that sends more is closed with 1008,
  a larger message with 1009 (refused from its frame header where the server runs
  ``api/ws_transport.py``, so it is never buffered).
* A message is parsed only within ``EnvelopeLimits`` (``api/envelope.py``), a large one on
  a worker thread, where its tasks are also freed.
* A session whose key is revoked is closed with 1008 within ``WATCH_INTERVAL`` of the key
  refresh that finds it; from that refresh on its tasks are ``invalidApiKey``.
* A socket idle for ``idle_timeout`` seconds is closed with 1000; a disconnect cancels the
  socket's pending work at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from cinefuse.api.auth import Session
from cinefuse.api.envelope import EnvelopeLimits, is_large, parse_tasks, release
from cinefuse.api.tasks import Reply, TaskHandler, is_dry_run
from cinefuse.api.ws_transport import MESSAGE_LIMIT
from cinefuse.errors import CinefuseError, InvalidPayload, MissingApiKey, RequestError
from cinefuse.schemas.parser import task_identity

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
#: The close reason of a session whose key was revoked (docs/api.md, "Revoked keys").
REVOKED_REASON = "API key revoked"
#: How often a socket checks the tasks it watches for finished results (seconds).
WATCH_INTERVAL = 0.5
#: Tasks of one socket running or waiting to send at once.
MAX_IN_FLIGHT = 64
#: Messages an unauthenticated socket may send: per second, and at once.
UNAUTHENTICATED_RATE = 5.0
UNAUTHENTICATED_BURST = 20.0


class _ClientStalled(Exception):
    """The client stopped reading its replies."""


class _Connection:
    def __init__(
        self, websocket: WebSocket, handler: TaskHandler, dry_run: bool, stall_timeout: float, limits: EnvelopeLimits
    ) -> None:
        self.websocket = websocket
        self.stall_timeout = stall_timeout
        self.handler = handler
        self.dry_run = dry_run
        self.limits = limits
        self.session = Session()
        self.send_lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.watched: set[str] = set()
        self.running: set[asyncio.Task[None]] = set()
        self.closed = False
        self._tokens, self._last = UNAUTHENTICATED_BURST, time.monotonic()
        # Where the server runs api/ws_transport.py: the largest message it reads off the wire.
        self._message_limit = websocket.scope.get("extensions", {}).get(MESSAGE_LIMIT, {}).get("set")
        self._limit_lifted = False

    def limit_messages(self) -> None:
        """Set the transport's message limit for the session's state: small until it
        authenticates, then the full one."""
        if self._message_limit is None or self._limit_lifted:
            return
        if self.session.key_id is None:
            self._message_limit(self.limits.max_unauthenticated_bytes)
        else:
            self._message_limit(self.limits.max_bytes)
            self._limit_lifted = True

    def revoked(self) -> bool:
        """Whether the session's key was revoked since it authenticated."""
        return self.session.key_id is not None and not self.handler.keys.is_active(self.session.key_id)

    async def end(self, code: int, reason: str) -> None:
        """Close the socket (once), cancelling its pending work; later sends raise
        ``WebSocketDisconnect``. Not under the send lock: a task blocked sending to a client
        that does not read holds it (the transport drops such a client at once)."""
        if self.closed:
            return
        self.closed = True
        self.close()
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    def allow_unauthenticated(self) -> bool:
        """Token bucket for the messages of a socket that has not authenticated yet."""
        now = time.monotonic()
        self._tokens = min(UNAUTHENTICATED_BURST, self._tokens + (now - self._last) * UNAUTHENTICATED_RATE)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def send(self, body: dict[str, Any]) -> None:
        """Send one frame; ``WebSocketDisconnect`` once the socket is closing or closed."""
        async with self.send_lock:
            if self.closed:
                raise WebSocketDisconnect(CLOSE_POLICY)
            try:
                await self.websocket.send_text(orjson.dumps(body).decode())
            except RuntimeError as exc:  # the transport already closed it (e.g. 1009 on a later frame)
                raise WebSocketDisconnect(CLOSE_NORMAL) from exc

    async def send_reply(self, reply: Reply) -> None:
        """One reply, split so no frame carries both data and errors."""
        if reply.data or not reply.errors:
            await self.send({"data": reply.data})
        if reply.errors:
            await self.send({"errors": reply.errors})

    async def send_error(
        self, error: CinefuseError, task_type: str | None = None, task_uuid: str | None = None
    ) -> None:
        reply = Reply()
        reply.add_error(error, task_type, task_uuid)
        await self.send_reply(reply)

    async def answer(self, task: Any) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            reply = await self.handler.handle([task], self.session, dry_run=self.dry_run)
            await self.send_reply(reply)
            task_type, task_uuid = task_identity(task)
            if task_type == "getResponse" and task_uuid and any(i.get("status") == "processing" for i in reply.data):
                self.watched.add(task_uuid.lower())

    async def run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Start ``coro`` in one of the socket's slots; wait (not reading) while all are
        taken, and raise ``_ClientStalled`` when none frees up in time."""
        try:
            await asyncio.wait_for(self.slots.acquire(), timeout=self.stall_timeout)
        except TimeoutError:
            coro.close()
            raise _ClientStalled from None
        job = asyncio.create_task(coro)
        self.running.add(job)
        job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Task[None]) -> None:
        self.running.discard(job)
        self.slots.release()

    async def watch(self) -> None:
        """Push finished results of watched tasks, and end the session when its key is
        revoked (see the module docstring)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.session.key_id is None:
                continue
            if self.revoked():
                await self.end(CLOSE_POLICY, REVOKED_REASON)
                return
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
        for job in list(self.running):
            job.cancel()


def ws_router(handler: TaskHandler, idle_timeout: float, limits: EnvelopeLimits, stall_timeout: float) -> APIRouter:
    router = APIRouter()

    async def socket(websocket: WebSocket) -> None:
        dry_run = is_dry_run(websocket.query_params.get("dryRun"))
        conn = _Connection(websocket, handler, dry_run, stall_timeout, limits)
        conn.limit_messages()  # before the handshake: the first message is already bounded
        await websocket.accept()
        watcher = asyncio.create_task(conn.watch())
        try:
            await _serve(conn, idle_timeout)
        except WebSocketDisconnect:
            return
        except _ClientStalled:
            await conn.end(CLOSE_POLICY, "replies not read: too many pending")
        finally:
            watcher.cancel()
            conn.close()

    # The JavaScript SDK's URL may end in a slash: both forms are the same endpoint.
    router.add_api_websocket_route("/v1", socket)
    router.add_api_websocket_route("/v1/", socket)
    return router


async def _serve(conn: _Connection, idle_timeout: float) -> None:
    websocket = conn.websocket
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=idle_timeout)
        except TimeoutError:
            await conn.end(CLOSE_NORMAL, "idle timeout")
            return
        if message["type"] == "websocket.disconnect" or conn.closed:
            return
        if conn.revoked():
            await conn.end(CLOSE_POLICY, REVOKED_REASON)
            return
        if conn.session.key_id is None and not conn.allow_unauthenticated():
            await conn.end(CLOSE_POLICY, "authenticate first: too many messages")
            return
        raw = message.get("text") or message.get("bytes") or b""
        if len(raw) > conn.limits.max_bytes:
            await conn.send_error(InvalidPayload("Message too large."))
            continue
        unauthenticated = conn.limits.max_unauthenticated_bytes
        if conn.session.key_id is None and len(raw) > unauthenticated:
            # What the transport refuses from the frame header, where it can (api/ws_transport.py).
            await conn.end(CLOSE_TOO_BIG, f"authenticate first: messages over {unauthenticated} bytes")
            return
        try:
            tasks = await parse_tasks(raw, conn.limits.max_values)
        except RequestError as error:
            await conn.send_error(error)
            continue
        await _dispatch(conn, tasks)
        if is_large(raw):
            await release(tasks)
        conn.limit_messages()


async def _dispatch(conn: _Connection, tasks: Any) -> None:
    """Answer one parsed message: authentication in order, other tasks concurrently."""
    if not isinstance(tasks, list) or not tasks:
        await conn.send_error(InvalidPayload("A message must be a non-empty JSON array of tasks."))
        return
    if len(tasks) > conn.handler.max_tasks:
        await conn.send_reply(await conn.handler.handle(tasks, conn.session))  # refused, naming the limit
        return
    for task in tasks:
        task_type, task_uuid = task_identity(task)
        if task_type == "authentication":
            await conn.answer(task)  # in order: later tasks need the session's key
        elif conn.session.key_id is None and task_type != "ping":
            # The runware SDK waits for an authentication-typed error here.
            await conn.send_error(MissingApiKey("Authenticate first."), "authentication", task_uuid)
        else:
            await conn.run(conn.answer(task))
