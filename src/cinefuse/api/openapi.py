"""The OpenAPI description of ``POST /v1`` (docs/api.md), built from the parser's own limits.

``POST /v1`` is answered by a bare ASGI layer in front of FastAPI (``api/rest.py``), so
FastAPI's generated document never sees it. :func:`install_openapi` gives the app an
``openapi()`` that adds the operation: a request body that is an array of a discriminated
union (``taskType``) of every task type, each ``videoInference`` variant discriminated again
by ``model`` and carrying that model's capabilities, plus the reply envelope and its items.

Every number, enum and length below is read from the constants the parser enforces
(``schemas/tasks.py``, ``schemas/fields.py``, ``schemas/parser.py``) and from
``ModelCapabilities`` (``models/``): the document cannot drift from the validation. The
rules no JSON Schema can state (cross-field limits, a size pair from the table, an image
that must decode) are in the fields' descriptions and in docs/api-reference.md.

Contract of the schema against the server: every body the server accepts validates
against the schema (the schema is never stricter than the parser); a body the schema
refuses is refused by the server. Optional fields accept JSON ``null`` (it counts as
absent); unknown fields are refused at every level (``additionalProperties: false``).

Built on the first request for ``/openapi.json`` and kept: nothing here runs at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, get_args

from fastapi import FastAPI

from cinefuse import __version__
from cinefuse.jobs.models import JobStatus
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.registry import MODELS
from cinefuse.schemas.fields import _URL_RE as URL_RE  # the expression is_http_url applies
from cinefuse.schemas.fields import URL_MAX_LENGTH
from cinefuse.schemas.parser import FRAME_POSITIONS
from cinefuse.schemas.tasks import MAX_INLINE_IMAGE_CHARS, SAFETY_MODES, SEED_MAX, TASK_TYPES, TTL_MAX, TTL_MIN
from cinefuse.settings import DEFAULT_MAX_TASKS_PER_REQUEST, DEFAULT_TTL_SECONDS

Schema = dict[str, Any]

#: The canonical text of a UUID v4 in either case: what ``schemas.parser._task_uuid`` accepts.
UUID4_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
#: Width and height are read as integers in this range before the size table is consulted.
DIMENSION_BOUNDS = (1, 10_000)
#: HTTP statuses a ``POST /v1`` reply can have (docs/api.md, "Transport"): never 5xx.
REPLY_STATUSES: dict[str, str] = {
    "200": "Every task was answered (a getResponse whose results failed is still 200).",
    "400": "The body is not a JSON array of tasks, or a task is invalid (other tasks still ran).",
    "401": "Missing or invalid API key.",
    "413": "The body is over the size limit.",
    "429": "Over the key's rate or queue limit.",
}

_REF = "#/components/schemas/"
#: taskType -> component name of its request schema.
TASK_COMPONENTS: dict[str, str] = {
    "authentication": "AuthenticationTask",
    "ping": "PingTask",
    "imageUpload": "ImageUploadTask",
    "videoInference": "VideoInferenceTask",
    "getResponse": "GetResponseTask",
    "cancelTask": "CancelTask",
}


def ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def case_insensitive(pattern: str) -> str:
    """``pattern`` with each ASCII letter outside escapes and classes as ``[xX]``: JSON
    Schema has no flags, and the parser's URL expression is compiled with IGNORECASE."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[":
            end = i + 1
            while pattern[end] != "]" or pattern[end - 1] == "\\":
                end += 1
            out.append(pattern[i : end + 1])
            i = end + 1
            continue
        out.append(f"[{char.lower()}{char.upper()}]" if char.isascii() and char.isalpha() else char)
        i += 1
    return "".join(out)


#: ``schemas.fields.is_http_url``'s expression, case-insensitive without a flag.
URL_PATTERN = case_insensitive(URL_RE.pattern)


