"""What the endpoints of ``/v1/videos`` do (docs/openai.md); ``router.py`` only routes.

A video is one ``videoInference`` job of one result, made, limited, rendered, stored and
expired exactly as a ``POST /v1`` task is; the ``videos`` table adds what the ``Video``
object says that a task does not (the model as named, the fitted seconds and size, what it
was remixed from or extends). Every method authenticates first (``caller``) and answers
another key's video as unknown (404). Refusals raise ``VideoApiError``.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from cinefuse.api.auth import KeyRing, bearer_key
from cinefuse.api.envelope import EnvelopeLimits
from cinefuse.api.media import MEDIA_TYPES
from cinefuse.api.tasks import TaskHandler
from cinefuse.api.videos.aliases import DEFAULT_MODEL, ModelNames
from cinefuse.api.videos.errors import VideoApiError, from_cinefuse, invalid_value, not_found
from cinefuse.api.videos.events import video_id_of
from cinefuse.api.videos.objects import video_object
from cinefuse.api.videos.requests import (
    Fields,
    Upload,
    VideoPlan,
    character_ids,
    denoising_fields,
    read_fields,
    text_field,
    video_reference,
    video_task,
)
from cinefuse.errors import CinefuseError
from cinefuse.jobs.models import TERMINAL_JOB_STATUSES, Character, NewVideo, VideoView
from cinefuse.jobs.store import JobStore
from cinefuse.jobs.store.videos import Order
from cinefuse.media import stills
from cinefuse.media.stitch import clip_info, last_frame_png, stitch
from cinefuse.models.fitting import format_seconds
from cinefuse.models.registry import require_model
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import VideoInferenceTask
from cinefuse.storage.base import MediaStore

CHARACTER_ID_PREFIX = "char_"
#: How long a redirect to a remote store's file stays valid (seconds).
REDIRECT_TTL_S = 300
#: Frames of a clip kept as a character's reference images (evenly spaced, first and last).
CHARACTER_FRAMES = 3
Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")


def derived_key(media_key: str, variant: str) -> str:
    """Where something made from the video ``media_key`` is kept, next to it:
    ``videos/<uuid>.thumbnail.webp``, ``.spritesheet.jpg``, ``.whole.mp4`` (an extension's
    stitched clip), ``.prefix.mp4`` (the source it stitches in front)."""
    extension = {"thumbnail": "webp", "spritesheet": "jpg"}.get(variant, "mp4")
    return f"{media_key.rsplit('.', 1)[0]}.{variant}.{extension}"


class VideosFrontDoor:
    """The endpoints' work; see the module docstring."""

    def __init__(
        self,
        keys: KeyRing,
        handler: TaskHandler,
        store: JobStore,
        media: MediaStore,
        names: ModelNames,
        limits: EnvelopeLimits,
        edit_problem: Callable[[str], str | None] = lambda model_id: None,
    ) -> None:
        self.keys = keys
        self.handler = handler
        self.store = store
        self.media = media
        self.names = names
        self.limits = limits
        #: Why a model cannot edit a video here (None: it can; ``api/availability.py``).
        self.edit_problem = edit_problem

    # --- who is calling, and what they name ---------------------------------------------------

    async def caller(self, request: Request) -> int:
        """The caller's key id; 401 without a known key, 429 past its request rate."""
        presented = bearer_key(request.scope)
        if presented is None:
            raise VideoApiError(
                401, "Missing API key: send it as 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        key_id = self.keys.key_id(presented)
        if key_id is None or not self.keys.is_active(key_id):
            raise VideoApiError(401, "Invalid API key.", code="invalid_api_key")
        limiter = self.handler.limiter
        if limiter is not None and not await limiter.allow(key_id):
            raise VideoApiError(
                429,
                "Rate limit exceeded for this API key.",
                code="rate_limit_exceeded",
                type="requests",
                headers={"retry-after": "1"},
            )
        return key_id

    async def find(self, key_id: int, video_id: str, param: str = "video_id") -> VideoView:
        view = await asyncio.to_thread(self.store.videos.get, key_id, video_id)
        if view is None:
            raise not_found(video_id, param)
        return view

    async def _fields(self, request: Request) -> tuple[int, Fields, str]:
        """(key id, the body's fields, its prompt): the start of every request that makes a video."""
        key_id = await self.caller(request)
        fields = await read_fields(request, self.limits)
        prompt = text_field(fields, "prompt")
        if prompt is None:
            raise VideoApiError(400, "prompt is required.", code="missing_required_parameter", param="prompt")
        return key_id, fields, prompt

    def _model(self, fields: Fields) -> tuple[str, str]:
        """(the model as named, its model id)."""
        named = text_field(fields, "model") or DEFAULT_MODEL
        model_id = self.names.resolve(named)
        if model_id is None:
            raise invalid_value("model", f"Unknown model {named!r}; this server has {', '.join(self.names.names())}.")
        return named, model_id

    async def _characters(self, key_id: int, fields: Fields) -> tuple[str, ...]:
        """The image UUIDs of the characters a create names, in order."""
        images: list[str] = []
        for character_id in character_ids(fields):
            found = await asyncio.to_thread(self.store.videos.character, key_id, character_id)
            if found is None:
                raise VideoApiError(
                    404, f"No character {character_id!r} for this API key.", code="not_found", param="characters"
                )
            images.extend(found.images)
        return tuple(images)

    @staticmethod
    def _validated(plan: VideoPlan) -> VideoInferenceTask:
        """The plan's task, validated as ``POST /v1`` validates one, at the plan's exact size."""
        try:
            parsed = parse_task(plan.raw_task)
        except CinefuseError as error:
            raise from_cinefuse(error) from error
        assert isinstance(parsed, VideoInferenceTask)
        shape = "video_event" if parsed.webhook_url else parsed.webhook_shape
        return replace(
            parsed, width=plan.width, height=plan.height, webhook_shape=shape, steps=plan.steps, guidance=plan.guidance
        )

    async def _admit(self, video: NewVideo, task: VideoInferenceTask) -> dict[str, Any]:
        """Queue ``task`` as ``video``: the row first (a crash before the job is admitted
        leaves a row no read can see), then the images, then the job; a refusal removes the
        row (and an extension's copied clip) again."""
        await asyncio.to_thread(self.store.videos.add, video)
        try:
            jobs = self.handler.jobs
            if task.frame_images or task.reference_images:
                jobs.check_capacity(video.key_id)  # before storing an image for a task refused anyway
                task = await asyncio.to_thread(self.handler.inputs.settle, video.key_id, task)
            await jobs.create(video.key_id, task)
        except BaseException as error:
            await asyncio.to_thread(self.store.videos.discard, video.id)
            if video.prefix_key is not None:
                await asyncio.to_thread(self.media.delete, video.prefix_key)
            if isinstance(error, CinefuseError):
                raise from_cinefuse(error) from error
            raise
        return video_object(await self.find(video.key_id, video.id))

    # --- making videos ------------------------------------------------------------------------

    async def create(self, request: Request) -> dict[str, Any]:
        key_id, fields, prompt = await self._fields(request)
        named, model_id = self._model(fields)
        references = await self._characters(key_id, fields)
        task_uuid = str(uuid.uuid4())
        plan = video_task(fields, require_model(model_id), task_uuid, prompt, references=references)
        task = self._validated(plan)
        video = NewVideo(video_id_of(task_uuid), key_id, task_uuid, named, prompt, plan.seconds, plan.size, time.time())
        return await self._admit(video, task)

    async def remix(self, request: Request, video_id: str) -> dict[str, Any]:
        """A new video from the same task (model, size, duration, seed, images, settings)
        with a new prompt; a completed source clip also steers it as a control video where
        the engine has video to video (the Wan engine with the VACE weights)."""
        key_id, _, prompt = await self._fields(request)
        source = await self.find(key_id, video_id)
        task = await asyncio.to_thread(self.store.videos.task_of, key_id, video_id)
        if task is None:
            raise not_found(video_id)
        task_uuid = str(uuid.uuid4())
        self._check_prompt(task, task_uuid, prompt)
        control = source.result.media_key if source.result.status == "success" else None
        remixed = replace(task, task_uuid=task_uuid, positive_prompt=prompt, control_video=control)
        prefix_key = source.video.prefix_key
        if prefix_key is not None:  # a remix of an extension: its own copy of the clip it continues
            prefix_key = await asyncio.to_thread(self._copy_prefix, prefix_key)
        video = replace(
            source.video,
            id=video_id_of(task_uuid),
            task_uuid=task_uuid,
            prompt=prompt,
            created_at=time.time(),
            remixed_from=video_id,
            prefix_key=prefix_key,
        )
        return await self._admit(video, remixed)

    @staticmethod
    def _check_prompt(task: VideoInferenceTask, task_uuid: str, prompt: str) -> None:
        """The new prompt of a remix or an edit, checked by the model's rules as a create's is."""
        probe = {"taskType": "videoInference", "taskUUID": task_uuid, "model": task.model, "positivePrompt": prompt}
        try:
            parse_task(probe | {"resolution": task.resolution, "duration": task.duration})
        except CinefuseError as error:
            raise from_cinefuse(error) from error

    def _copy_prefix(self, prefix_key: str) -> str:
        copy = f"videos/{uuid.uuid4()}.prefix.mp4"
        with tempfile.TemporaryDirectory(prefix="cinefuse-remix-") as folder:
            local = Path(folder) / "prefix.mp4"
            self._copy_to(prefix_key, local)
            self.media.put_file(copy, local, "video/mp4")
        return copy

    async def extend(self, request: Request) -> dict[str, Any]:
        """A new clip starting from the last frame of a completed video (by id, or an
        uploaded clip); the video is the two stitched (``media/stitch.py``), and its
        ``seconds`` the total."""
        key_id, fields, prompt = await self._fields(request)
        reference = video_reference(fields)
        if reference is None:
            raise VideoApiError(400, "video is required.", code="missing_required_parameter", param="video")
        task_uuid = str(uuid.uuid4())
        prefix_key = f"videos/{uuid.uuid4()}.prefix.mp4"
        with tempfile.TemporaryDirectory(prefix="cinefuse-extend-") as folder:
            source = Path(folder) / "source.mp4"
            if isinstance(reference, Upload):
                source.write_bytes(reference.data)
                named, model_id = self._model(fields)
                fps_default = None
            else:
                view = await self._completed(key_id, reference, "video")
                await asyncio.to_thread(self._copy_to, self._whole_key(view), source)
                task = await asyncio.to_thread(self.store.videos.task_of, key_id, reference)
                assert task is not None
                named, model_id = view.video.model, task.model
                fps_default = task.fps
            try:
                width, height, source_fps, count = await asyncio.to_thread(clip_info, source)
            except ValueError as exc:
                raise invalid_value("video", f"The video could not be read: {exc}.") from exc
            first = await asyncio.to_thread(last_frame_png, source)
            caps = require_model(model_id)
            fields = {**fields, "size": f"{width}x{height}"}
            if fps_default is not None and "fps" not in fields:
                fields["fps"] = fps_default
            first_frame = "data:image/png;base64," + base64.b64encode(first).decode()
            plan = video_task(fields, caps, task_uuid, prompt, first_frame=first_frame)
            task = self._validated(plan)
            await asyncio.to_thread(self.media.put_file, prefix_key, source, "video/mp4")
        total = count / source_fps + (task.num_frames - 1) / task.fps  # the shared frame counts once
        video = NewVideo(
            video_id_of(task_uuid),
            key_id,
            task_uuid,
            named,
            prompt,
            format_seconds(round(total, 2)),
            plan.size,
            time.time(),
            extends=None if isinstance(reference, Upload) else reference,
            prefix_key=prefix_key,
        )
        return await self._admit(video, task)

    async def edit(self, request: Request) -> dict[str, Any]:
        """A prompt-driven edit of a completed video (by id): its model, size, duration, seed
        and settings with the new prompt, the clip steering the new one frame by frame as a
        control video (video to video: the Wan engine's VACE). A model or a server that
        cannot do it is refused here with the reason, never run as a plain create."""
        key_id, fields, prompt = await self._fields(request)
        reference = video_reference(fields)
        if reference is None:
            raise VideoApiError(400, "video is required.", code="missing_required_parameter", param="video")
        if not isinstance(reference, str):
            raise invalid_value(
                "video",
                'An edit takes a completed video of this server by id ({"id": "video_..."}); to continue an'
                " uploaded clip, use POST /v1/videos/extensions.",
            )
        source = await self._completed(key_id, reference, "video")
        task = await asyncio.to_thread(self.store.videos.task_of, key_id, reference)
        if task is None:
            raise not_found(reference, "video")
        named, model_id = self._model(fields) if text_field(fields, "model") else (source.video.model, task.model)
        problem = await asyncio.to_thread(self.edit_problem, model_id)  # reads the weights folders
        if problem is not None:
            raise VideoApiError(400, problem, code="unsupported_operation", param="model")
        task_uuid = str(uuid.uuid4())
        task = replace(task, model=model_id)
        self._check_prompt(task, task_uuid, prompt)
        steps, guidance = denoising_fields(fields)
        edited = replace(
            task,
            task_uuid=task_uuid,
            positive_prompt=prompt,
            # The clip carries the content: its first and last frames are not forced again.
            frame_images=(),
            control_video=source.result.media_key,
            control_required=True,
            steps=steps if steps is not None else task.steps,
            guidance=guidance if guidance is not None else task.guidance,
        )
        prefix_key = source.video.prefix_key
        if prefix_key is not None:  # an edit of an extension edits its new clip, after its own copy of the rest
            prefix_key = await asyncio.to_thread(self._copy_prefix, prefix_key)
        video = replace(
            source.video,
            id=video_id_of(task_uuid),
            task_uuid=task_uuid,
            model=named,
            prompt=prompt,
            created_at=time.time(),
            remixed_from=None,
            extends=None,
            prefix_key=prefix_key,
        )
        return await self._admit(video, edited)

    # --- characters ---------------------------------------------------------------------------

    async def create_character(self, request: Request) -> dict[str, Any]:
        """A name for frames of a clip (an upload, or a completed video by id) or for one
        uploaded image, stored as this key's images."""
        key_id = await self.caller(request)
        fields = await read_fields(request, self.limits)
        name = text_field(fields, "name")
        if not name or not name.strip() or len(name) > 200:
            raise VideoApiError(
                400, "name is required (1 to 200 characters).", code="missing_required_parameter", param="name"
            )
        reference = video_reference(fields)
        if reference is None:
            raise VideoApiError(400, "video is required.", code="missing_required_parameter", param="video")
        if isinstance(reference, Upload) and reference.content_type.startswith("image/"):
            pictures = [reference.data]
        else:
            with tempfile.TemporaryDirectory(prefix="cinefuse-character-") as folder:
                clip = Path(folder) / "clip.mp4"
                if isinstance(reference, Upload):
                    clip.write_bytes(reference.data)
                else:
                    view = await self._completed(key_id, reference, "video")
                    await asyncio.to_thread(self._copy_to, self._whole_key(view), clip)
                try:
                    pictures = await asyncio.to_thread(stills.frames_png, clip, CHARACTER_FRAMES)
                except ValueError as exc:
                    raise invalid_value("video", f"The video could not be read: {exc}.") from exc
        images: list[str] = []
        for picture in pictures:
            uri = "data:image/png;base64," + base64.b64encode(picture).decode()
            try:
                record = await asyncio.to_thread(self.handler.inputs.store_image, key_id, uri, "video")
            except CinefuseError as error:
                raise from_cinefuse(error) from error
            images.append(record.uuid)
        character = Character(CHARACTER_ID_PREFIX + uuid.uuid4().hex, key_id, name, tuple(images), time.time())
        await asyncio.to_thread(self.store.videos.add_character, character)
        return character_object(character)

    async def character(self, request: Request, character_id: str) -> dict[str, Any]:
        key_id = await self.caller(request)
        found = await asyncio.to_thread(self.store.videos.character, key_id, character_id)
        if found is None:
            raise VideoApiError(
                404, f"No character {character_id!r} for this API key.", code="not_found", param="character_id"
            )
        return character_object(found)

    # --- reading, deleting ------------------------------------------------------------------------

    async def page(
        self, request: Request, after: str | None, limit: str | None, order: str
    ) -> tuple[list[VideoView], bool]:
        key_id = await self.caller(request)
        count = DEFAULT_PAGE if limit is None else _page_size(limit)
        if order not in ("asc", "desc"):
            raise invalid_value("order", f"order must be asc or desc, not {order!r}.")
        direction: Order = "asc" if order == "asc" else "desc"
        page = await asyncio.to_thread(self.store.videos.page, key_id, after, count, direction)
        if page is None:
            raise invalid_value("after", f"after names no video of this API key: {after!r}.")
        return page

    async def delete(self, key_id: int, video_id: str) -> dict[str, Any]:
        view = await self.find(key_id, video_id)
        if view.job_status not in TERMINAL_JOB_STATUSES:
            self.handler.jobs.cancel(key_id, view.video.task_uuid)
        if not await asyncio.to_thread(self.store.videos.mark_deleted, key_id, video_id):
            raise not_found(video_id)
        keys = [view.video.prefix_key] if view.video.prefix_key else []
        media_key = view.result.media_key
        if media_key is not None:
            keys += [media_key, *(derived_key(media_key, v) for v in ("thumbnail", "spritesheet", "whole"))]
        for key in keys:
            await asyncio.to_thread(self.media.delete, key)
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    async def content(self, key_id: int, video_id: str, variant: str) -> Response:
        if variant not in VARIANTS:
            raise invalid_value("variant", f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}.")
        view = await self._completed(key_id, video_id, "video_id")
        whole = await asyncio.to_thread(self._whole_key, view)
        if variant == "video":
            return self._video_file(whole)
        return await asyncio.to_thread(self._still, whole, variant)

    async def _completed(self, key_id: int, video_id: str, param: str) -> VideoView:
        """The key's video, completed and with its media still there."""
        view = await self.find(key_id, video_id, param)
        if view.result.status != "success":
            raise VideoApiError(
                400,
                f"Video {video_id} is {video_object(view)['status']}: its content exists once it is completed.",
                code="video_not_ready",
                param=param,
            )
        if view.result.media_key is None:
            raise VideoApiError(404, f"The content of video {video_id} has expired.", code="expired", param=param)
        return view

    # --- media ----------------------------------------------------------------------------------

    def _whole_key(self, view: VideoView) -> str:
        """The media key of the video the client sees: the clip itself, or for an extension
        the source and the clip stitched (made on first use, kept next to the clip)."""
        media_key = view.result.media_key
        assert media_key is not None
        if view.video.prefix_key is None:
            return media_key
        whole = derived_key(media_key, "whole")
        if self.media.exists(whole):
            return whole
        with tempfile.TemporaryDirectory(prefix="cinefuse-stitch-") as folder:
            prefix, clip, out = Path(folder) / "prefix.mp4", Path(folder) / "clip.mp4", Path(folder) / "whole.mp4"
            self._copy_to(view.video.prefix_key, prefix)
            self._copy_to(media_key, clip)
            _, _, fps, _ = clip_info(clip)
            stitch(prefix, clip, out, fps=round(fps))
            self.media.put_file(whole, out, "video/mp4")
        return whole

    def _copy_to(self, media_key: str, path: Path) -> None:
        """A local copy of a stored clip (the media store hands out no remote file handles)."""
        local = self.media.open_local(media_key)
        if local is not None:
            shutil.copyfile(local, path)
        else:
            path.write_bytes(self.media.read_bytes(media_key))

    def _video_file(self, media_key: str) -> Response:
        """The MP4 itself: from a local store with Range support (Starlette's ``FileResponse``),
        from a remote one by a redirect to a short-lived presigned URL (which serves Range too)."""
        path = self.media.open_local(media_key)
        if path is None:
            if not self.media.exists(media_key):
                raise VideoApiError(404, "The video file no longer exists.", code="expired", param="video_id")
            return RedirectResponse(self.media.signed_url(media_key, int(time.time()) + REDIRECT_TTL_S), 307)
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(path.suffix.lower(), "video/mp4"),
            headers={"Cache-Control": "private, max-age=0", "X-Content-Type-Options": "nosniff"},
        )

    def _still(self, media_key: str, variant: str) -> Response:
        """A thumbnail or spritesheet, made on first request and kept next to the video
        (removed with it: by DELETE, or by the sweeper at the video's ttl)."""
        key = derived_key(media_key.replace(".whole.", "."), variant)
        content_type = stills.THUMBNAIL_TYPE if variant == "thumbnail" else stills.SPRITESHEET_TYPE
        try:
            data = self.media.read_bytes(key)
        except FileNotFoundError:
            make = stills.thumbnail if variant == "thumbnail" else stills.spritesheet
            with tempfile.TemporaryDirectory(prefix="cinefuse-still-") as folder:
                local = Path(folder) / "clip.mp4"
                self._copy_to(media_key, local)
                data = make(local)
            self.media.put_bytes(key, data, content_type)
        return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=0"})


#: ``limit`` of ``GET /v1/videos``: default and bounds.
DEFAULT_PAGE = 20
MAX_PAGE = 100


def _page_size(limit: str) -> int:
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
        raise invalid_value("limit", f"limit must be a whole number from 1 to {MAX_PAGE}, not {limit!r}.")
    return int(limit)


def character_object(character: Character) -> dict[str, Any]:
    return {"id": character.id, "object": "character", "name": character.name, "created_at": int(character.created_at)}
