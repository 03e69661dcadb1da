"""Wire task parsing: raw JSON task objects -> typed, validated tasks.

Every rule of API.md section 3 is enforced here, reading model-specific limits from
``ModelCapabilities`` (``models/``); nothing else in the server re-validates. A
rejection raises :class:`~cinefuse.errors.RequestError` whose ``code`` and
``parameter`` follow API.md section 2:

* ``missing<Param>``: a required field is absent (or null);
* ``invalid<Param>``: wrong JSON type, or a number/string out of its range;
* ``unsupported<Param>``: a value outside the model's enumerated choices;
* ``unknownParameter``, ``incompatibleParameters``: as named.

``<Param>`` is the field's name with its first letter upper-cased
(``positivePrompt`` -> ``missingPositivePrompt``); nested fields use their leaf name
(``providerSettings.pixverse.cameraMovement`` -> ``unsupportedCameraMovement``),
except ``safety.mode`` -> ``SafetyMode`` and frame positions -> ``FramePosition``.
Optional fields sent as JSON ``null`` count as absent (clients serialise unset
options that way).
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from cinefuse.errors import AuthError, RequestError
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.registry import MODELS, get_model

TASK_TYPES = ("authentication", "ping", "imageUpload", "videoInference", "getResponse", "cancelTask")
SEED_MAX = 2_147_483_647
TTL_MIN = 60
#: Our rule: a ttl beyond ten years is certainly a mistake (and would overflow timestamps).
TTL_MAX = 10 * 365 * 86_400
URL_MAX_LENGTH = 2048
FRAME_POSITIONS: dict[Any, Literal["first", "last"]] = {"first": "first", "last": "last", 0: "first", -1: "last"}
SAFETY_MODES = ("none", "fast", "full")
_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)

SafetyMode = Literal["none", "fast", "full"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]
FramePosition = Literal["first", "last"]


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a usable host (checked again, resolved, at delivery)."""
    if len(value) > URL_MAX_LENGTH or not _URL_RE.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        return False
    return bool(host)


def _stem(name: str) -> str:
    return name[0].upper() + name[1:]


def _fmt(values: list[Any] | tuple[Any, ...]) -> str:
    return ", ".join(_fmt_value(v) for v in values)


