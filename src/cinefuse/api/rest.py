"""``POST /v1``: the REST transport of the task envelope."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from cinefuse.api.tasks import Reply, Session, TaskHandler
from cinefuse.errors import AuthError, PayloadTooLarge, RequestError


def json_response(reply: Reply) -> Response:
    return Response(orjson.dumps(reply.body()), status_code=reply.status, media_type="application/json")


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body over {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body over {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def rest_router(handler: TaskHandler, max_body_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.post("/v1", include_in_schema=False)
    async def submit(request: Request) -> Response:
        reply = Reply()
        try:
            body = await read_body(request, max_body_bytes)
            try:
                tasks = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise RequestError(f"Body is not valid JSON: {exc}", code="invalidJson") from exc
        except RequestError as error:
            reply.add_error(error, None, None)
            return json_response(reply)
        session = Session()
        key = bearer_key(request)
        if key is not None:
            session.key_id = handler.keys.key_id(key)
            if session.key_id is None:
                reply.add_error(AuthError("Invalid API key.", code="invalidApiKey"), None, None)
                return json_response(reply)
        return json_response(await handler.handle(tasks, session))

    return router
