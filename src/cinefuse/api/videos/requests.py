"""Reading a create request of the OpenAI-style front door and turning it into a Runware task.

``POST /v1/videos`` comes as multipart/form-data (what the ``openai`` SDKs send: nested
fields flattened as ``input_reference[image_url]``, an uploaded file as a file part), as
``application/x-www-form-urlencoded`` or as JSON. ``read_fields`` reads any of them into one
flat dict, bounded in bytes and, for JSON, in values (``api/envelope.py``);
``video_task`` maps the fields onto a ``videoInference`` task (docs/openai.md,
"Create"), which the same parser as ``POST /v1`` then validates.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from cinefuse.api.envelope import EnvelopeLimits, parse_tasks
from cinefuse.api.videos.errors import VideoApiError, invalid_value
from cinefuse.errors import CinefuseError, PayloadTooLarge
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.fitting import allowed_sizes, fit_duration, fit_size, format_seconds

#: What the SDK sends when the caller leaves them out (openai/types/video_create_params.py).
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
#: The longest clip a request may ask for before the rule picks the nearest duration.
MAX_SECONDS = 600.0
MAX_FORM_FIELDS = 64
_SIZE = re.compile(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*")
#: ``num_inference_steps`` and ``guidance_scale`` bounds (the diffusers pipelines' useful range).
MAX_STEPS = 100
MAX_GUIDANCE = 20.0
#: Extra fields (``extra_body``) -> where they go in the task's PixVerse settings.
PROVIDER_FIELDS = {
    "camera_movement": "cameraMovement",
    "style": "style",
    "effect": "effect",
    "motion_mode": "motionMode",
}

Fields = dict[str, Any]


@dataclass(frozen=True)
class Upload:
    """A file part of a form."""

    content_type: str
    data: bytes

    def data_uri(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode()}"


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes (a declared
    ``Content-Length`` over it is refused before reading anything)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise VideoApiError(413, f"The body is over {limit} bytes.", code="request_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise VideoApiError(413, f"The body is over {limit} bytes.", code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(request: Request, body: bytes) -> Request:
    """A request over the same scope whose body is ``body`` (already read)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def _flatten(value: Mapping[str, Any], prefix: str = "") -> Fields:
    """``{"input_reference": {"image_url": u}}`` -> ``{"input_reference[image_url]": u}``:
    the form's flattening, so that JSON and forms take one path."""
    flat: Fields = {}
    for key, item in value.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(item, Mapping):
            flat.update(_flatten(item, name))
        else:
            flat[name] = item
    return flat


async def read_fields(request: Request, limits: EnvelopeLimits) -> Fields:
    """The request's fields, flat (see ``_flatten``); a file part becomes an ``Upload``.
    Raises ``VideoApiError`` (400 for a body that is not a form or a JSON object; 413 for one
    over the byte or JSON-value bound)."""
    body = await read_body(request, limits.max_bytes)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await _replay(request, body).form(
                max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=limits.max_bytes
            )
        except Exception as exc:  # starlette raises its own and python-multipart's errors
            raise VideoApiError(400, f"The form could not be read: {exc}", code="invalid_body") from exc
        fields: Fields = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields[name] = Upload(value.content_type or "application/octet-stream", await value.read())
            elif name.endswith("[]"):  # a list, as the SDK's form encoding sends one
                fields.setdefault(name[:-2], []).append(value)
            else:
                fields[name] = value
        await form.close()
        return fields
    if not body.strip():
        return {}  # no fields at all: each missing one is named where it is required
    try:
        parsed = await parse_tasks(body, limits.max_values)
    except PayloadTooLarge as error:
        raise VideoApiError(413, error.message, code="request_too_large") from error
    except CinefuseError as error:
        raise VideoApiError(400, error.message, code="invalid_json") from error
    if not isinstance(parsed, dict):
        raise VideoApiError(400, "The body must be a JSON object or a form.", code="invalid_json")
    return _flatten(parsed)


def text_field(fields: Fields, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):  # a JSON number or object, or a file part
        raise invalid_value(name, f"{name} must be a string.")
    return value


