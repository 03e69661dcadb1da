"""Image inputs of tasks: uploads, inline images, image UUIDs and URLs.

At submission (before the acknowledgement) inline images are decoded, checked and stored
like uploads, and image UUIDs are verified, so a job row carries only image UUIDs and
URLs (``settle``). URL images are fetched through the outbound guard when the job runs
(``load_task_images``). Decoding and pixel checks are ``media.images``'; the records of
stored images are the job store's; the bytes are the media store's.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cinefuse.delivery.outbound import OutboundClient, OutboundError, OutboundRefused
from cinefuse.errors import InferenceError, InputImageError, InvalidImage, RequestError
from cinefuse.jobs.models import ImageRecord
from cinefuse.jobs.store.images import ImageRepository
from cinefuse.media.clips import control_frames
from cinefuse.media.frames import Frame
from cinefuse.media.images import (
    MAX_IMAGE_BYTES,
    classify_image_reference,
    decode_base64_image,
    load_image,
    sniff_image_format,
)
from cinefuse.media.memory import DECODE_SLOTS, release_freed_memory
from cinefuse.schemas.tasks import FrameImage, ImageInput, VideoInferenceTask
from cinefuse.storage.base import MediaStore

log = logging.getLogger(__name__)

_EXTENSIONS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "GIF": ("gif", "image/gif"),
}


@dataclass(frozen=True)
class TaskImages:
    """A task's input images, decoded: by role for the engine, by parameter for the
    safety check. ``first`` also decides the output size of a frame-image task."""

    first: Frame | None = None
    last: Frame | None = None
    references: tuple[Frame, ...] = ()
    by_parameter: dict[str, Frame] = field(default_factory=dict)
    #: The frames of the task's control video (``control_video``), if it has one.
    control: tuple[Frame, ...] = ()

    @classmethod
    def of(cls, task: VideoInferenceTask, load: Callable[[ImageInput], Frame]) -> TaskImages:
        """Decode every image of ``task`` with ``load`` (which raises on a bad one)."""
        by_parameter = {image.parameter: load(image) for image in _inputs_of(task)}
        frames = {f.position: by_parameter[f.image.parameter] for f in task.frame_images}
        return cls(
            first=frames.get("first"),
            last=frames.get("last"),
            references=tuple(by_parameter[r.parameter] for r in task.reference_images),
            by_parameter=by_parameter,
        )


def _decode(data: bytes, parameter: str) -> Frame:
    """``media.images.load_image`` within the process's decode slots (a few at a time)."""
    with DECODE_SLOTS:
        return load_image(data, parameter)


def _inputs_of(task: VideoInferenceTask) -> list[ImageInput]:
    return [f.image for f in task.frame_images] + list(task.reference_images)


