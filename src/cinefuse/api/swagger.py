"""``GET /docs``: the interactive API reference (Swagger UI), served from this server.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, which a server without internet
access (or a browser behind a strict proxy) cannot reach. The files come from the
``swagger-ui-bundle-v2`` package instead, under ``/docs/static/``, with the same file
contract as the studio's static route (a fixed table, ETags, 404 for anything else).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response

from cinefuse.api.ui import file_response, static_files

DOCS_PATH = "/docs"
_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def swagger_dir() -> Path:
    """Where the installed Swagger UI's files are."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def swagger_router(openapi_url: str = "/openapi.json", title: str = "cinefuse API") -> APIRouter:
    """``GET /docs`` (the page) and ``GET /docs/static/{file}`` (Swagger UI's files)."""
    router = APIRouter()
    files = static_files(swagger_dir())

    @router.get(DOCS_PATH, include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{DOCS_PATH}/static/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_PATH}/static/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_PATH}/static/favicon-32x32.png",
        )

    @router.api_route(DOCS_PATH + "/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def static(request: Request, path: str) -> Response:
        return file_response(request, files.get(path), _HEADERS)

    return router
