"""The task parser: raw JSON task objects -> typed, validated tasks (docs/api.md).

Every rule of the contract is enforced here; nothing else in the server re-validates. The
rule of each field is read from ``schemas/task_rules.py`` (itself reading model-specific limits
from ``ModelCapabilities``), the same definitions the OpenAPI schema is written from; the
cross-field rules are checked here and stated for the schema in ``schemas/cross_rules.py``. A
rejection raises a :class:`~cinefuse.errors.RequestError` naming the field at fault (see
:mod:`cinefuse.schemas.fields` for how codes are named).
"""

from __future__ import annotations

import random
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
from cinefuse.schemas.fields import Fields
from cinefuse.schemas.rules import Items, format_values
from cinefuse.schemas.task_rules import (
    DIMENSION,
    FRAME_POSITIONS,
    HTTP_URL,
    IMAGE,
    SAFETY_MODE,
    SEED,
    TASK_UUID,
    TTL,
    video_rules,
)
from cinefuse.schemas.tasks import (
    SEED_MAX,
    TASK_TYPES,
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


def task_identity(raw: Any) -> tuple[str | None, str | None]:
    """Best-effort (taskType, taskUUID) of a raw task, for labelling its errors."""
    if not isinstance(raw, dict):
        return None, None
    task_type, task_uuid = raw.get("taskType"), raw.get("taskUUID")
    return (task_type if isinstance(task_type, str) else None, task_uuid if isinstance(task_uuid, str) else None)


def _task_uuid(f: Fields) -> str:
    return f.required_string("taskUUID", TASK_UUID)  # echoed exactly as sent: clients match replies on it


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
        task = ImageUploadTask(task_uuid, _image_value(f.required_string("image"), "image", nested=False).value)
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
    problem = IMAGE.problem(value) if isinstance(value, str) else f"must be {IMAGE.says}"
    if problem is not None:
        raise InvalidImage(f"Invalid image at {parameter}: {problem}.", parameter=parameter, type="string")
    return ImageInput(value, parameter)


def _frame_images(items: list[Any], path: str) -> tuple[FrameImage, ...]:
    given: list[tuple[ImageInput, FramePosition | None, str]] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        position: FramePosition | None = None
        if isinstance(item, dict):
            frame = item.get("frame")
            if frame is not None:
                # Numbers compare as JSON compares them (0.0 is 0), as the schema's enum does.
                if isinstance(frame, bool) or not isinstance(frame, str | int | float) or frame not in FRAME_POSITIONS:
                    raise InvalidParameter(
                        f"Invalid value for {item_path}.frame. Allowed values: first, last, 0, -1.",
                        parameter=f"{item_path}.frame",
                        stem="FramePosition",
                        allowed_values=["first", "last", 0, -1],
                    )
                position = "first" if FRAME_POSITIONS[frame] == "first" else "last"
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
    mode = safety.choice("mode", SAFETY_MODE, stem="SafetyMode")
    check_inputs = bool(safety.boolean("checkInputs"))
    tolerance = bool(safety.boolean("tolerance"))
    safety.reject_unknown()
    return (mode if mode is not None else ("fast" if check_content else "none")), check_inputs, tolerance


def _provider_settings(f: Fields, caps: ModelCapabilities) -> tuple[str | None, str | None, str | None, MotionMode]:
    """(cameraMovement, effect, style, motionMode) from ``providerSettings.<provider>``."""
    camera = effect = style = None
    motion_mode: MotionMode = "normal"
    rules = video_rules(caps)
    provider = f.object("providerSettings")
    if provider is not None:
        settings = provider.object(caps.provider)
        if settings is not None:
            camera = settings.choice("cameraMovement", rules.camera_movement)
            effect = settings.choice("effect", rules.effect)
            style = settings.choice("style", rules.style)
            motion_mode = settings.choice("motionMode", rules.motion_mode) or "normal"
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
    rules = video_rules(caps)
    prompt = f.required_string("positivePrompt", rules.positive_prompt)
    negative = f.string("negativePrompt", rules.negative_prompt)

    duration = f.choice("duration", rules.duration)
    fps = f.choice("fps", rules.fps)
    seed = f.integer("seed", SEED)
    number_results = f.integer("numberResults", rules.number_results)
    output_type = f.choice("outputType", rules.output_type)
    output_format: OutputFormat | None = f.choice("outputFormat", rules.output_format)
    output_quality = f.integer("outputQuality", rules.output_quality)
    delivery_method = f.choice("deliveryMethod", rules.delivery_method)
    webhook_url = f.string("webhookURL", HTTP_URL)
    upload_endpoint = f.string("uploadEndpoint", HTTP_URL)
    ttl = f.integer("ttl", TTL)
    include_cost = f.boolean("includeCost")
    safety_mode, check_inputs, tolerance = _safety(f)

    # Frame and reference images: nested under ``inputs`` or, for older clients, top level.
    frames = _array_rule(f, "frameImages", rules.frame_images, caps.model_id)
    refs = _array_rule(f, "referenceImages", rules.reference_images, caps.model_id)
    frame_items, frame_path = _synonym(f, "frameImages", frames)
    ref_items, ref_path = _synonym(f, "referenceImages", refs)
    frame_images = _frame_images(frame_items, frame_path) if frame_items is not None else ()
    reference_images = tuple(
        _image_value(v, f"{ref_path}[{i}]", keys=("image",)) for i, v in enumerate(ref_items or ())
    )
    camera, effect, style, motion_mode = _provider_settings(f, caps)

    # Sizes: width/height pair, or a resolution tier (default), never both.
    width, height = f.integer("width", DIMENSION), f.integer("height", DIMENSION)
    resolution = f.choice("resolution", rules.resolution)
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise IncompatibleParameters("width and height must be given together.", parameter=missing)
    if width is not None and resolution is not None:
        raise IncompatibleParameters("Give either width/height or resolution, not both.", parameter="resolution")
    if width is not None and frame_images:
        raise IncompatibleParameters(
            "width/height cannot be combined with frame images: the size follows the frame image's aspect ratio.",
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


def _synonym(f: Fields, name: str, items: Items) -> tuple[list[Any] | None, str]:
    """``inputs.<name>`` or its legacy top-level form ``<name>``; both at once is incompatible.
    A model that takes none (``items`` up to 0) refuses the field as unsupported."""
    inputs = f.object("inputs")
    nested = inputs.array(name, items) if inputs is not None else None
    if inputs is not None:
        inputs.seen.update(("frameImages", "referenceImages"))
        inputs.reject_unknown()
    top = f.array(name, items)
    if nested is not None and top is not None:
        raise IncompatibleParameters(f"Give {name} either in inputs or at top level, not both.", parameter=name)
    if top is not None:
        return top, name
    return nested, f"inputs.{name}"


def _array_rule(f: Fields, name: str, rule: Items | None, model_id: str) -> Items:
    """The item rule of an image array; a model taking none (``None``) refuses it, present or nested."""
    inputs = f.obj.get("inputs")
    given = f.obj.get(name) is not None or (isinstance(inputs, dict) and inputs.get(name) is not None)
    if rule is None:
        if given:
            where = name if f.obj.get(name) is not None else f"inputs.{name}"
            raise UnsupportedParameter(f"Model {model_id} takes no {name}.", parameter=where)
        return Items(1, 0)  # nothing given: never read
    return rule
