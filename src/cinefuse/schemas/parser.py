"""The task parser: raw JSON task objects -> typed, validated tasks (docs/api.md).

Every rule of the contract is enforced here, reading model-specific limits from
``ModelCapabilities`` (``models/``); nothing else in the server re-validates. A rejection
raises a :class:`~cinefuse.errors.RequestError` naming the field at fault (see
:mod:`cinefuse.schemas.fields` for how codes are named).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from cinefuse.errors import (
    IncompatibleParameters,
    InvalidApiKey,
    InvalidImage,
    InvalidParameter,
    InvalidPayload,
    MissingParameter,
    UnknownTaskType,
    UnsupportedParameter,
)
from cinefuse.models.capabilities import ModelCapabilities, MotionMode, OutputFormat
from cinefuse.models.registry import MODELS, get_model
from cinefuse.schemas.fields import Fields, format_values
from cinefuse.schemas.tasks import (
    MAX_INLINE_IMAGE_CHARS,
    SAFETY_MODES,
    SEED_MAX,
    TASK_TYPES,
    TTL_MAX,
    TTL_MIN,
    AuthenticationTask,
    FrameImage,
    FramePosition,
    ImageInput,
    ImageUploadTask,
    PingTask,
    SafetyMode,
    Task,
    TaskLookup,
    VideoInferenceTask,
)

FRAME_POSITIONS: dict[Any, FramePosition] = {"first": "first", "last": "last", 0: "first", -1: "last"}


def task_identity(raw: Any) -> tuple[str | None, str | None]:
    """Best-effort (taskType, taskUUID) of a raw task, for labelling its errors."""
    if not isinstance(raw, dict):
        return None, None
    task_type, task_uuid = raw.get("taskType"), raw.get("taskUUID")
    return (task_type if isinstance(task_type, str) else None, task_uuid if isinstance(task_uuid, str) else None)


def _task_uuid(f: Fields) -> str:
    value = f.required_string("taskUUID")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != value.lower():
        raise InvalidParameter(
            "Invalid value for taskUUID: expected a UUID v4 string.", parameter="taskUUID", type="string"
        )
    return value  # echoed exactly as sent: clients match replies on this string


def parse_task(raw: Any) -> Task:
    """Validate one raw task object; raise ``RequestError`` naming the field at fault."""
    if not isinstance(raw, dict):
        raise InvalidPayload("Each task must be a JSON object.")
    f = Fields(raw)
    task_type = f.required_string("taskType")
    task: Task
    if task_type == "authentication":
        if f.has("apiKey") and not isinstance(f.obj["apiKey"], str):
            raise InvalidApiKey("Invalid API key.", parameter="apiKey", type="string")
        task = AuthenticationTask(f.string("apiKey"), f.string("connectionSessionUUID"), f.string("taskUUID"))
    elif task_type == "ping":
        f.boolean("ping")
        task = PingTask(f.string("taskUUID"))
    elif task_type == "imageUpload":
        task_uuid = _task_uuid(f)
        task = ImageUploadTask(task_uuid, f.required_string("image", length=(1, MAX_INLINE_IMAGE_CHARS)))
    elif task_type == "getResponse":
        task = TaskLookup("getResponse", _task_uuid(f))
    elif task_type == "cancelTask":
        task = TaskLookup("cancelTask", _task_uuid(f))
    elif task_type == "videoInference":
        task = _parse_video_inference(f)
    else:
        raise UnknownTaskType(f"Unknown taskType {task_type!r}.", parameter="taskType", allowed_values=list(TASK_TYPES))
    f.reject_unknown()
    return task


def _image_value(
    value: Any, parameter: str, *, keys: tuple[str, ...] = ("image", "inputImage"), nested: bool = True
) -> ImageInput:
    """An image given as a string, or (when ``nested``) as an object holding that string
    under one of ``keys``. Objects inside objects are refused: one level is the form."""
    if isinstance(value, dict) and nested:
        sub = Fields(value, parameter)
        present = [k for k in keys if sub.has(k)]
        sub.seen.update(keys)  # a null alternative counts as absent, not as unknown
        if len(present) > 1:
            raise IncompatibleParameters(
                f"Give only one of {', '.join(keys)} in {parameter}.", parameter=sub.param(present[1])
            )
        if not present:
            raise MissingParameter(f"Missing required parameter: {parameter}.image.", parameter=f"{parameter}.image")
        sub.reject_unknown()
        return _image_value(sub.obj[present[0]], sub.param(present[0]), nested=False)
    if not isinstance(value, str) or not value:
        raise InvalidImage(
            f"Invalid image at {parameter}: expected an image UUID, URL, data URI or base64 string.",
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
            frame = item.get("frame")
            if frame is not None:
                if isinstance(frame, bool) or not isinstance(frame, str | int) or frame not in FRAME_POSITIONS:
                    raise InvalidParameter(
                        f"Invalid value for {item_path}.frame. Allowed values: first, last, 0, -1.",
                        parameter=f"{item_path}.frame",
                        stem="FramePosition",
                        allowed_values=["first", "last", 0, -1],
                    )
                position = FRAME_POSITIONS[frame]
            image = _image_value({k: v for k, v in item.items() if k != "frame"}, item_path)
        else:
            image = _image_value(item, item_path)
        given.append((image, position, item_path))
    taken = [p for _, p, _ in given if p is not None]
    result: list[FrameImage] = []
    for image, given_position, item_path in given:
        position = given_position
        if position is None:
            position = "first" if "first" not in taken else "last"
            taken.append(position)
        if any(fi.position == position for fi in result):
            raise IncompatibleParameters(
                f"Two frame images on the same position ({position}).", parameter=f"{item_path}.frame"
            )
        result.append(FrameImage(image, position))
    return tuple(result)


def _safety(f: Fields) -> tuple[SafetyMode, bool, bool]:
    """(mode, checkInputs, tolerance) from ``safety``; ``mode`` wins over ``checkContent``."""
    safety = f.object("safety")
    if safety is None:
        return "none", False, False
    check_content = safety.boolean("checkContent")
    mode = safety.choice("mode", SAFETY_MODES, stem="SafetyMode")
    check_inputs = bool(safety.boolean("checkInputs"))
    tolerance = bool(safety.boolean("tolerance"))
    safety.reject_unknown()
    return (mode if mode is not None else ("fast" if check_content else "none")), check_inputs, tolerance


def _provider_settings(f: Fields, caps: ModelCapabilities) -> tuple[str | None, str | None, str | None, MotionMode]:
    """(cameraMovement, effect, style, motionMode) from ``providerSettings.<provider>``."""
    camera = effect = style = None
    motion_mode: MotionMode = "normal"
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
    return camera, effect, style, motion_mode


def _model(f: Fields) -> ModelCapabilities:
    model_id = f.required_string("model")
    caps = get_model(model_id)
    if caps is None:
        raise UnsupportedParameter(f"Unsupported model {model_id!r}.", parameter="model", allowed_values=sorted(MODELS))
    return caps


def _parse_video_inference(f: Fields) -> VideoInferenceTask:
    task_uuid = _task_uuid(f)
    caps = _model(f)
    prompt = f.required_string("positivePrompt", length=caps.prompt_length)
    negative = f.string("negativePrompt", length=caps.prompt_length)

    duration = f.choice("duration", caps.durations, type_="float")
    fps = f.choice("fps", caps.fps, type_="integer")
    seed = f.integer("seed", bounds=(0, SEED_MAX))
    number_results = f.integer("numberResults", bounds=caps.number_results)
    output_type = f.choice("outputType", caps.output_types)
    output_format: OutputFormat | None = f.choice("outputFormat", caps.output_formats)
    output_quality = f.integer("outputQuality", bounds=caps.output_quality)
    delivery_method = f.choice("deliveryMethod", caps.delivery_methods)
    webhook_url = f.url("webhookURL")
    upload_endpoint = f.url("uploadEndpoint")
    ttl = f.integer("ttl", bounds=(TTL_MIN, TTL_MAX))
    include_cost = f.boolean("includeCost")
    safety_mode, check_inputs, tolerance = _safety(f)

    # Frame and reference images: nested under ``inputs`` or, for older clients, top level.
    frames = _array_range(f, "frameImages", caps.max_frame_images, caps.model_id)
    refs = _array_range(f, "referenceImages", caps.max_reference_images, caps.model_id)
    frame_items, frame_path = _synonym(f, "frameImages", frames)
    ref_items, ref_path = _synonym(f, "referenceImages", refs)
    frame_images = _frame_images(frame_items, frame_path) if frame_items is not None else ()
    reference_images = tuple(
        _image_value(v, f"{ref_path}[{i}]", keys=("image",)) for i, v in enumerate(ref_items or ())
    )
    camera, effect, style, motion_mode = _provider_settings(f, caps)

    # Sizes: width/height pair, or a resolution tier (default), never both.
    width, height = f.integer("width", bounds=(1, 10_000)), f.integer("height", bounds=(1, 10_000))
    resolution = f.choice("resolution", caps.resolutions)
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise IncompatibleParameters("width and height must be given together.", parameter=missing)
    if width is not None and resolution is not None:
        raise IncompatibleParameters("Give either width/height or resolution, not both.", parameter="resolution")
    if width is not None and frame_images:
        raise IncompatibleParameters(
            "width/height cannot be combined with frame images: the size follows the first image's aspect ratio.",
            parameter="width",
        )
    size_param = "resolution"
    if width is not None and height is not None:
        tiers = caps.all_sizes()
        if (width, height) not in tiers:
            raise UnsupportedParameter(
                f"Unsupported dimensions {width}x{height} for {caps.model_id}.",
                parameter="width",
                stem="Dimensions",
                allowed_values=[f"{w}x{h}" for w, h in tiers],
            )
        resolution, size_param = tiers[(width, height)], "width"
    elif resolution is None:
        resolution = caps.default_resolution
    if width is None and not frame_images:
        width, height = caps.size_for(resolution)

    duration = caps.default_duration if duration is None else duration
    _check_duration(caps, resolution, duration)
    _check_provider_limits(caps, camera, effect, style, duration, resolution, size_param)

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
        output_format=output_format or "MP4",
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


def _check_duration(caps: ModelCapabilities, resolution: str, duration: float) -> None:
    allowed = caps.allowed_durations(resolution)
    if duration not in allowed:
        raise UnsupportedParameter(
            f"Invalid value for duration parameter. Allowed values at {resolution}: {format_values(allowed)}.",
            parameter="duration",
            type="float",
            allowed_values=list(allowed),
        )


def _check_provider_limits(
    caps: ModelCapabilities,
    camera: str | None,
    effect: str | None,
    style: str | None,
    duration: float,
    resolution: str,
    size_param: str,
) -> None:
    """cameraMovement and effect exclude each other; any of camera, effect, style limits the
    duration and the size (docs/api.md, "Cross-field rules")."""
    if camera is not None and effect is not None:
        raise IncompatibleParameters(
            "cameraMovement and effect cannot be combined.", parameter=f"providerSettings.{caps.provider}.effect"
        )
    if camera is None and effect is None and style is None:
        return
    if duration not in caps.provider_setting_durations:
        raise UnsupportedParameter(
            f"With cameraMovement, effect or style, duration must be {format_values(caps.provider_setting_durations)}.",
            parameter="duration",
            type="float",
            allowed_values=list(caps.provider_setting_durations),
        )
    if not caps.resolution_at_most(resolution, caps.provider_setting_max_resolution):
        allowed = [r for r in caps.resolutions if caps.resolution_at_most(r, caps.provider_setting_max_resolution)]
        raise UnsupportedParameter(
            f"With cameraMovement, effect or style, the size must be at most {caps.provider_setting_max_resolution}.",
            parameter=size_param,
            stem="Resolution" if size_param == "resolution" else "Dimensions",
            allowed_values=allowed,
        )


def _synonym(f: Fields, name: str, items: tuple[int, int]) -> tuple[list[Any] | None, str]:
    """``inputs.<name>`` or its legacy top-level form ``<name>``; both at once is incompatible.
    A model that takes none (``items`` up to 0) refuses the field as unsupported."""
    inputs = f.object("inputs")
    nested = inputs.array(name, items=items) if inputs is not None else None
    if inputs is not None:
        inputs.seen.update(("frameImages", "referenceImages"))
        inputs.reject_unknown()
    top = f.array(name, items=items)
    if nested is not None and top is not None:
        raise IncompatibleParameters(f"Give {name} either in inputs or at top level, not both.", parameter=name)
    if top is not None:
        return top, name
    return nested, f"inputs.{name}"


def _array_range(f: Fields, name: str, most: int, model_id: str) -> tuple[int, int]:
    """The item range of an image array; a model taking none refuses it, present or nested."""
    inputs = f.obj.get("inputs")
    given = f.obj.get(name) is not None or (isinstance(inputs, dict) and inputs.get(name) is not None)
    if most == 0 and given:
        where = name if f.obj.get(name) is not None else f"inputs.{name}"
        raise UnsupportedParameter(f"Model {model_id} takes no {name}.", parameter=where)
    return 1, most
