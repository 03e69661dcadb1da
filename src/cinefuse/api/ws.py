"""``GET /v1`` upgraded to a WebSocket: the streaming transport of the task envelope.

The first message must authenticate. Each later message is handled as its own
asyncio task, so a slow upload never delays a ping; replies carry their tasks'
``taskUUID``, so their order does not matter. A socket idle for
``ws_idle_timeout`` seconds is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from cinefuse.api.tasks import Reply, Session, TaskHandler
from cinefuse.errors import AuthError, RequestError

#: WebSocket close code for "idle too long" (RFC 6455: 1000 normal closure).
CLOSE_NORMAL = 1000


def _is_auth_message(tasks: Any) -> bool:
    return isinstance(tasks, list) and any(
        isinstance(t, dict) and t.get("taskType") == "authentication" for t in tasks
    )


def ws_router(handler: TaskHandler, idle_timeout: float, max_message_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.websocket("/v1")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        session = Session()
        send_lock = asyncio.Lock()
        running: set[asyncio.Task[None]] = set()

        async def send(reply: Reply) -> None:
            async with send_lock:
                await websocket.send_text(orjson.dumps(reply.body()).decode())

        async def answer(tasks: Any) -> None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await send(await handler.handle(tasks, session))

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
                reply = Reply()
                if len(raw) > max_message_bytes:
                    reply.add_error(RequestError("Message too large.", code="invalidPayload"), None, None)
                    await send(reply)
                    continue
                try:
                    tasks = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    reply.add_error(RequestError(f"Message is not valid JSON: {exc}", code="invalidJson"), None, None)
                    await send(reply)
                    continue
                if session.key_id is None and not _is_auth_message(tasks):
                    # The runware SDK waits for a keyed error here; a bare {"error":true} would hang it.
                    reply.add_error(AuthError("Authenticate first.", code="missingApiKey"), "authentication", None)
                    await send(reply)
                    continue
                if _is_auth_message(tasks):
                    await answer(tasks)  # in order: later messages need the session's key
                    continue
                task = asyncio.create_task(answer(tasks))
                running.add(task)
                task.add_done_callback(running.discard)
        except WebSocketDisconnect:
            return
        finally:
            for task in running:
                task.cancel()

    return router