def number(value: float) -> int | float:
    """``5.0`` as ``5``: the documents show whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else value


def optional(schema: Schema, description: str | None = None, default: Any = None) -> Schema:
    """An optional field's schema: JSON ``null`` is accepted and counts as absent."""
    doc: Schema = {}
    if description:
        doc["description"] = description
    if default is not None:
        doc["default"] = default
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema and "anyOf" not in schema and "oneOf" not in schema:
        out = {**schema, "type": [kind, "null"], **doc}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}], **doc}


def described(schema: Schema, description: str, default: Any = None) -> Schema:
    """A required field's schema with its description (and the default the server uses)."""
    out = {**schema, "description": description}
    if default is not None:
        out["default"] = default
    return out


def obj(properties: Schema, required: Iterable[str] = (), **extra: Any) -> Schema:
    """A closed object: the parser refuses any field it does not read (``unknownParameter``)."""
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    required = list(required)
    if required:
        out["required"] = required
    return out


def const(value: str, description: str | None = None) -> Schema:
    out: Schema = {"type": "string", "const": value}
    if description:
        out["description"] = description
    return out


def task_uuid(description: str) -> Schema:
    return {"type": "string", "pattern": UUID4_PATTERN, "description": description}


def url_field(description: str) -> Schema:
    return optional({"type": "string", "maxLength": URL_MAX_LENGTH, "pattern": URL_PATTERN}, description)


def image_value() -> Schema:
    return {
        "type": "string",
        "minLength": 1,
        "description": "An image: the imageUUID of an uploaded image, an http(s) URL, a data URI or bare base64.",
    }


def frame_image_schema() -> Schema:
    """One ``frameImages`` item: an image, or ``{image|inputImage, frame}``."""
    # Exactly one of image / inputImage, as a string (both: incompatible; neither: missing).
    alternatives = [{"required": [name], "properties": {name: {"type": "string"}}} for name in ("image", "inputImage")]
    item = obj(
        {
            "image": optional(image_value()),
            "inputImage": optional(image_value(), "Synonym of `image` (older clients)."),
            "frame": optional(
                {"enum": list(FRAME_POSITIONS)},
                "Output frame this image becomes: `first` (or 0), `last` (or -1). Omitted: one image is the "
                "first frame, two are first and last.",
            ),
        },
        oneOf=alternatives,
    )
    return {
        "title": "FrameImage",
        "description": "A frame image: an image, or an object naming its frame position. Two images on one "
        "position are `incompatibleParameters`.",
        "anyOf": [image_value(), item],
    }


def reference_image_schema() -> Schema:
    return {
        "title": "ReferenceImage",
        "description": "A reference image for multi-image fusion (subjects, objects or a scene to combine).",
        "anyOf": [image_value(), obj({"image": image_value()}, ["image"])],
    }


def safety_schema() -> Schema:
    return obj(
        {
            "checkContent": optional({"type": "boolean"}, "true means mode `fast` (when `mode` is absent).", False),
            "mode": optional(
                {"type": "string", "enum": list(SAFETY_MODES)},
                "`fast` checks the prompt, the inputs and the first, middle and last frame of each result; "
                "`full` every frame. Wins over `checkContent`.",
                "none",
            ),
            "checkInputs": optional({"type": "boolean"}, "Check the input images even with mode `none`.", False),
            "tolerance": optional({"type": "boolean"}, "A more permissive threshold.", False),
        },
        title="Safety",
        description="Content safety (docs/api.md section 6). A server without a safety backend fails tasks "
        "that ask for a check (`inferenceError`).",
    )


def _sizes(caps: ModelCapabilities) -> str:
    return "; ".join(
        f"{tier}: " + ", ".join(f"{w}x{h} ({aspect})" for aspect, (w, h) in caps.sizes[tier].items())
        for tier in caps.resolutions
    )


def _values(values: Iterable[Any]) -> str:
    return ", ".join(str(number(v)) if isinstance(v, int | float) else str(v) for v in values)


