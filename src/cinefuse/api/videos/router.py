"""The routes of ``/v1/videos`` (docs/openai.md): each hands its request to the front door
(``door.py``) and turns a refusal into its OpenAI-shaped response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cinefuse.api.videos.door import VideosFrontDoor
from cinefuse.api.videos.errors import VideoApiError
from cinefuse.api.videos.objects import POLL_AFTER_MS, video_object, video_page
from cinefuse.api.videos.schema import (
    CHARACTER,
    CHARACTER_BODY,
    CONTENT,
    CREATE_BODY,
    EXTEND_BODY,
    REMIX_BODY,
    VIDEO,
    VIDEO_DELETED,
    VIDEO_LIST,
    responses,
)


async def _answer(work: Callable[[], Awaitable[Any]]) -> Response:
    """Run an endpoint's work; a refusal becomes its OpenAI-shaped response."""
    try:
        result = await work()
    except VideoApiError as error:
        return error.response()
    if isinstance(result, Response):
        return result
    return JSONResponse(result, headers={"openai-poll-after-ms": str(POLL_AFTER_MS)})


def videos_router(door: VideosFrontDoor) -> APIRouter:
    router = APIRouter(prefix="/v1/videos", tags=["videos"])

    @router.post(
        "",
        summary="Create a video",
        responses=responses(VIDEO, 400, 401, 404, 413, 429),
        openapi_extra={"requestBody": CREATE_BODY},
    )
    async def create_video(request: Request) -> Response:
        return await _answer(lambda: door.create(request))

    @router.get("", summary="List videos", responses=responses(VIDEO_LIST, 400, 401, 429))
    async def list_videos(
        request: Request, after: str | None = None, limit: str | None = None, order: str = "desc"
    ) -> Response:
        async def work() -> dict[str, Any]:
            return video_page(*await door.page(request, after, limit, order))

        return await _answer(work)

    # Fixed paths before "/{video_id}": a POST there would otherwise find the method not allowed.
    @router.post(
        "/extensions",
        summary="Continue a completed video",
        responses=responses(VIDEO, 400, 401, 404, 413, 429),
        openapi_extra={"requestBody": EXTEND_BODY},
    )
    async def extend_video(request: Request) -> Response:
        return await _answer(lambda: door.extend(request))

    @router.post(
        "/edits",
        summary="Edit a video from a prompt (refused: no video-to-video engine)",
        responses=responses(None, 400, 401, 404, 413, 429),
        openapi_extra={"requestBody": EXTEND_BODY},
    )
    async def edit_video(request: Request) -> Response:
        return await _answer(lambda: door.edit(request))

    @router.post(
        "/characters",
        summary="Make a character from a clip's frames or an image",
        responses=responses(CHARACTER, 400, 401, 404, 413, 429),
        openapi_extra={"requestBody": CHARACTER_BODY},
    )
    async def create_character(request: Request) -> Response:
        return await _answer(lambda: door.create_character(request))

    @router.get("/characters/{character_id}", summary="Retrieve a character", responses=responses(CHARACTER, 401, 404))
    async def get_character(request: Request, character_id: str) -> Response:
        return await _answer(lambda: door.character(request, character_id))

    @router.get("/{video_id}", summary="Retrieve a video", responses=responses(VIDEO, 401, 404, 429))
    async def retrieve_video(request: Request, video_id: str) -> Response:
        async def work() -> dict[str, Any]:
            return video_object(await door.find(await door.caller(request), video_id))

        return await _answer(work)

    @router.delete(
        "/{video_id}", summary="Delete a video and its media", responses=responses(VIDEO_DELETED, 401, 404, 429)
    )
    async def delete_video(request: Request, video_id: str) -> Response:
        async def work() -> dict[str, Any]:
            return await door.delete(await door.caller(request), video_id)

        return await _answer(work)

    @router.post(
        "/{video_id}/remix",
        summary="Remix a video: the same seed and settings, a new prompt",
        responses=responses(VIDEO, 400, 401, 404, 413, 429),
        openapi_extra={"requestBody": REMIX_BODY},
    )
    async def remix_video(request: Request, video_id: str) -> Response:
        return await _answer(lambda: door.remix(request, video_id))

    @router.get(
        "/{video_id}/content",
        summary="Download a video, its thumbnail or its spritesheet",
        responses=responses(None, 400, 401, 404, 429, ok_media=CONTENT),
    )
    async def video_content(request: Request, video_id: str, variant: str = "video") -> Response:
        async def work() -> Response:
            return await door.content(await door.caller(request), video_id, variant)

        return await _answer(work)

    return router