def number_field(fields: Fields, name: str, *, integer: bool = False) -> float | None:
    """A number given as a JSON number or a form's text; None when absent."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid_value(name, f"{name} must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid_value(name, f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(number) or (integer and not number.is_integer()):
        raise invalid_value(name, f"{name} must be {'a whole' if integer else 'a finite'} number, not {value!r}.")
    return number


def parse_size(caps: ModelCapabilities, value: str) -> tuple[int, int]:
    match = _SIZE.fullmatch(value)
    width, height = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if width <= 0 or height <= 0:
        raise invalid_value(
            "size",
            f"size must be WIDTHxHEIGHT in pixels, not {value!r}; {caps.model_id} renders"
            f" {', '.join(allowed_sizes(caps))} and the nearest is used.",
        )
    return width, height


def input_reference(fields: Fields) -> str | None:
    """The image that becomes the first frame: an uploaded file (a data URI by now), an
    ``image_url`` (http(s) or a data URI), or a ``file_id`` (an ``imageUpload``'s imageUUID)."""
    given = [
        (name, fields[name])
        for name in ("input_reference", "input_reference[image_url]", "input_reference[file_id]")
        if fields.get(name) not in (None, "")
    ]
    if not given:
        return None
    if len(given) > 1:
        raise invalid_value("input_reference", "Give one input_reference: a file, an image_url or a file_id.")
    name, value = given[0]
    if isinstance(value, Upload):
        return value.data_uri()
    if not isinstance(value, str):
        raise invalid_value("input_reference", f"{name} must be a string.")
    return value


@dataclass(frozen=True)
class VideoPlan:
    """A create request mapped onto a model: the Runware task, and the exact output size,
    which the front door sets on the validated task even where the task has a first frame
    (``POST /v1`` takes the size from the image; here ``size`` decides, as OpenAI's API has
    it, and the engine fits the image to it)."""

    raw_task: dict[str, Any]
    seconds: str
    width: int
    height: int
    #: ``num_inference_steps`` and ``guidance_scale`` (``extra_body``): not Runware task
    #: fields, so the front door sets them on the validated task too.
    steps: int | None = None
    guidance: float | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def video_task(
    fields: Fields,
    caps: ModelCapabilities,
    task_uuid: str,
    prompt: str,
    *,
    first_frame: str | None = None,
    references: tuple[str, ...] = (),
) -> VideoPlan:
    """The ``videoInference`` task for a create request on the model ``caps`` (the sizes and
    durations rule: ``models/fitting.py``). Raises ``VideoApiError`` for a value no rule can
    fit; the task itself is validated by the caller, as ``POST /v1`` validates it.
    ``first_frame`` (an extension's) stands in for ``input_reference``; ``references`` are
    image UUIDs (characters' images) for ``referenceImages``."""
    width, height = parse_size(caps, text_field(fields, "size") or DEFAULT_SIZE)
    (out_w, out_h), tier = fit_size(caps, width, height)
    fps = number_field(fields, "fps", integer=True)
    frames = number_field(fields, "num_frames", integer=True)
    if frames is not None:
        if frames <= 0:
            raise invalid_value("num_frames", "num_frames must be positive.")
        seconds = frames / (fps or caps.default_fps)
        seconds_param = "num_frames"
    else:
        seconds = number_field(fields, "seconds") or float(DEFAULT_SECONDS)
        seconds_param = "seconds"
    if not 0 < seconds <= MAX_SECONDS:
        raise invalid_value(
            seconds_param,
            f"{seconds_param} must give a clip of more than 0 and at most {MAX_SECONDS:g} seconds;"
            f" {caps.model_id} renders {', '.join(f'{d:g}' for d in caps.durations)} s and the nearest is used.",
        )
    provider = {
        wire: value for name, wire in PROVIDER_FIELDS.items() if (value := text_field(fields, name)) not in (None, "")
    }
    duration = fit_duration(caps, seconds, tier, provider_settings=bool(provider))
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "model": caps.model_id,
        "positivePrompt": prompt,
        "duration": duration,
        "numberResults": 1,
        "outputFormat": "MP4",
    }
    seed = number_field(fields, "seed", integer=True)
    if seed is not None:
        task["seed"] = int(seed)
    if fps is not None:
        task["fps"] = int(fps)
    webhook = text_field(fields, "webhook_url")
    if webhook:
        task["webhookURL"] = webhook
    negative = text_field(fields, "negative_prompt")
    if negative:
        task["negativePrompt"] = negative
    reference = first_frame or input_reference(fields)
    if references:
        task["referenceImages"] = list(references)
    if reference is None:
        task |= {"width": out_w, "height": out_h}
    else:
        # A Runware task with a frame image takes its aspect from the image (docs/api.md 3.2),
        # so it names the tier here; the front door then sets the exact size (``VideoPlan``).
        task |= {"resolution": tier, "frameImages": [{"inputImage": reference, "frame": "first"}]}
    if provider:
        task["providerSettings"] = {"pixverse": provider}
    steps, guidance = denoising_fields(fields)
    return VideoPlan(task, format_seconds(duration), out_w, out_h, steps, guidance)


def denoising_fields(fields: Fields) -> tuple[int | None, float | None]:
    """``num_inference_steps`` (1 to ``MAX_STEPS``) and ``guidance_scale`` (0 to
    ``MAX_GUIDANCE``; 1 turns classifier-free guidance off) from ``extra_body``."""
    steps = number_field(fields, "num_inference_steps", integer=True)
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise invalid_value("num_inference_steps", f"num_inference_steps must be a whole number from 1 to {MAX_STEPS}.")
    guidance = number_field(fields, "guidance_scale")
    if guidance is not None and not 0 <= guidance <= MAX_GUIDANCE:
        raise invalid_value("guidance_scale", f"guidance_scale must be from 0 to {MAX_GUIDANCE:g}.")
    return (int(steps) if steps is not None else None), guidance


def character_ids(fields: Fields) -> list[str]:
    """``characters`` (``extra_body``): ids of the key's characters, as a list (JSON, or a
    form's ``characters[]``) or one id."""
    value = fields.get("characters")
    if value in (None, "", []):
        return []
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise invalid_value("characters", "characters must be a list of character ids.")
    return ids


def video_reference(fields: Fields) -> str | Upload | None:
    """``video`` of an extension, an edit or a character: ``{"id": ...}`` (``video[id]``), an
    id as text, or an uploaded file."""
    value = fields.get("video[id]", fields.get("video"))
    if value in (None, ""):
        return None
    if isinstance(value, str | Upload):
        return value
    raise invalid_value("video", 'video must be {"id": <video id>} or a file.')
