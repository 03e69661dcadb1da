"""The task envelope (docs/api.md sections 1-3): taskType dispatch and the small task types.

videoInference's own rules live in ``test_video_inference_rules.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cinefuse.api.errors import http_status
from cinefuse.errors import RequestError
from cinefuse.schemas.parser import parse_task, task_identity
from cinefuse.schemas.tasks import (
    AuthenticationTask,
    ImageUploadTask,
    PingTask,
    TaskLookup,
    VideoInferenceTask,
)

TASK_UUID = "0b9d3c1e-7a54-4f2b-9c8d-1e2f3a4b5c6d"
TASK_TYPES = ["authentication", "ping", "imageUpload", "videoInference", "getResponse", "cancelTask"]
PNG_URI = "data:image/png;base64,iVBORw0KGgo="


def reject(raw: Any) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse_task(raw)
    return info.value


# ---------------------------------------------------------------------------- taskType


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"taskUUID": TASK_UUID}, "missingTaskType"),
        ({"taskType": None, "taskUUID": TASK_UUID}, "missingTaskType"),
        ({}, "missingTaskType"),
        ({"taskType": 5}, "invalidTaskType"),
        ({"taskType": ["ping"]}, "invalidTaskType"),
        ({"taskType": True}, "invalidTaskType"),
    ],
    ids=["absent", "null", "empty-object", "int", "list", "bool"],
)
def test_task_type_missing_or_not_a_string(raw: dict[str, Any], code: str) -> None:
    error = reject(raw)
    assert (error.code, error.parameter) == (code, "taskType")


@pytest.mark.parametrize(
    "task_type",
    ["imageInference", "textInference", "", "VideoInference", "videoinference", "ping ", "getresponse", "upload"],
)
def test_unknown_task_type(task_type: str) -> None:
    error = reject({"taskType": task_type, "taskUUID": TASK_UUID})
    assert (error.code, error.parameter) == ("unknownTaskType", "taskType")
    assert error.allowed_values == TASK_TYPES
    wire = error.to_wire(task_type, TASK_UUID)
    assert wire["taskType"] == task_type and wire["taskUUID"] == TASK_UUID


@pytest.mark.parametrize(
    "raw",
    [None, True, 0, 1.5, "videoInference", [], [{"taskType": "ping"}], b"{}"],
    ids=["null", "bool", "int", "float", "string", "empty-list", "nested-list", "bytes"],
)
def test_non_object_task_is_invalid_payload(raw: Any) -> None:
    error = reject(raw)
    assert error.code == "invalidPayload"
    assert http_status(error) == 400


# ---------------------------------------------------------------------------- imageUpload


_DROP = object()


def upload(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"taskType": "imageUpload", "taskUUID": TASK_UUID, "image": PNG_URI}
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not _DROP}


@pytest.mark.parametrize(
    ("raw", "code", "parameter"),
    [
        (upload(image=_DROP), "missingImage", "image"),
        (upload(image=None), "missingImage", "image"),
        (upload(image=""), "invalidImage", "image"),
        (upload(image=123), "invalidImage", "image"),
        (upload(image={"data": PNG_URI}), "invalidImage", "image"),
        (upload(taskUUID=_DROP), "missingTaskUUID", "taskUUID"),
        (upload(taskUUID="abc"), "invalidTaskUUID", "taskUUID"),
        (upload(taskUUID=str(uuid.uuid1())), "invalidTaskUUID", "taskUUID"),
        (upload(imageName="cat.png"), "unknownParameter", "imageName"),
    ],
    ids=[
        "no-image",
        "null-image",
        "empty-image",
        "int-image",
        "object-image",
        "no-uuid",
        "bad-uuid",
        "uuid-v1",
        "unknown-field",
    ],
)
def test_image_upload_rejections(raw: dict[str, Any], code: str, parameter: str) -> None:
    error = reject(raw)
    assert (error.code, error.parameter) == (code, parameter)


@pytest.mark.parametrize(
    "image", [PNG_URI, "iVBORw0KGgo=", "https://example.com/cat.png", "0b8f6c2e-3d4a-4f1b-9c7e-5a6d2e1f0c9b"]
)
def test_image_upload_accepted(image: str) -> None:
    parsed = parse_task(upload(image=image, taskUUID=TASK_UUID.upper()))
    assert parsed == ImageUploadTask(TASK_UUID.upper(), image)  # echoed as sent


# ---------------------------------------------------------------------------- getResponse / cancelTask


@pytest.mark.parametrize("task_type", ["getResponse", "cancelTask"])
@pytest.mark.parametrize(
    ("fields", "code", "parameter"),
    [
        ({}, "missingTaskUUID", "taskUUID"),
        ({"taskUUID": None}, "missingTaskUUID", "taskUUID"),
        ({"taskUUID": "not-a-uuid"}, "invalidTaskUUID", "taskUUID"),
        ({"taskUUID": str(uuid.uuid1())}, "invalidTaskUUID", "taskUUID"),
        ({"taskUUID": uuid.UUID(TASK_UUID).hex}, "invalidTaskUUID", "taskUUID"),
        ({"taskUUID": 12}, "invalidTaskUUID", "taskUUID"),
        ({"taskUUID": [TASK_UUID]}, "invalidTaskUUID", "taskUUID"),
        ({"taskUUID": TASK_UUID, "numberResults": 1}, "unknownParameter", "numberResults"),
        ({"taskUUID": TASK_UUID, "model": "pixverse:1@3"}, "unknownParameter", "model"),
    ],
    ids=["absent", "null", "garbage", "uuid-v1", "hex", "int", "list", "numberResults", "model"],
)
def test_lookup_rejections(task_type: str, fields: dict[str, Any], code: str, parameter: str) -> None:
    error = reject({"taskType": task_type, **fields})
    assert (error.code, error.parameter) == (code, parameter)


@pytest.mark.parametrize("task_type", ["getResponse", "cancelTask"])
def test_lookup_accepted_with_task_uuid_as_sent(task_type: str) -> None:
    parsed = parse_task({"taskType": task_type, "taskUUID": TASK_UUID.upper()})
    assert parsed == TaskLookup(task_type, TASK_UUID.upper())


# ---------------------------------------------------------------------------- authentication / ping


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"taskType": "authentication", "apiKey": "k1"}, AuthenticationTask("k1", None)),
        (
            {"taskType": "authentication", "apiKey": "k1", "connectionSessionUUID": TASK_UUID},
            AuthenticationTask("k1", TASK_UUID),
        ),
        (
            {"taskType": "authentication", "apiKey": "k1", "taskUUID": "anything"},
            AuthenticationTask("k1", None, "anything"),
        ),
        # The key's absence is the handler's business (missingApiKey, HTTP 401), not the parser's.
        ({"taskType": "authentication"}, AuthenticationTask(None, None)),
        ({"taskType": "authentication", "apiKey": None, "connectionSessionUUID": None}, AuthenticationTask(None, None)),
    ],
    ids=["key", "resume", "with-task-uuid", "no-key", "nulls"],
)
def test_authentication_shapes(raw: dict[str, Any], expected: AuthenticationTask) -> None:
    assert parse_task(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "parameter"),
    [
        ({"taskType": "authentication", "apiKey": 5}, "invalidApiKey", "apiKey"),
        (
            {"taskType": "authentication", "apiKey": "k", "connectionSessionUUID": 1},
            "invalidConnectionSessionUUID",
            "connectionSessionUUID",
        ),
        ({"taskType": "authentication", "apiKey": "k", "sdk": "python"}, "unknownParameter", "sdk"),
    ],
    ids=["int-key", "int-session", "unknown-field"],
)
def test_authentication_rejections(raw: dict[str, Any], code: str, parameter: str) -> None:
    error = reject(raw)
    assert (error.code, error.parameter) == (code, parameter)


@pytest.mark.parametrize(
    "raw",
    [
        {"taskType": "ping", "ping": True},
        {"taskType": "ping"},
        {"taskType": "ping", "ping": False},
        {"taskType": "ping", "ping": None},
        {"taskType": "ping", "ping": True, "taskUUID": TASK_UUID},
    ],
)
def test_ping_shapes(raw: dict[str, Any]) -> None:
    parsed = parse_task(raw)
    assert isinstance(parsed, PingTask)
    assert parsed.task_uuid == raw.get("taskUUID")


@pytest.mark.parametrize(
    ("raw", "code", "parameter"),
    [
        ({"taskType": "ping", "ping": "yes"}, "invalidPing", "ping"),
        ({"taskType": "ping", "ping": 1}, "invalidPing", "ping"),
        ({"taskType": "ping", "ping": True, "pong": True}, "unknownParameter", "pong"),
    ],
)
def test_ping_rejections(raw: dict[str, Any], code: str, parameter: str) -> None:
    error = reject(raw)
    assert (error.code, error.parameter) == (code, parameter)


# ---------------------------------------------------------------------------- videoInference dispatch


def test_video_inference_dispatch() -> None:
    raw = {"taskType": "videoInference", "taskUUID": TASK_UUID, "model": "pixverse:1@3", "positivePrompt": "a fox"}
    assert isinstance(parse_task(raw), VideoInferenceTask)


def test_fields_of_one_task_type_are_unknown_in_another() -> None:
    error = reject({"taskType": "getResponse", "taskUUID": TASK_UUID, "positivePrompt": "a fox"})
    assert (error.code, error.parameter) == ("unknownParameter", "positivePrompt")
    error = reject({"taskType": "imageUpload", "taskUUID": TASK_UUID, "image": PNG_URI, "apiKey": "k"})
    assert (error.code, error.parameter) == ("unknownParameter", "apiKey")


# ---------------------------------------------------------------------------- error labelling


@pytest.mark.parametrize(
    ("raw", "identity"),
    [
        ({"taskType": "videoInference", "taskUUID": TASK_UUID}, ("videoInference", TASK_UUID)),
        ({"taskType": "nope", "taskUUID": "x"}, ("nope", "x")),
        ({"taskType": 1, "taskUUID": 2}, (None, None)),
        ({}, (None, None)),
        ([], (None, None)),
        (None, (None, None)),
        ("videoInference", (None, None)),
    ],
)
def test_task_identity(raw: Any, identity: tuple[str | None, str | None]) -> None:
    assert task_identity(raw) == identity


def test_error_to_wire_has_the_api_md_keys() -> None:
    error = reject({"taskType": "getResponse", "taskUUID": "nope"})
    wire = error.to_wire("getResponse", "nope")
    assert {"code", "message", "parameter", "taskType", "taskUUID"} <= wire.keys()
    assert wire["code"] == "invalidTaskUUID" and wire["parameter"] == "taskUUID"
    # Without a known task identity the keys are left out, never null.
    assert "taskType" not in error.to_wire() and "taskUUID" not in error.to_wire()
