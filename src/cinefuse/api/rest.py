"""``POST /v1`` (also ``/v1/``): the REST transport of the task envelope.

Served as a bare ASGI layer in front of the FastAPI app: submissions and polls are
the server's hot path, and Starlette's request/response objects and middleware
stack cost more than the work itself. Everything else falls through to FastAPI.
``?dryRun=1`` makes the request a dry run (docs/api.md, "Dry runs").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from cinefuse.api.auth import Session
from cinefuse.api.tasks import Reply, TaskHandler, is_dry_run
from cinefuse.errors import InvalidApiKey, InvalidJson, PayloadTooLarge, RequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
REST_PATHS = frozenset({"/v1", "/v1/"})
#: Bodies above this size are parsed off the event loop.
_PARSE_INLINE_BYTES = 256 * 1024


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def bearer_key(scope: Scope) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header ("" when the key is empty or
    blank: an invalid key, not a missing one); None without such a header."""
    header = _header(scope, b"authorization")
    if header is not None and header[:6].lower() == b"bearer" and header[6:7] in (b"", b" ", b"\t"):
        return header[6:].strip().decode("latin-1")
    return None


def dry_run(scope: Scope) -> bool:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("dryRun", [])
    return bool(values) and is_dry_run(values[-1])


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes whatever Content-Length claims."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body over {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body over {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class RestEndpoint:
    """ASGI app: ``POST /v1`` here, anything else to ``fallback``."""

    def __init__(self, handler: TaskHandler, fallback: ASGIApp, max_body_bytes: int) -> None:
        self.handler = handler
        self.fallback = fallback
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in REST_PATHS or scope["method"] != "POST":
            await self.fallback(scope, receive, send)
            return
        reply = await self._reply(scope, receive)
        await send({"type": "http.response.start", "status": reply.status, "headers": _JSON_HEADERS})
        await send({"type": "http.response.body", "body": orjson.dumps(reply.body())})

    async def _reply(self, scope: Scope, receive: Receive) -> Reply:
        """The reply to one body. A Bearer key is checked before the body is even read."""
        reply = Reply()
        session = Session()
        key = bearer_key(scope)
        if key is not None:
            session.key_id = self.handler.keys.key_id(key)
            if session.key_id is None:
                reply.add_error(InvalidApiKey("Invalid API key."), None, None)
                return reply
        try:
            body = await read_body(scope, receive, self.max_body_bytes)
            try:
                inline = len(body) <= _PARSE_INLINE_BYTES
                tasks = orjson.loads(body) if inline else await asyncio.to_thread(orjson.loads, body)
            except orjson.JSONDecodeError as exc:
                raise InvalidJson(f"Body is not valid JSON: {exc}") from exc
        except RequestError as error:
            reply.add_error(error, None, None)
            return reply
        return await self.handler.handle(tasks, session, dry_run=dry_run(scope))