def provider_limits(caps: ModelCapabilities) -> str:
    """The cross-field limit of ``cameraMovement``/``effect``/``style``, in words."""
    return (
        f"With cameraMovement, effect or style: duration {_values(caps.provider_setting_durations)} only and a "
        f"size of at most {caps.provider_setting_max_resolution}; cameraMovement and effect exclude each other."
    )


def image_array(item: Schema, most: int, description: str) -> Schema:
    if most == 0:
        return {"type": "null", "description": "This model takes none (`unsupported...` when given)."}
    return optional({"type": "array", "items": item, "minItems": 1, "maxItems": most}, description)


def video_inference_schema(caps: ModelCapabilities) -> Schema:
    """The ``videoInference`` task for one model, with that model's capabilities."""
    widths = sorted({w for w, _ in caps.all_sizes()})
    heights = sorted({h for _, h in caps.all_sizes()})
    narrower = "; ".join(f"{tier}: {_values(d)} only" for tier, d in caps.durations_by_resolution.items())
    fast_off = [*(f"{_values([d])} s" for d in caps.fast_mode_excluded_durations)]
    fast_off += list(caps.fast_mode_excluded_resolutions)
    frame_items = image_array(
        ref("FrameImage"),
        caps.max_frame_images,
        "First and/or last frame images; the output follows the first image's aspect ratio, snapped to the "
        f"nearest of {', '.join(caps.aspects)}. Not with width/height.",
    )
    reference_items = image_array(
        ref("ReferenceImage"), caps.max_reference_images, "Reference images to combine (cinefuse extension)."
    )
    pixverse = obj(
        {
            "cameraMovement": optional({"type": "string", "enum": list(caps.camera_movements)}, provider_limits(caps)),
            "effect": optional({"type": "string", "enum": list(caps.effects)}, provider_limits(caps)),
            "style": optional({"type": "string", "enum": list(caps.styles)}, provider_limits(caps)),
            "motionMode": optional(
                {"type": "string", "enum": list(caps.motion_modes)},
                "`fast` silently becomes `normal` at " + (" or ".join(fast_off) or "no setting") + ".",
                "normal",
            ),
        }
    )
    properties: Schema = {
        "taskType": const("videoInference"),
        "taskUUID": task_uuid("UUID v4 chosen by the client, unique per API key (`conflictTaskUUID`)."),
        "model": const(caps.model_id, caps.description or None),
        "positivePrompt": described(
            {"type": "string", "minLength": caps.prompt_length[0], "maxLength": caps.prompt_length[1]},
            "What to show.",
        ),
        "negativePrompt": optional(
            {"type": "string", "minLength": caps.prompt_length[0], "maxLength": caps.prompt_length[1]},
            "What to avoid.",
        ),
        "width": optional(
            {"type": "integer", "enum": widths},
            f"Output width; with `height`, a pair from the size table ({_sizes(caps)}). Not with `resolution` "
            "or frame images.",
        ),
        "height": optional({"type": "integer", "enum": heights}, "Output height; see `width`."),
        "resolution": optional(
            {"type": "string", "enum": list(caps.resolutions)},
            "Size tier: 16:9 for text-to-video, the first frame image's aspect otherwise. Not with width/height.",
            caps.default_resolution,
        ),
        "duration": optional(
            {"type": "number", "enum": [number(d) for d in caps.durations]},
            "Seconds." + (f" Narrower per tier: {narrower}." if narrower else ""),
            number(caps.default_duration),
        ),
        "fps": optional(
            {"type": "integer", "enum": list(caps.fps)}, "Frames per second; frames = duration x fps.", caps.default_fps
        ),
        "seed": optional(
            {"type": "integer", "minimum": 0, "maximum": SEED_MAX},
            "Random when absent; result i uses seed + i, wrapping.",
        ),
        "numberResults": optional(
            {"type": "integer", "minimum": caps.number_results[0], "maximum": caps.number_results[1]},
            "Results to make; each is its own item, videoUUID and webhook call.",
            1,
        ),
        "outputType": optional({"type": "string", "enum": list(caps.output_types)}, None, caps.output_types[0]),
        "outputFormat": optional(
            {"type": "string", "enum": list(caps.output_formats)},
            "MP4 (H.264, faststart), WEBM (VP9), MOV (H.264 in QuickTime).",
            caps.output_formats[0],
        ),
        "outputQuality": optional(
            {"type": "integer", "minimum": caps.output_quality[0], "maximum": caps.output_quality[1]},
            "Higher means a larger, better file.",
            caps.default_output_quality,
        ),
        "deliveryMethod": optional(
            {"type": "string", "enum": list(caps.delivery_methods)}, None, caps.delivery_methods[0]
        ),
        "webhookURL": url_field("Receives every result, however it ends (Standard Webhooks headers)."),
        "uploadEndpoint": url_field("Every finished result is PUT here (e.g. a presigned S3 URL)."),
        "ttl": optional(
            {"type": "integer", "minimum": TTL_MIN, "maximum": TTL_MAX},
            f"Seconds the videoURL and file live; the server's setting when absent ({DEFAULT_TTL_SECONDS} by default).",
        ),
        "includeCost": optional({"type": "boolean"}, "Add `cost` (USD) to every result.", False),
        "safety": optional(ref("Safety")),
        "inputs": optional(
            obj({"frameImages": frame_items, "referenceImages": reference_items}),
            "Input images. `frameImages`/`referenceImages` may instead be given at top level (older clients), "
            "not both.",
        ),
        "frameImages": {**frame_items, "description": "Legacy top-level form of `inputs.frameImages`."},
        "referenceImages": {**reference_items, "description": "Legacy top-level form of `inputs.referenceImages`."},
        "providerSettings": optional(
            obj({caps.provider: optional(pixverse, f"Settings of the {caps.provider} provider.")}),
            provider_limits(caps),
        ),
    }
    return obj(
        properties,
        ["taskType", "taskUUID", "model", "positivePrompt"],
        title=f"videoInference ({caps.model_id})",
        description=(caps.description + " " if caps.description else "")
        + "Answered with an acknowledgement once durably stored; poll with getResponse.",
    )