class ImageInputs:
    def __init__(self, images: ImageRepository, store: MediaStore, outbound: OutboundClient) -> None:
        self.images = images
        self.store = store
        self.outbound = outbound

    def store_image(self, key_id: int, value: str, parameter: str) -> ImageRecord:
        """Decode, check and keep an image (imageUpload).

        A UUID names an existing image of this key (returned as is, after checking it
        still decodes); a URL is fetched now. Raises ``InvalidImage`` naming ``parameter``.
        """
        ref = classify_image_reference(value, parameter)
        if ref.kind == "uuid":
            record = self._record(key_id, ref.value, parameter)
            self._load_record(record, parameter)
            return record
        data = self._fetch(ref.value, parameter) if ref.kind == "url" else decode_base64_image(ref.value, parameter)
        return self._keep(key_id, data, parameter)

    def _keep(self, key_id: int, data: bytes, parameter: str) -> ImageRecord:
        """Decode and check ``data``, then store it as a new image of this key."""
        return self._store(key_id, data, self.check(data, parameter))

    def _store(self, key_id: int, data: bytes, size: tuple[int, int]) -> ImageRecord:
        """Store checked image bytes (``size``: width, height) as a new image of this key."""
        width, height = size
        fmt = sniff_image_format(data) or "PNG"
        ext, content_type = _EXTENSIONS[fmt]
        image_uuid = str(uuid.uuid4())
        media_key = f"images/{image_uuid}.{ext}"
        self.store.put_bytes(media_key, data, content_type)
        record = ImageRecord(image_uuid, key_id, media_key, content_type, width, height)
        self.images.insert(record)
        return record

    def settle(self, key_id: int, task: VideoInferenceTask, *, keep: bool = True) -> VideoInferenceTask:
        """``task`` with each inline image stored (the task names it by UUID from then on)
        and each image UUID verified as this key's. URLs stay: they are fetched (and
        checked) when the job runs. Raises ``InvalidImage`` naming the parameter.

        ``keep=False`` (a dry run) checks the same and changes nothing: inline images are
        decoded but not stored, and verified UUIDs keep their retention."""

        # Every image is checked before any is stored: a task refused for its third image
        # must not leave its first two behind.
        inline: dict[str, tuple[bytes, tuple[int, int]]] = {}
        for image in _inputs_of(task):
            ref = classify_image_reference(image.value, image.parameter)
            if ref.kind == "uuid":
                self._record(key_id, ref.value, image.parameter, touch=keep)
            elif ref.kind == "inline":
                data = decode_base64_image(ref.value, image.parameter)
                inline[image.parameter] = (data, self.check(data, image.parameter))
        if not keep:
            return task

        def settled(image: ImageInput) -> ImageInput:
            ref = classify_image_reference(image.value, image.parameter)
            if ref.kind == "url":
                return image
            if ref.kind == "uuid":
                return ImageInput(ref.value, image.parameter)
            data, size = inline[image.parameter]
            return ImageInput(self._store(key_id, data, size).uuid, image.parameter)

        return replace(
            task,
            frame_images=tuple(FrameImage(settled(f.image), f.position) for f in task.frame_images),
            reference_images=tuple(settled(r) for r in task.reference_images),
        )

    def load_task_images(self, key_id: int, task: VideoInferenceTask) -> TaskImages:
        """Every input image of ``task``, decoded, at run time, and its control video's
        frames. Raises ``InputImageError`` (a task failure) naming the parameter of the first
        image that fails, ``InferenceError`` when an edit's clip is gone."""
        images = TaskImages.of(task, lambda image: self.load(key_id, image))
        if task.control_video is None:
            return images
        return replace(images, control=self.load_control_video(task))

    def load_control_video(self, task: VideoInferenceTask) -> tuple[Frame, ...]:
        """``task.num_frames`` frames of its control video from the media store. A clip
        deleted (or unreadable) since the task was accepted fails an edit
        (``control_required``) and is left out of a remix."""
        assert task.control_video is not None
        try:
            with tempfile.TemporaryDirectory(prefix="cinefuse-control-") as folder:
                path = self.store.open_local(task.control_video)
                if path is None:
                    path = Path(folder) / "control.mp4"
                    path.write_bytes(self.store.read_bytes(task.control_video))
                return control_frames(path, task.num_frames)
        except (OSError, ValueError, KeyError) as exc:
            if task.control_required:
                raise InferenceError(
                    f"The video to edit can no longer be read ({exc}): it was deleted or expired before the edit ran.",
                    parameter="video",
                ) from None
            log.warning("task %s: its control video %s is gone (%s); rendering without it", task.task_uuid,
                        task.control_video, exc)  # fmt: skip
            return ()

    def load(self, key_id: int, image: ImageInput) -> Frame:
        """Pixels of one task input at run time. Raises ``InputImageError``."""
        try:
            ref = classify_image_reference(image.value, image.parameter)
            if ref.kind == "uuid":
                return self._load_record(self._record(key_id, ref.value, image.parameter), image.parameter)
            if ref.kind == "url":
                data = self._fetch(ref.value, image.parameter)
            else:
                data = decode_base64_image(ref.value, image.parameter)
            return _decode(data, image.parameter)
        except RequestError as exc:
            raise InputImageError.from_request_error(exc) from exc

    def check(self, data: bytes, parameter: str) -> tuple[int, int]:
        """Decode and check an image, keeping nothing; returns its (width, height).

        The pixels are dropped at once and their memory handed back to the system: a
        burst of large inputs must not leave the server hundreds of megabytes bigger."""
        try:
            height, width = _decode(data, parameter).shape[:2]
        finally:
            release_freed_memory()
        return width, height

    def check_upload(self, key_id: int, value: str, parameter: str) -> None:
        """What ``store_image`` checks, changing nothing (a dry run's imageUpload)."""
        ref = classify_image_reference(value, parameter)
        if ref.kind == "uuid":
            self._record(key_id, ref.value, parameter, touch=False)
        else:
            data = self._fetch(ref.value, parameter) if ref.kind == "url" else decode_base64_image(ref.value, parameter)
            self.check(data, parameter)

    def _record(self, key_id: int, image_uuid: str, parameter: str, *, touch: bool = True) -> ImageRecord:
        record = self.images.get(key_id, image_uuid, touch=touch)
        if record is None:
            raise InvalidImage(
                f"Image at {parameter}: no uploaded image {image_uuid} (or it expired).", parameter=parameter
            )
        return record

    def _load_record(self, record: ImageRecord, parameter: str) -> Frame:
        try:
            data = self.store.read_bytes(record.media_key)
        except FileNotFoundError as exc:
            raise InvalidImage(
                f"Image at {parameter}: image {record.uuid} is no longer stored.", parameter=parameter
            ) from exc
        return _decode(data, parameter)

    def _fetch(self, url: str, parameter: str) -> bytes:
        try:
            return self.outbound.fetch_sync(url, max_bytes=MAX_IMAGE_BYTES)
        except OutboundRefused as exc:
            raise InvalidImage(f"Image URL at {parameter} is not allowed: {exc}.", parameter=parameter) from exc
        except OutboundError as exc:
            raise InvalidImage(f"Image URL at {parameter} could not be fetched: {exc}.", parameter=parameter) from exc
