"""Image inputs of tasks: uploads, inline images, image UUIDs and URLs.

At submission (before the acknowledgement) inline images are decoded, checked and
stored like uploads, so a job row carries only image UUIDs and URLs. URL images
are fetched through the outbound guard when the job runs (API.md 3.2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cinefuse.delivery.outbound import OutboundClient, OutboundError, OutboundRefused
from cinefuse.errors import InputImageError, RequestError, invalid_image
from cinefuse.jobs.models import ImageRecord
from cinefuse.jobs.repository import JobRepository
from cinefuse.media.images import (
    MAX_IMAGE_BYTES,
    classify_image_reference,
    decode_base64_image,
    load_image,
    sniff_image_format,
)
from cinefuse.storage.base import MediaStore

_EXTENSIONS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "GIF": ("gif", "image/gif"),
}

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class StoredImage:
    record: ImageRecord
    pixels: Image


class ImageInputs:
    def __init__(self, repo: JobRepository, store: MediaStore, outbound: OutboundClient) -> None:
        self.repo = repo
        self.store = store
        self.outbound = outbound

    def store_image(self, key_id: int, value: str, parameter: str) -> StoredImage:
        """Decode, check and keep an image (imageUpload, or an inline task input).

        A UUID names an existing image of this key (returned as is); a URL is fetched
        now. Raises ``RequestError`` (``invalidImage``) naming ``parameter``.
        """
        ref = classify_image_reference(value, parameter)
        if ref.kind == "uuid":
            record = self._record(key_id, ref.value, parameter)
            return StoredImage(record, self._load_record(record, parameter))
        data = self._fetch(ref.value, parameter) if ref.kind == "url" else decode_base64_image(ref.value, parameter)
        return self._keep(key_id, data, parameter)

    def _keep(self, key_id: int, data: bytes, parameter: str) -> StoredImage:
        """Decode and check ``data``, then store it as a new image of this key."""
        pixels = load_image(data, parameter)
        fmt = sniff_image_format(data) or "PNG"
        ext, content_type = _EXTENSIONS[fmt]
        image_uuid = str(uuid.uuid4())
        media_key = f"images/{image_uuid}.{ext}"
        self.store.put_bytes(media_key, data, content_type)
        height, width = pixels.shape[:2]
        record = ImageRecord(image_uuid, key_id, media_key, content_type, width, height)
        self.repo.insert_image(record)
        return StoredImage(record, pixels)

    def settle(self, key_id: int, value: str, parameter: str) -> ImageRecord | None:
        """A task input before the acknowledgement: an image UUID must name this key's
        image, an inline image is decoded, checked and stored; both give its record.
        URLs give None: they are fetched (and checked) when the job runs."""
        ref = classify_image_reference(value, parameter)
        if ref.kind == "url":
            return None
        if ref.kind == "uuid":
            return self._record(key_id, ref.value, parameter)
        return self._keep(key_id, decode_base64_image(ref.value, parameter), parameter).record

    def load(self, key_id: int, value: str, parameter: str) -> Image:
        """Pixels of a task input at run time. Raises ``InputImageError`` (a task failure)."""
        try:
            ref = classify_image_reference(value, parameter)
            if ref.kind == "uuid":
                return self._load_record(self._record(key_id, ref.value, parameter), parameter)
            data = self._fetch(ref.value, parameter) if ref.kind == "url" else decode_base64_image(ref.value, parameter)
            return load_image(data, parameter)
        except RequestError as exc:
            raise InputImageError(exc.message, parameter=parameter) from exc

    def _record(self, key_id: int, image_uuid: str, parameter: str) -> ImageRecord:
        record = self.repo.get_image(key_id, image_uuid)
        if record is None:
            raise invalid_image(f"Image at {parameter}: no uploaded image {image_uuid} (or it expired).", parameter)
        return record

    def _load_record(self, record: ImageRecord, parameter: str) -> Image:
        try:
            data = self.store.read_bytes(record.media_key)
        except FileNotFoundError as exc:
            raise invalid_image(f"Image at {parameter}: image {record.uuid} is no longer stored.", parameter) from exc
        return load_image(data, parameter)

    def _fetch(self, url: str, parameter: str) -> bytes:
        try:
            return self.outbound.fetch_sync(url, max_bytes=MAX_IMAGE_BYTES)
        except OutboundRefused as exc:
            raise invalid_image(f"Image URL at {parameter} is not allowed: {exc}.", parameter) from exc
        except OutboundError as exc:
            raise invalid_image(f"Image URL at {parameter} could not be fetched: {exc}.", parameter) from exc
