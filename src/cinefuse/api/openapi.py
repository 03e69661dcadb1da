"""The OpenAPI description of ``POST /v1`` (docs/api.md), written from the parser's own rules.

``POST /v1`` is answered by a bare ASGI layer in front of FastAPI (``api/rest.py``), so
FastAPI's generated document never sees it. :func:`install_openapi` gives the app an
``openapi()`` that adds the operation: a request body that is an array of a discriminated
union (``taskType``) of every task type, each ``videoInference`` variant discriminated again
by ``model`` and carrying that model's capabilities, plus the reply envelope and its items.

Every field's schema is the ``schema()`` of the rule the parser checks it with
(``schemas/task_rules.py``: lengths, patterns, ranges, enums, item counts, per model from
``ModelCapabilities``), and each model's cross-field rules are stated by
``schemas/cross_rules.py`` from the same capabilities: the document cannot drift from the
validation.

Contract of the schema against the server: a body the server accepts validates against the
schema, and a body the schema refuses is refused by the server. A schema-valid task is
refused only for what JSON Schema cannot state: an image UUID that must exist and an inline
image that must decode (``invalidImage``), a taskUUID already used (``conflictTaskUUID``) or
unknown (``taskNotFound``), an API key that must be known (``invalidApiKey``), an ``xn--``
host label that must be valid punycode; and two cross-field rules the schema leaves to the
descriptions so that generators can still build it (an image array in both places, two frame
images on one position: ``schemas/cross_rules.py`` says why). Optional fields accept JSON
``null`` (it counts as absent); unknown fields are refused at every level
(``additionalProperties: false``).

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
from cinefuse.schemas.cross_rules import camera_or_effect, video_rules_schema
from cinefuse.schemas.rules import Items, Text, number
from cinefuse.schemas.task_rules import (
    FRAME_POSITIONS,
    HTTP_URL,
    IMAGE,
    SAFETY_MODE,
    SEED,
    TASK_UUID,
    TTL,
    URL_FORM,
    video_rules,
)
from cinefuse.schemas.tasks import SEED_MAX, TASK_TYPES
from cinefuse.settings import DEFAULT_MAX_TASKS_PER_REQUEST, DEFAULT_TTL_SECONDS

Schema = dict[str, Any]
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
    return {**TASK_UUID.schema(), "description": description}


def url_field(description: str) -> Schema:
    return optional(HTTP_URL.schema(), f"{description} It must {URL_FORM}.")


def text(rule: Text, description: str) -> Schema:
    return {**rule.schema(), "description": description}


def image_value() -> Schema:
    return {
        "title": "Image",
        **IMAGE.schema(),
        "description": "An image: the imageUUID of an uploaded image, an http(s) URL, a data URI or bare base64. "
        "A UUID must name an image of this key, an inline image must decode (PNG, JPEG, WEBP, BMP or GIF, "
        "300..4000 pixels a side, at most 20 MB): `invalidImage` otherwise.",
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
                SAFETY_MODE.schema(),
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


def image_array(item: Schema, rule: Items | None, description: str) -> Schema:
    """An image array of ``rule``'s length (``None``: the model takes none)."""
    if rule is None:
        return {"type": "null", "description": "This model takes none (`unsupported...` when given)."}
    return optional(rule.schema(item), description)


def video_inference_schema(caps: ModelCapabilities) -> Schema:
    """The ``videoInference`` task for one model: each field the schema of its rule
    (``schemas/task_rules.py``), the cross-field rules in ``allOf`` (``schemas/cross_rules.py``)."""
    rules = video_rules(caps)
    widths = sorted({w for w, _ in caps.all_sizes()})
    heights = sorted({h for _, h in caps.all_sizes()})
    narrower = "; ".join(f"{tier}: {_values(d)} only" for tier, d in caps.durations_by_resolution.items())
    fast_off = [*(f"{_values([d])} s" for d in caps.fast_mode_excluded_durations)]
    fast_off += list(caps.fast_mode_excluded_resolutions)
    frame_items = image_array(
        ref("FrameImage"),
        rules.frame_images,
        "First and/or last frame images; the output follows the first image's aspect ratio (the last image's "
        f"when it is the only one), snapped to the nearest of {', '.join(caps.aspects)}. Not with width/height. "
        "Two images on one position: `incompatibleParameters` (a rule the schema does not state).",
    )
    reference_items = image_array(
        ref("ReferenceImage"), rules.reference_images, "Reference images to combine (cinefuse extension)."
    )
    pixverse = obj(
        {
            "cameraMovement": optional(rules.camera_movement.schema(), provider_limits(caps)),
            "effect": optional(rules.effect.schema(), provider_limits(caps)),
            "style": optional(rules.style.schema(), provider_limits(caps)),
            "motionMode": optional(
                rules.motion_mode.schema(),
                "`fast` silently becomes `normal` at " + (" or ".join(fast_off) or "no setting") + ".",
                "normal",
            ),
        },
        allOf=[camera_or_effect()],
    )
    properties: Schema = {
        "taskType": const("videoInference"),
        "taskUUID": task_uuid("UUID v4 chosen by the client, unique per API key (`conflictTaskUUID`)."),
        "model": const(caps.model_id, caps.description or None),
        "positivePrompt": text(rules.positive_prompt, "What to show (not only white space)."),
        "negativePrompt": optional(rules.negative_prompt.schema(), "What to avoid."),
        "width": optional(
            {"type": "integer", "enum": widths},
            f"Output width; with `height`, a pair from the size table ({_sizes(caps)}). Not with `resolution` "
            "or frame images.",
        ),
        "height": optional({"type": "integer", "enum": heights}, "Output height; see `width`."),
        "resolution": optional(
            rules.resolution.schema(),
            "Size tier: 16:9 for text-to-video, the frame image's aspect otherwise. Not with width/height.",
            caps.default_resolution,
        ),
        "duration": optional(
            rules.duration.schema(),
            "Seconds." + (f" Narrower per tier: {narrower}." if narrower else ""),
            number(caps.default_duration),
        ),
        "fps": optional(rules.fps.schema(), "Frames per second; frames = duration x fps.", caps.default_fps),
        "seed": optional(SEED.schema(), "Random when absent; result i uses seed + i, wrapping."),
        "numberResults": optional(
            rules.number_results.schema(), "Results to make; each is its own item, videoUUID and webhook call.", 1
        ),
        "outputType": optional(rules.output_type.schema(), None, caps.output_types[0]),
        "outputFormat": optional(
            rules.output_format.schema(),
            "MP4 (H.264, faststart), WEBM (VP9), MOV (H.264 in QuickTime).",
            caps.output_formats[0],
        ),
        "outputQuality": optional(
            rules.output_quality.schema(), "Higher means a larger, better file.", caps.default_output_quality
        ),
        "deliveryMethod": optional(rules.delivery_method.schema(), None, caps.delivery_methods[0]),
        "webhookURL": url_field("Receives every result, however it ends (Standard Webhooks headers)."),
        "uploadEndpoint": url_field("Every finished result is PUT here (e.g. a presigned S3 URL)."),
        "ttl": optional(
            TTL.schema(),
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
        allOf=video_rules_schema(caps),
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
                    **IMAGE.schema(),
                    "description": "A data URI, bare base64 or an http(s) URL (or an image UUID of this key): "
                    "PNG, JPEG, WEBP, BMP or GIF, 300..4000 pixels a side, at most 20 MB (`invalidImage` "
                    "otherwise: an image must decode, a URL is fetched at once).",
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
