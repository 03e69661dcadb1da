"""Liveness: ``GET|POST /health``. Deliberately trivial: benchmarks use it as the bare
endpoint of the same server, to measure what the task path adds."""

from __future__ import annotations

from fastapi import APIRouter, Response

_OK = b'{"status":"ok"}'


def health_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/health", methods=["GET", "POST"], include_in_schema=False)
    async def health() -> Response:
        return Response(_OK, media_type="application/json")

    return router