def model_component(model_id: str) -> str:
    return "VideoInferenceTask-" + re.sub(r"[^A-Za-z0-9.\-_]", "_", model_id)


def request_components(models: dict[str, ModelCapabilities] | None = None) -> dict[str, Schema]:
    """Component schemas of every task type (``Task`` is their union)."""
    models = MODELS if models is None else models
    lookup = "UUID v4 of a videoInference task this key submitted (another key's task is `taskNotFound`)."
    components: dict[str, Schema] = {
        "AuthenticationTask": obj(
            {
                "taskType": const("authentication"),
                "apiKey": {"type": "string", "description": "The API key (blank or unknown: `invalidApiKey`)."},
                "connectionSessionUUID": optional({"type": "string"}, "Resume an earlier session of the same key."),
                "taskUUID": optional({"type": "string"}, "Echoed in the reply."),
            },
            ["taskType", "apiKey"],
            description="Authenticate the request (REST, instead of the Bearer header) or the WebSocket.",
        ),
        "PingTask": obj(
            {
                "taskType": const("ping"),
                "ping": optional({"type": "boolean"}),
                "taskUUID": optional({"type": "string"}),
            },
            ["taskType"],
            description='Keep-alive; answered `{"taskType":"ping","pong":true}` at once.',
        ),
        "ImageUploadTask": obj(
            {
                "taskType": const("imageUpload"),
                "taskUUID": task_uuid("UUID v4 chosen by the client."),
                "image": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_INLINE_IMAGE_CHARS,
                    "description": "A data URI, bare base64 or an http(s) URL: PNG, JPEG, WEBP, BMP or GIF, "
                    "300..4000 pixels a side, at most 20 MB.",
                },
            },
            ["taskType", "taskUUID", "image"],
            description="Store an image; later tasks of the same key can use its imageUUID.",
        ),
        "GetResponseTask": obj(
            {"taskType": const("getResponse"), "taskUUID": task_uuid(lookup)},
            ["taskType", "taskUUID"],
            description="The results of a videoInference task so far, one item per result.",
        ),
        "CancelTask": obj(
            {"taskType": const("cancelTask"), "taskUUID": task_uuid(lookup)},
            ["taskType", "taskUUID"],
            description="Cancel a task (cinefuse extension): queued work is dropped, running work stops.",
        ),
        "FrameImage": frame_image_schema(),
        "ReferenceImage": reference_image_schema(),
        "Safety": safety_schema(),
    }
    variants = {model_id: model_component(model_id) for model_id in models}
    for model_id, name in variants.items():
        components[name] = video_inference_schema(models[model_id])
    components["VideoInferenceTask"] = {
        "title": "videoInference",
        "description": "Generate video. The fields and their limits depend on `model`.",
        "oneOf": [ref(name) for name in variants.values()],
        "discriminator": {"propertyName": "model", "mapping": {m: _REF + n for m, n in variants.items()}},
    }
    components["Task"] = {
        "description": "One task; `taskType` says which.",
        "oneOf": [ref(TASK_COMPONENTS[t]) for t in TASK_TYPES],
        "discriminator": {
            "propertyName": "taskType",
            "mapping": {t: _REF + TASK_COMPONENTS[t] for t in TASK_TYPES},
        },
    }
    return components


