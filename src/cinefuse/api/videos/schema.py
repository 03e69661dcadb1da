"""How ``/v1/videos`` appears in ``/openapi.json`` and ``/docs``: the bodies and replies the
endpoints read and write by hand (they authenticate before reading a body, so FastAPI does
not parse it for them), written once here as OpenAPI fragments."""

from __future__ import annotations

from typing import Any

from cinefuse.api.videos.requests import DEFAULT_SECONDS, DEFAULT_SIZE, PROVIDER_FIELDS

Schema = dict[str, Any]

_NULLABLE_INT: Schema = {"type": ["integer", "null"]}
_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}

VIDEO: Schema = {
    "type": "object",
    "required": ["id", "object", "status", "progress", "created_at", "model", "seconds", "size"],
    "properties": {
        "id": {"type": "string", "examples": ["video_0f4c6a..."]},
        "object": {"const": "video"},
        "status": {"enum": ["queued", "in_progress", "completed", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "created_at": {"type": "integer", "description": "Unix seconds."},
        "completed_at": _NULLABLE_INT,
        "expires_at": {**_NULLABLE_INT, "description": "When the media goes (the server's ttl)."},
        "model": {"type": "string", "description": "As the request named it (an alias stays an alias)."},
        "prompt": _NULLABLE_TEXT,
        "seconds": {"type": "string", "description": "The duration rendered (docs/openai.md, sizes and durations)."},
        "size": {"type": "string", "description": "The size rendered, WIDTHxHEIGHT."},
        "remixed_from_video_id": _NULLABLE_TEXT,
        "error": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                },
            ]
        },
    },
}
VIDEO_LIST: Schema = {
    "type": "object",
    "required": ["object", "data", "has_more"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": VIDEO},
        "first_id": _NULLABLE_TEXT,
        "last_id": _NULLABLE_TEXT,
        "has_more": {"type": "boolean"},
    },
}
VIDEO_DELETED: Schema = {
    "type": "object",
    "required": ["id", "object", "deleted"],
    "properties": {"id": {"type": "string"}, "object": {"const": "video.deleted"}, "deleted": {"const": True}},
}
ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "examples": ["invalid_request_error", "requests"]},
                "param": _NULLABLE_TEXT,
                "code": _NULLABLE_TEXT,
            },
        }
    },
}

CHARACTER: Schema = {
    "type": "object",
    "required": ["id", "object", "name", "created_at"],
    "properties": {
        "id": {"type": "string", "examples": ["char_5e1f..."]},
        "object": {"const": "character"},
        "name": {"type": "string"},
        "created_at": {"type": "integer"},
    },
}

_EXTRA_FIELDS: Schema = {
    "seed": {"type": "integer"},
    "characters": {"type": "array", "items": {"type": "string"}, "description": "Character ids: reference images."},
    "negative_prompt": {"type": "string"},
    "fps": {"type": "integer"},
    "num_frames": {"type": "integer", "description": "Instead of seconds: num_frames / fps."},
    **{name: {"type": "string"} for name in PROVIDER_FIELDS},
}
_CREATE_FIELDS: Schema = {
    "prompt": {"type": "string"},
    "model": {"type": "string", "default": "sora-2", "description": "A model id or an alias (docs/openai.md)."},
    "seconds": {"type": "string", "default": DEFAULT_SECONDS},
    "size": {"type": "string", "default": DEFAULT_SIZE, "description": "WIDTHxHEIGHT; the nearest size is rendered."},
}
CREATE_BODY: Schema = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["prompt"],
                "properties": {
                    **_CREATE_FIELDS,
                    "input_reference": {"type": "string", "format": "binary", "description": "The first frame."},
                    "input_reference[image_url]": {"type": "string"},
                    "input_reference[file_id]": {"type": "string", "description": "An imageUpload's imageUUID."},
                    **_EXTRA_FIELDS,
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["prompt"],
                "properties": {
                    **_CREATE_FIELDS,
                    "input_reference": {
                        "type": "object",
                        "properties": {"image_url": {"type": "string"}, "file_id": {"type": "string"}},
                    },
                    **_EXTRA_FIELDS,
                },
            }
        },
    },
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def responses(ok: Schema | None, *statuses: int, ok_media: Schema | None = None) -> dict[int | str, Any]:
    """The documented replies of one endpoint: 200 with ``ok`` (or the media types of
    ``ok_media``) and OpenAI-shaped errors for ``statuses``."""
    described: dict[int | str, Any] = {}
    if ok is not None:
        described[200] = _json(ok, "OK")
    if ok_media is not None:
        described[200] = ok_media
    reasons = {
        400: "A bad value (param names it)",
        401: "No key, or an unknown one",
        404: "No such video for this key",
        413: "Body too large",
        429: "Rate limit or full queue (retry-after)",
    }
    for status in statuses:
        described[status] = _json(ERROR, reasons[status])
    return described


CONTENT: Schema = {
    "description": "The MP4 (Range requests answered 206), a WEBP thumbnail or a JPEG spritesheet",
    "content": {
        "video/mp4": {"schema": {"type": "string", "format": "binary"}},
        "image/webp": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    },
}


_VIDEO_REFERENCE_FORM: Schema = {
    "video": {"type": "string", "format": "binary", "description": "A clip (or, for a character, an image)."},
    "video[id]": {"type": "string", "description": "A completed video of this key."},
}
_VIDEO_REFERENCE_JSON: Schema = {"video": {"type": "object", "properties": {"id": {"type": "string"}}}}


def _form_and_json(required: list[str], form: Schema, json: Schema) -> Schema:
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": required, "properties": form}},
            "application/json": {"schema": {"type": "object", "required": required, "properties": json}},
        },
    }


_PROMPT_SECONDS: Schema = {"prompt": {"type": "string"}, "seconds": {"type": "string", "default": DEFAULT_SECONDS}}
EXTEND_BODY = _form_and_json(
    ["prompt", "video"], {**_PROMPT_SECONDS, **_VIDEO_REFERENCE_FORM}, {**_PROMPT_SECONDS, **_VIDEO_REFERENCE_JSON}
)
REMIX_BODY = _form_and_json(["prompt"], {"prompt": {"type": "string"}}, {"prompt": {"type": "string"}})
CHARACTER_BODY = _form_and_json(
    ["name", "video"],
    {"name": {"type": "string"}, **_VIDEO_REFERENCE_FORM},
    {"name": {"type": "string"}, **_VIDEO_REFERENCE_JSON},
)