def _fmt_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Fields:
    """Reads fields of one JSON object, remembering which were consumed.

    ``path`` is the dotted prefix for error parameters (``""`` at top level).
    """

    def __init__(self, obj: dict[str, Any], path: str = "") -> None:
        self.obj = obj
        self.path = path
        self.seen: set[str] = set()

    def param(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return self.obj.get(name) is not None

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.obj.get(name)

    def _missing(self, name: str, stem: str | None) -> RequestError:
        return RequestError(
            f"Missing required parameter: {self.param(name)}.",
            code=f"missing{stem or _stem(name)}",
            parameter=self.param(name),
        )

    def _invalid(self, name: str, stem: str | None, message: str, type_: str, **kw: Any) -> RequestError:
        return RequestError(message, code=f"invalid{stem or _stem(name)}", parameter=self.param(name), type=type_, **kw)

    def string(
        self, name: str, *, required: bool = False, length: tuple[int, int] | None = None, stem: str | None = None
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise self._missing(name, stem)
            return None
        if not isinstance(value, str):
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected a string.", "string")
        if length and not length[0] <= len(value) <= length[1]:
            raise self._invalid(
                name,
                stem,
                f"Invalid length for {self.param(name)}: must be {length[0]}..{length[1]} characters,"
                f" got {len(value)}.",
                "string",
            )
        return value

    def integer(
        self, name: str, *, bounds: tuple[int, int] | None = None, stem: str | None = None, required: bool = False
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise self._missing(name, stem)
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected an integer.", "integer")
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise self._invalid(
                name,
                stem,
                f"Invalid value for {self.param(name)} parameter: must be between {bounds[0]} and {bounds[1]}.",
                "integer",
            )
        return value

    def boolean(self, name: str, *, stem: str | None = None) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected true or false.", "boolean")
        return value

    def choice(
        self, name: str, allowed: tuple[Any, ...], *, stem: str | None = None, type_: str = "string"
    ) -> Any | None:
        """A value from ``allowed``; wrong JSON type is invalid*, wrong value unsupported*."""
        value = self.raw(name)
        if value is None:
            return None
        if type_ in ("integer", "float"):
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok_type = isinstance(value, str)
        if not ok_type:
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected a {type_}.", type_)
        if value not in allowed:
            raise RequestError(
                f"Invalid value for {self.param(name)} parameter. Allowed values: {_fmt(allowed)}.",
                code=f"unsupported{stem or _stem(name)}",
                parameter=self.param(name),
                type=type_,
                allowed_values=list(allowed),
            )
        return value

    def url(self, name: str, *, stem: str | None = None) -> str | None:
        value = self.string(name, stem=stem)
        if value is not None and not _is_http_url(value):
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected an http(s) URL.", "string")
        return value

    def object(self, name: str) -> _Fields | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise RequestError(
                f"Invalid value for {self.param(name)}: expected an object.",
                code=f"invalid{_stem(name)}",
                parameter=self.param(name),
                type="object",
            )
        return _Fields(value, self.param(name))

    def array(self, name: str, *, items: tuple[int, int], stem: str | None = None) -> list[Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._invalid(name, stem, f"Invalid value for {self.param(name)}: expected an array.", "array")
        if not items[0] <= len(value) <= items[1]:
            raise self._invalid(
                name, stem, f"Invalid value for {self.param(name)}: {items[0]}..{items[1]} items allowed.", "array"
            )
        return value

    def reject_unknown(self) -> None:
        for key in self.obj:
            if key not in self.seen:
                raise RequestError(
                    f"Unknown parameter: {self.param(key)}.", code="unknownParameter", parameter=self.param(key)
                )


# ---------------------------------------------------------------------------- task types


@dataclass(frozen=True)
class AuthenticationTask:
    api_key: str | None
    connection_session_uuid: str | None
    task_uuid: str | None = None
    task_type: str = "authentication"


@dataclass(frozen=True)
class PingTask:
    task_uuid: str | None = None
    task_type: str = "ping"


@dataclass(frozen=True)
class ImageUploadTask:
    task_uuid: str
    image: str
    task_type: str = "imageUpload"


@dataclass(frozen=True)
class TaskLookup:
    """getResponse and cancelTask: both name an earlier task by its UUID."""

    task_type: str
    task_uuid: str


@dataclass(frozen=True)
class ImageInput:
    """An image as given: a UUID of an uploaded image, an http(s) URL, a data URI or bare base64.

    ``parameter`` is its dotted path, for errors found later (decode, fetch).
    """

    value: str
    parameter: str


@dataclass(frozen=True)
class FrameImage:
    image: ImageInput
    position: FramePosition


@dataclass(frozen=True)
class VideoInferenceTask:
    task_uuid: str
    model: str
    positive_prompt: str
    resolution: str
    duration: float
    fps: int
    seed: int
    number_results: int
    output_format: OutputFormat
    output_quality: int
    #: Exact size; ``None`` when it follows the first frame image's aspect (decided on decode).
    width: int | None
    height: int | None
    negative_prompt: str | None = None
    output_type: str = "URL"
    delivery_method: str = "async"
    webhook_url: str | None = None
    upload_endpoint: str | None = None
    ttl: int | None = None
    include_cost: bool = False
    safety_mode: SafetyMode = "none"
    safety_check_inputs: bool = False
    safety_tolerance: bool = False
    frame_images: tuple[FrameImage, ...] = ()
    reference_images: tuple[ImageInput, ...] = ()
    camera_movement: str | None = None
    effect: str | None = None
    style: str | None = None
    motion_mode: str = "normal"
    task_type: str = "videoInference"

    @property
    def num_frames(self) -> int:
        return round(self.duration * self.fps)

    def result_seed(self, index: int) -> int:
        """Seed of result ``index``: ``seed + index``, wrapping inside 0..SEED_MAX."""
        return (self.seed + index) % (SEED_MAX + 1)

    def effective_motion_mode(self, caps: ModelCapabilities) -> str:
        """API.md: ``fast`` silently becomes ``normal`` at 8 s or 1080p."""
        if self.motion_mode == "fast" and (
            self.duration in caps.fast_mode_excluded_durations or self.resolution in caps.fast_mode_excluded_resolutions
        ):
            return "normal"
        return self.motion_mode


Task = AuthenticationTask | PingTask | ImageUploadTask | TaskLookup | VideoInferenceTask


# ---------------------------------------------------------------------------- parsing


def task_identity(raw: Any) -> tuple[str | None, str | None]:
    """Best-effort (taskType, taskUUID) of a raw task, for labelling its errors."""
    if not isinstance(raw, dict):
        return None, None
    task_type, task_uuid = raw.get("taskType"), raw.get("taskUUID")
    return (task_type if isinstance(task_type, str) else None, task_uuid if isinstance(task_uuid, str) else None)


def _task_uuid(f: _Fields) -> str:
    value = f.string("taskUUID", required=True)
    assert value is not None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != value.lower():
        raise RequestError(
            "Invalid value for taskUUID: expected a UUID v4 string.",
            code="invalidTaskUUID",
            parameter="taskUUID",
            type="string",
        )
    return value  # echoed exactly as sent: clients match replies on this string


def parse_task(raw: Any) -> Task:
    """Validate one raw task object; raise ``RequestError`` naming the field at fault."""
    if not isinstance(raw, dict):
        raise RequestError("Each task must be a JSON object.", code="invalidPayload")
    f = _Fields(raw)
    task_type = f.string("taskType", required=True)
    if task_type not in TASK_TYPES:
        raise RequestError(
            f"Unknown taskType {task_type!r}.",
            code="unknownTaskType",
            parameter="taskType",
            allowed_values=list(TASK_TYPES),
        )
    task: Task
    if task_type == "authentication":
        if f.has("apiKey") and not isinstance(f.obj["apiKey"], str):
            raise AuthError("Invalid API key.", code="invalidApiKey", parameter="apiKey", type="string")
        api_key = f.string("apiKey")
        session = f.string("connectionSessionUUID")
        task = AuthenticationTask(api_key, session, f.string("taskUUID"))
    elif task_type == "ping":
        f.boolean("ping")
        task = PingTask(f.string("taskUUID"))
    elif task_type == "imageUpload":
        task_uuid = _task_uuid(f)
        image = f.string("image", required=True, length=(1, 40 * 1024 * 1024))
        assert image is not None
        task = ImageUploadTask(task_uuid, image)
    elif task_type in ("getResponse", "cancelTask"):
        task = TaskLookup(task_type, _task_uuid(f))
    else:
        task = _parse_video_inference(f)
    f.reject_unknown()
    return task


def _image_value(
    value: Any, parameter: str, *, keys: tuple[str, ...] = ("image", "inputImage"), nested: bool = True
) -> ImageInput:
    """An image given as a string, or (when ``nested``) as an object holding that string
    under one of ``keys``. Objects inside objects are refused: one level is the form."""
    if isinstance(value, dict) and nested:
        sub = _Fields(value, parameter)
        present = [k for k in keys if sub.has(k)]
        sub.seen.update(keys)  # a null alternative counts as absent, not as unknown
        if len(present) > 1:
            raise RequestError(
                f"Give only one of {', '.join(keys)} in {parameter}.",
                code="incompatibleParameters",
                parameter=sub.param(present[1]),
            )
        if not present:
            raise RequestError(
                f"Missing required parameter: {parameter}.image.", code="missingImage", parameter=f"{parameter}.image"
            )
        sub.reject_unknown()
        return _image_value(sub.obj[present[0]], sub.param(present[0]), nested=False)
    if not isinstance(value, str) or not value:
        raise RequestError(
            f"Invalid image at {parameter}: expected an image UUID, URL, data URI or base64 string.",
            code="invalidImage",
            parameter=parameter,
            type="string",
        )
    return ImageInput(value, parameter)


def _frame_images(items: list[Any], path: str) -> tuple[FrameImage, ...]:
    given: list[tuple[ImageInput, FramePosition | None, str]] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        position: FramePosition | None = None
        if isinstance(item, dict):
            sub = _Fields(item, item_path)
            frame = sub.raw("frame")
            if frame is not None:
                if isinstance(frame, bool) or not isinstance(frame, str | int) or frame not in FRAME_POSITIONS:
                    raise RequestError(
                        f"Invalid value for {item_path}.frame. Allowed values: first, last, 0, -1.",
                        code="invalidFramePosition",
                        parameter=f"{item_path}.frame",
                        allowed_values=["first", "last", 0, -1],
                    )
                position = FRAME_POSITIONS[frame]
            rest = {k: v for k, v in item.items() if k != "frame"}
            image = _image_value(rest, item_path)
        else:
            image = _image_value(item, item_path)
        given.append((image, position, item_path))
    taken = [p for _, p, _ in given if p is not None]
    result: list[FrameImage] = []
    for image, position, item_path in given:
        if position is None:
            position = "first" if "first" not in taken else "last"
            taken.append(position)
        if any(fi.position == position for fi in result):
            raise RequestError(
                f"Two frame images on the same position ({position}).",
                code="incompatibleParameters",
                parameter=f"{item_path}.frame",
            )
        result.append(FrameImage(image, position))
    return tuple(result)


def _parse_video_inference(f: _Fields) -> VideoInferenceTask:
    task_uuid = _task_uuid(f)
    model_id = f.string("model", required=True)
    assert model_id is not None
    caps = get_model(model_id)
    if caps is None:
        raise RequestError(
            f"Unsupported model {model_id!r}.",
            code="unsupportedModel",
            parameter="model",
            allowed_values=sorted(MODELS),
        )
    prompt = f.string("positivePrompt", required=True, length=caps.prompt_length)
    assert prompt is not None
    negative = f.string("negativePrompt", length=caps.prompt_length)

    duration = f.choice("duration", caps.durations, type_="float")
    fps = f.choice("fps", caps.fps, type_="integer")
    seed = f.integer("seed", bounds=(0, SEED_MAX))
    number_results = f.integer("numberResults", bounds=caps.number_results)
    output_type = f.choice("outputType", caps.output_types)
    output_format = f.choice("outputFormat", caps.output_formats)
    output_quality = f.integer("outputQuality", bounds=caps.output_quality)
    delivery_method = f.choice("deliveryMethod", caps.delivery_methods)
    webhook_url = f.url("webhookURL")
    upload_endpoint = f.url("uploadEndpoint")
    ttl = f.integer("ttl", bounds=(TTL_MIN, TTL_MAX))
    include_cost = f.boolean("includeCost")

    safety_mode: SafetyMode = "none"
    check_inputs = tolerance = False
    safety = f.object("safety")
    if safety is not None:
        check_content = safety.boolean("checkContent")
        mode = safety.choice("mode", SAFETY_MODES, stem="SafetyMode")
        check_inputs = bool(safety.boolean("checkInputs"))
        tolerance = bool(safety.boolean("tolerance"))
        safety.reject_unknown()
        safety_mode = mode if mode is not None else ("fast" if check_content else "none")

    # Frame and reference images: nested under ``inputs`` or, for older clients, top level.
    frame_items, frame_path = _synonym(f, "frameImages", (1, caps.max_frame_images))
    ref_items, ref_path = _synonym(f, "referenceImages", (1, caps.max_reference_images))
    frame_images = _frame_images(frame_items, frame_path) if frame_items is not None else ()
    reference_images = (
        tuple(_image_value(v, f"{ref_path}[{i}]", keys=("image",)) for i, v in enumerate(ref_items))
        if ref_items is not None
        else ()
    )

    camera = effect = style = None
    motion_mode = "normal"
    provider = f.object("providerSettings")
    if provider is not None:
        settings = provider.object(caps.provider)
        if settings is not None:
            camera = settings.choice("cameraMovement", caps.camera_movements)
            effect = settings.choice("effect", caps.effects)
            style = settings.choice("style", caps.styles)
            motion_mode = settings.choice("motionMode", caps.motion_modes) or "normal"
            settings.reject_unknown()
        provider.reject_unknown()

    # Sizes: width/height pair, or a resolution tier (default), never both.
    width, height = f.integer("width", bounds=(1, 10_000)), f.integer("height", bounds=(1, 10_000))
    resolution = f.choice("resolution", caps.resolutions)
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise RequestError("width and height must be given together.", code="incompatibleParameters", parameter=missing)
    if width is not None and resolution is not None:
        raise RequestError(
            "Give either width/height or resolution, not both.", code="incompatibleParameters", parameter="resolution"
        )
    if width is not None and frame_images:
        raise RequestError(
            "width/height cannot be combined with frame images: the size follows the first image's aspect ratio.",
            code="incompatibleParameters",
            parameter="width",
        )
    size_param = "resolution"
    if width is not None and height is not None:
        tiers = caps.all_sizes()
        if (width, height) not in tiers:
            raise RequestError(
                f"Unsupported dimensions {width}x{height} for {caps.model_id}.",
                code="unsupportedDimensions",
                parameter="width",
                allowed_values=[f"{w}x{h}" for w, h in tiers],
            )
        resolution, size_param = tiers[(width, height)], "width"
    elif resolution is None:
        resolution = caps.default_resolution
    if width is None and not frame_images:
        width, height = caps.size_for(resolution)

    duration = caps.default_duration if duration is None else duration
    allowed = caps.allowed_durations(resolution)
    if duration not in allowed:
        raise RequestError(
            f"Invalid value for duration parameter. Allowed values at {resolution}: {_fmt(allowed)}.",
            code="unsupportedDuration",
            parameter="duration",
            type="float",
            allowed_values=list(allowed),
        )
    if camera is not None and effect is not None:
        raise RequestError(
            "cameraMovement and effect cannot be combined.",
            code="incompatibleParameters",
            parameter=f"providerSettings.{caps.provider}.effect",
        )
    if camera is not None or effect is not None or style is not None:
        if duration not in caps.provider_setting_durations:
            raise RequestError(
                f"With cameraMovement, effect or style, duration must be {_fmt(caps.provider_setting_durations)}.",
                code="unsupportedDuration",
                parameter="duration",
                type="float",
                allowed_values=list(caps.provider_setting_durations),
            )
        if not caps.resolution_at_most(resolution, caps.provider_setting_max_resolution):
            allowed_res = [
                r for r in caps.resolutions if caps.resolution_at_most(r, caps.provider_setting_max_resolution)
            ]
            raise RequestError(
                "With cameraMovement, effect or style, the size must be at most"
                f" {caps.provider_setting_max_resolution}.",
                code="unsupportedResolution" if size_param == "resolution" else "unsupportedDimensions",
                parameter=size_param,
                allowed_values=allowed_res,
            )

    return VideoInferenceTask(
        task_uuid=task_uuid,
        model=caps.model_id,
        positive_prompt=prompt,
        negative_prompt=negative,
        resolution=resolution,
        width=width,
        height=height,
        duration=float(duration),
        fps=int(fps if fps is not None else caps.default_fps),
        seed=seed if seed is not None else random.randint(0, SEED_MAX),
        number_results=number_results or 1,
        output_type=output_type or "URL",
        output_format=cast(OutputFormat, output_format or "MP4"),
        output_quality=output_quality if output_quality is not None else caps.default_output_quality,
        delivery_method=delivery_method or "async",
        webhook_url=webhook_url,
        upload_endpoint=upload_endpoint,
        ttl=ttl,
        include_cost=bool(include_cost),
        safety_mode=safety_mode,
        safety_check_inputs=check_inputs,
        safety_tolerance=tolerance,
        frame_images=frame_images,
        reference_images=reference_images,
        camera_movement=camera,
        effect=effect,
        style=style,
        motion_mode=motion_mode,
    )


def _synonym(f: _Fields, name: str, items: tuple[int, int]) -> tuple[list[Any] | None, str]:
    """``inputs.<name>`` or its legacy top-level form ``<name>``; both at once is incompatible."""
    inputs = f.object("inputs")
    nested = inputs.array(name, items=items) if inputs is not None else None
    if inputs is not None:
        inputs.seen.update(("frameImages", "referenceImages"))
        inputs.reject_unknown()
    top = f.array(name, items=items)
    if nested is not None and top is not None:
        raise RequestError(
            f"Give {name} either in inputs or at top level, not both.",
            code="incompatibleParameters",
            parameter=name,
        )
    if top is not None:
        return top, name
    return nested, f"inputs.{name}"


def task_to_record(task: VideoInferenceTask) -> dict[str, Any]:
    """The stored form of a validated task (JSON-safe), inverse of ``task_from_record``.

    Built by hand rather than with ``dataclasses.asdict``: this runs for every
    submission, and asdict's recursive deep copy costs more than the rest of it.
    """
    record = dict(task.__dict__)
    record["frame_images"] = [
        {"image": {"value": f.image.value, "parameter": f.image.parameter}, "position": f.position}
        for f in task.frame_images
    ]
    record["reference_images"] = [{"value": r.value, "parameter": r.parameter} for r in task.reference_images]
    return record


def task_from_record(record: dict[str, Any]) -> VideoInferenceTask:
    values = dict(record)
    values["frame_images"] = tuple(
        FrameImage(ImageInput(**item["image"]), item["position"]) for item in values.get("frame_images", ())
    )
    values["reference_images"] = tuple(ImageInput(**item) for item in values.get("reference_images", ()))
    return VideoInferenceTask(**values)