def reply_components() -> dict[str, Schema]:
    """The reply envelope and every item a ``POST /v1`` reply can carry."""
    uuid_text = {"type": "string"}
    dry = {"type": "boolean", "const": True, "description": "The task was a dry run (docs/api.md section 8)."}
    data_items = {
        "authentication": "AuthenticationReply",
        "ping": "PingReply",
        "imageUpload": "ImageUploadReply",
        "videoInference": "VideoInferenceItem",
        "cancelTask": "CancelTaskReply",
    }
    return {
        "Reply": {
            "type": "object",
            "description": "`data`, `errors`, or both (errors are per task). `errors` is never empty.",
            "properties": {
                "data": {"type": "array", "items": ref("DataItem")},
                "errors": {"type": "array", "items": ref("ErrorItem"), "minItems": 1},
            },
            "additionalProperties": False,
            "anyOf": [{"required": ["data"]}, {"required": ["errors"]}],
        },
        "DataItem": {
            "oneOf": [ref(name) for name in data_items.values()],
            "discriminator": {"propertyName": "taskType", "mapping": {t: _REF + n for t, n in data_items.items()}},
        },
        "AuthenticationReply": obj(
            {"taskType": const("authentication"), "connectionSessionUUID": uuid_text},
            ["taskType", "connectionSessionUUID"],
        ),
        "PingReply": obj({"taskType": const("ping"), "pong": {"type": "boolean", "const": True}}, ["taskType", "pong"]),
        "ImageUploadReply": obj(
            {
                "taskType": const("imageUpload"),
                "taskUUID": uuid_text,
                "imageUUID": uuid_text,
                "imageURL": {"type": "string"},
                "dryRun": dry,
            },
            ["taskType", "taskUUID"],
            description="`imageUUID` and `imageURL`, or `dryRun` (nothing stored).",
        ),
        "VideoInferenceItem": obj(
            {
                "taskType": const("videoInference"),
                "taskUUID": uuid_text,
                "status": {"type": "string", "enum": ["processing", "success"]},
                "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                "videoUUID": uuid_text,
                "videoURL": {"type": "string"},
                "seed": {"type": "integer", "minimum": 0, "maximum": SEED_MAX},
                "cost": {"type": "number", "minimum": 0},
                "NSFWContent": {"type": "boolean"},
                "dryRun": dry,
            },
            ["taskType", "taskUUID"],
            description="The acknowledgement of a videoInference (`taskType`, `taskUUID`), or one result in a "
            "getResponse reply: `processing` with `progress`, or `success` with videoUUID, videoURL, seed.",
        ),
        "CancelTaskReply": obj(
            {
                "taskType": const("cancelTask"),
                "taskUUID": uuid_text,
                "status": {"type": "string", "enum": list(get_args(JobStatus))},
                "dryRun": dry,
            },
            ["taskType", "taskUUID", "status"],
        ),
        "ErrorItem": obj(
            {
                "code": {"type": "string", "pattern": "^[a-z][A-Za-z0-9]*$", "description": "See the error table."},
                "message": {"type": "string"},
                "parameter": {"type": "string", "description": "Dotted path of the field at fault."},
                "type": {"type": "string"},
                "allowedValues": {"type": "array"},
                "taskType": {"type": "string", "description": "As sent (when it was a string)."},
                "taskUUID": {"type": "string", "description": "As sent (when it was a string)."},
                "status": {"type": "string", "const": "error", "description": "On a failed result."},
                "videoUUID": {"type": "string", "description": "On a failed result."},
                "videoURL": {"type": "string", "description": "On an `uploadFailed` result: the file stays here."},
            },
            ["code", "message"],
        ),
    }


