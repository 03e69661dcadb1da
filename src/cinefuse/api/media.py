"""``GET``/``HEAD /media/{key}?expires=&sig=``: the local media store's signed, expiring links.

Checks, in order: the signature (403 ``invalidSignature``, also for malformed keys such as
path-traversal attempts), the expiry (410 ``mediaExpired``), the file (404
``mediaNotFound``, e.g. removed by the sweeper). Then the file is sent with the
``Content-Type`` of its extension and HTTP Range support (docs/api.md 4.1).

Range handling is Starlette's ``FileResponse``: ``Accept-Ranges: bytes``; a single range
(``bytes=0-99``, open ``bytes=100-``, suffix ``bytes=-500``) gives 206 with
``Content-Range``; a start beyond the end gives 416 with ``Content-Range: bytes */size``;
several ranges give ``multipart/byteranges``; ``If-Range`` is honoured.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import PurePosixPath

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response

from cinefuse.storage.local import LocalMediaStore

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
DEFAULT_MEDIA_TYPE = "application/octet-stream"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)


def media_router(store: LocalMediaStore, clock: Callable[[], float] = time.time) -> APIRouter:
    """The router serving ``store``'s files at ``/media/{key}``; ``clock`` gives unix seconds."""
    router = APIRouter()

    @router.api_route("/media/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def serve_media(key: str, expires: str = "", sig: str = "") -> Response:
        # A plain (sync) endpoint: FastAPI runs it in the thread pool, so the stat below
        # does not block the event loop.
        now = clock()
        verdict = store.verify(key, expires, sig, now)
        if verdict == "invalid":
            return _error(403, "invalidSignature", "The media URL's signature is missing or invalid.")
        if verdict == "expired":
            return _error(410, "mediaExpired", "The media URL has expired.")
        path = store.path_for(key)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            return _error(404, "mediaNotFound", "The media file no longer exists.")
        max_age = max(0, int(expires) - int(now))
        return FileResponse(
            path,
            stat_result=info,
            media_type=MEDIA_TYPES.get(PurePosixPath(key).suffix.lower(), DEFAULT_MEDIA_TYPE),
            headers={
                # Private: the URL is a bearer credential, shared caches must not keep it.
                "Cache-Control": f"private, max-age={max_age}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
