"""``POST /v1`` (also ``/v1/``): the REST transport of the task envelope.

Served as a bare ASGI layer in front of the FastAPI app: submissions and polls are
the server's hot path, and Starlette's request/response objects and middleware
stack cost more than the work itself. Everything else falls through to FastAPI,
except other methods on ``/v1``: 405 with ``Allow`` (GET there is the WebSocket).
``?dryRun=1`` makes the request a dry run (docs/api.md, "Dry runs").

The key is checked before the body costs anything (``api/envelope.py``): a Bearer key
before the body is read; without one, the body is read no further than
``max_unauthenticated_bytes`` unless it starts with an authentication task whose key is
good. The refusal goes out at once; uvicorn discards the rest of the body unbuffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from cinefuse.api.auth import Session, bearer_key
from cinefuse.api.envelope import EnvelopeLimits, is_large, leading_task, parse_tasks, release
from cinefuse.api.tasks import Reply, TaskHandler, is_dry_run
from cinefuse.errors import CinefuseError, InvalidApiKey, MissingApiKey, PayloadTooLarge, RequestError
from cinefuse.schemas.parser import parse_task, task_identity
from cinefuse.schemas.tasks import AuthenticationTask

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
REST_PATHS = frozenset({"/v1", "/v1/"})
#: Methods ``/v1`` answers: POST here, GET as the WebSocket upgrade (api/ws.py).
ALLOWED_METHODS = "GET, POST"
METHOD_NOT_ALLOWED = "methodNotAllowed"


def dry_run(scope: Scope) -> bool:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("dryRun", [])
    return bool(values) and is_dry_run(values[-1])


class BodyReader:
    """The request body, read as far as asked and never past ``limit`` bytes, whatever
    Content-Length claims (``PayloadTooLarge``). Kept in one growing buffer, which the
    parser reads as it is: a 50 MB body costs 50 MB, not a list of chunks and their join."""

    def __init__(self, scope: Scope, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.buffer = bytearray()
        self.complete = False
        declared = next((bytes(v) for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body over {limit} bytes.")

    async def read_to(self, size: int) -> None:
        """Read until at least ``size`` bytes are in, or the body ended."""
        while not self.complete and len(self.buffer) < size:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.complete = True
                break
            chunk = message.get("body", b"")
            if len(self.buffer) + len(chunk) > self.limit:
                raise PayloadTooLarge(f"Request body over {self.limit} bytes.")
            self.buffer += chunk
            self.complete = not message.get("more_body", False)

    async def read_all(self) -> bytearray:
        await self.read_to(self.limit + 1)
        return self.buffer


class RestEndpoint:
    """ASGI app: ``POST /v1`` here, anything else to ``fallback``."""

    def __init__(self, handler: TaskHandler, fallback: ASGIApp, limits: EnvelopeLimits) -> None:
        self.handler = handler
        self.fallback = fallback
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in REST_PATHS:
            await self.fallback(scope, receive, send)
            return
        if scope["method"] != "POST":
            if scope["method"] in ("GET", "HEAD"):  # the WebSocket route's; FastAPI answers a plain GET
                await self.fallback(scope, receive, send)
            else:
                await _method_not_allowed(scope["method"], send)
            return
        parsed: list[Any] = []
        reply = await self._reply(scope, receive, parsed)
        await send({"type": "http.response.start", "status": reply.status, "headers": _JSON_HEADERS})
        await send({"type": "http.response.body", "body": orjson.dumps(reply.body())})
        for tasks in parsed:
            await release(tasks)

    async def _reply(self, scope: Scope, receive: Receive, parsed: list[Any]) -> Reply:
        """The reply to one body; a large parsed body is left in ``parsed`` for the caller
        to release after answering."""
        reply = Reply()
        session = Session()
        key = bearer_key(scope)
        if key is not None:
            session.key_id = self.handler.keys.key_id(key)
            if session.key_id is None:
                reply.add_error(InvalidApiKey("Invalid API key."), None, None)
                return reply
        try:
            body = BodyReader(scope, receive, self.limits.max_bytes)
            if session.key_id is None:
                unauthenticated = self.limits.max_unauthenticated_bytes
                await body.read_to(unauthenticated + 1)
                if len(body.buffer) > unauthenticated:
                    refused = self._authenticate_leading_task(bytes(body.buffer[:unauthenticated]), session)
                    if refused is not None:
                        reply.add_error(*refused)
                        return reply
            data = await body.read_all()
            tasks = await parse_tasks(data, self.limits.max_values)
        except RequestError as error:
            reply.add_error(error, None, None)
            return reply
        if is_large(data):
            parsed.append(tasks)
        return await self.handler.handle(tasks, session, dry_run=dry_run(scope))

    def _authenticate_leading_task(
        self, prefix: bytes, session: Session
    ) -> tuple[CinefuseError, str | None, str | None] | None:
        """Authenticate ``session`` by the body's first task, looking at nothing else: the
        error (with its task's type and UUID) when that is not an authentication task with a
        good key, else None."""
        first = leading_task(prefix)
        task_type, task_uuid = task_identity(first)
        try:
            task = parse_task(first) if task_type == "authentication" else None
            if not isinstance(task, AuthenticationTask):
                limit = self.limits.max_unauthenticated_bytes
                raise MissingApiKey(
                    f"Missing API key: a body over {limit} bytes needs an Authorization header or a first"
                    " authentication task."
                )
            self.handler.authenticate(task, session)
        except CinefuseError as error:
            return error, task_type, task_uuid
        return None


async def _method_not_allowed(method: str, send: Send) -> None:
    """405 with ``Allow`` and the API's error object (docs/api.md, "Errors")."""
    error = {
        "code": METHOD_NOT_ALLOWED,
        "message": f"{method} is not allowed on /v1: POST a task array, or open a WebSocket (GET).",
    }
    headers = [*_JSON_HEADERS, (b"allow", ALLOWED_METHODS.encode())]
    await send({"type": "http.response.start", "status": 405, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"errors": [error]})})
