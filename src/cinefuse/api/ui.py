"""The web studio: ``GET /`` (the page), ``GET /static/{path}`` (its files) and the model
capabilities it is built from (``GET /v1/models``, :mod:`cinefuse.api.models`).

The studio is plain HTML, CSS and JavaScript modules under ``cinefuse/web/static/``,
served as committed (no build step) and self-contained: it loads nothing from other
hosts, so it works offline. In the browser it is a client of the public API like any
other (``GET /v1`` WebSocket, ``POST /v1`` as a fallback); this module only serves files.

Contract of the static route: only files that exist under the static folder when the
router is built are served (a fixed table, so no path can leave the folder), with the
media type of their extension, ``X-Content-Type-Options: nosniff`` and ``Cache-Control:
no-cache`` (browsers revalidate with the ETag, so an upgraded server is seen at once); a
matching ``If-None-Match`` gives 304. Anything else is a 404. The page itself carries a
Content-Security-Policy allowing only its own origin for scripts, styles and connections.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response

from cinefuse.api.availability import ModelAvailability
from cinefuse.api.models import models_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
INDEX = "index.html"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def content_security_policy(host: str | None) -> str:
    """The page's policy. Images and videos may come from the media store's host (an S3
    bucket); everything else only from this origin. ``host`` (the request's Host header,
    when well-formed) names the WebSocket origin explicitly, for browsers whose ``'self'``
    does not cover ``ws:``/``wss:``. Styles set from script (CSSOM) are not inline styles."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob: http: https:",
            "media-src 'self' blob: http: https:",
            f"connect-src 'self'{sockets}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def static_files(static_dir: Path) -> dict[str, Path]:
    """URL path (relative, ``/``-separated) -> file, for every servable file under ``static_dir``."""
    if not static_dir.is_dir():
        return {}
    return {
        path.relative_to(static_dir).as_posix(): path
        for path in sorted(static_dir.rglob("*"))
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def _not_found() -> JSONResponse:
    return JSONResponse({"errors": [{"code": "notFound", "message": "No such file."}]}, status_code=404)


def file_response(request: Request, path: Path | None, headers: dict[str, str]) -> Response:
    """``path`` with its media type and ``headers``; 304 when the client's ETag matches, 404 when gone."""
    try:
        info = os.stat(path) if path is not None else None
    except OSError:
        info = None
    if path is None or info is None or not stat.S_ISREG(info.st_mode):
        return _not_found()
    response = FileResponse(path, stat_result=info, media_type=MEDIA_TYPES[path.suffix], headers=headers)
    if request.headers.get("if-none-match") == response.headers["etag"]:
        kept = {k: v for k, v in response.headers.items() if k in ("etag", "last-modified", "cache-control")}
        return Response(status_code=304, headers=kept)
    return response


def ui_router(static_dir: Path = STATIC_DIR, availability: ModelAvailability | None = None) -> APIRouter:
    """The studio's routes, serving the files of ``static_dir`` (the packaged ones by default),
    and ``GET /v1/models`` (models available as ``availability`` says)."""
    router = APIRouter()
    router.include_router(models_router(availability=availability))
    files = static_files(static_dir)

    @router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def studio(request: Request) -> Response:
        headers = {
            **_COMMON_HEADERS,
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "Referrer-Policy": "no-referrer",
        }
        return file_response(request, files.get(INDEX), headers)

    @router.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def static(request: Request, path: str) -> Response:
        # Plain (sync) endpoints: the file's stat runs in the thread pool, off the event loop.
        return file_response(request, files.get(path), _COMMON_HEADERS)

    return router