def v1_operation(max_tasks: int = DEFAULT_MAX_TASKS_PER_REQUEST) -> Schema:
    """The ``POST /v1`` operation object."""
    reply = {"application/json": {"schema": ref("Reply")}}
    return {
        "operationId": "runTasks",
        "summary": "Run tasks (REST transport of the task envelope)",
        "description": (
            "The body is a JSON array of tasks; each is answered in the reply, in order, under `data` or "
            "`errors`. Authenticate with `Authorization: Bearer <key>` or a first `authentication` task. The same "
            "tasks go over the WebSocket at `GET /v1` (first message: an authentication task). The contract is "
            "docs/api.md; every field, limit and error code is in docs/api-reference.md."
        ),
        "tags": ["tasks"],
        "security": [{"bearerAuth": []}, {}],
        "parameters": [
            {
                "name": "dryRun",
                "in": "query",
                "required": False,
                "description": "`1`, `true` or `yes`: validate and answer every task, change nothing.",
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "minItems": 1, "maxItems": max_tasks, "items": ref("Task")}
                }
            },
        },
        "responses": {status: {"description": text, "content": reply} for status, text in REPLY_STATUSES.items()},
    }


def add_task_api(document: Schema, max_tasks: int = DEFAULT_MAX_TASKS_PER_REQUEST) -> Schema:
    """``document`` (an OpenAPI 3.1 object, changed in place) with ``POST /v1`` and its schemas."""
    document.setdefault("paths", {})["/v1"] = {"post": v1_operation(max_tasks)}
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update({**request_components(), **reply_components()})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`cinefuse keys`).",
    }
    return document


def openapi_document(max_tasks: int = DEFAULT_MAX_TASKS_PER_REQUEST) -> Schema:
    """The whole document without an app (for docs and tests): only ``POST /v1``."""
    return add_task_api(
        {"openapi": "3.1.0", "info": {"title": "cinefuse", "version": __version__}, "paths": {}}, max_tasks
    )


def install_openapi(app: FastAPI, *, max_tasks: int = DEFAULT_MAX_TASKS_PER_REQUEST) -> None:
    """Make ``app`` (a FastAPI app) describe ``POST /v1`` in ``/openapi.json`` and ``/docs``."""
    from fastapi.openapi.utils import get_openapi

    def build() -> Schema:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=__version__,
                description="Self-hosted video generation behind the PixVerse V4.5 (Runware `videoInference`) API.",
                routes=app.routes,
            )
            app.openapi_schema = add_task_api(document, max_tasks)
        schema: Schema = app.openapi_schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
