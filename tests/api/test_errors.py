"""Error codes and HTTP statuses: ``api.errors.http_status`` for each error family
(docs/api.md, "Transport": 401 > 413 > 429 > 400, never 5xx for what a client sent), the
``missing/invalid/unsupported<Param>`` codes derived from the parameter's leaf name or an
explicit stem (docs/api.md, "Errors", naming rules), and ``to_wire``'s optional fields.
"""

from __future__ import annotations

import json

import pytest

from cinefuse.api.errors import STATUS_PRIORITY, http_status
from cinefuse.errors import (
    CinefuseError,
    ConflictTaskUUID,
    ContentFlagged,
    IncompatibleParameters,
    InferenceError,
    InputImageError,
    InvalidApiKey,
    InvalidImage,
    InvalidJson,
    InvalidParameter,
    InvalidPayload,
    MissingApiKey,
    MissingParameter,
    PayloadTooLarge,
    QueueFull,
    RateLimitExceeded,
    TaskCancelled,
    TaskNotFound,
    TimeoutProvider,
    TooManyTasks,
    UnknownParameter,
    UnknownTaskType,
    UnsupportedParameter,
    UploadFailed,
)

# -------------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MissingApiKey("No API key."), 401),
        (InvalidApiKey("Invalid API key.", parameter="apiKey"), 401),
        (PayloadTooLarge("Body over 64 MB."), 413),
        (QueueFull("Too many queued tasks."), 429),
        (RateLimitExceeded("Slow down."), 429),
        (InvalidJson("Not JSON."), 400),
        (InvalidPayload("Not an array."), 400),
        (TooManyTasks("More than 1000 tasks."), 400),
        (UnknownTaskType("Unknown taskType.", parameter="taskType"), 400),
        (MissingParameter("Missing positivePrompt.", parameter="positivePrompt"), 400),
        (InvalidParameter("Bad seed.", parameter="seed"), 400),
        (UnsupportedParameter("Bad duration.", parameter="duration"), 400),
        (UnknownParameter("Unknown field.", parameter="colour"), 400),
        (IncompatibleParameters("width without height.", parameter="height"), 400),
        (ConflictTaskUUID("Used.", parameter="taskUUID"), 400),
        (InvalidImage("Not an image.", parameter="image"), 400),
        (TaskNotFound("No such task.", parameter="taskUUID"), 400),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, CinefuseError) else str(value),
)
def test_each_refusal_has_its_documented_status(error: CinefuseError, status: int) -> None:
    assert http_status(error) == status


@pytest.mark.parametrize(
    "failure",
    [
        InferenceError("engine failed"),
        TimeoutProvider("too long"),
        InputImageError("bad URL image", parameter="inputs.frameImages[0]"),
        ContentFlagged("flagged"),
        TaskCancelled("cancelled"),
        UploadFailed("upload failed", parameter="uploadEndpoint"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_failures_of_running_jobs_are_not_client_refusals(failure: CinefuseError) -> None:
    # They are reported on results, never as the status of a request a client sent.
    assert http_status(failure) == 500


def test_the_most_telling_status_wins() -> None:
    assert sorted(STATUS_PRIORITY, key=STATUS_PRIORITY.__getitem__, reverse=True) == [401, 413, 429, 400]


# ----------------------------------------------------------------------- parameter codes


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MissingParameter("m", parameter="positivePrompt"), "missingPositivePrompt"),
        (MissingParameter("m", parameter="taskUUID"), "missingTaskUUID"),
        (MissingParameter("m", parameter="inputs.frameImages[0].image"), "missingImage"),
        (InvalidParameter("m", parameter="seed"), "invalidSeed"),
        (InvalidParameter("m", parameter="outputQuality"), "invalidOutputQuality"),
        (InvalidParameter("m", parameter="inputs.frameImages[1].frame"), "invalidFrame"),
        (InvalidParameter("m", parameter="inputs.frameImages[1].frame", stem="FramePosition"), "invalidFramePosition"),
        (InvalidParameter("m", parameter="inputs.frameImages[1]"), "invalidFrameImages"),
        (UnsupportedParameter("m", parameter="providerSettings.pixverse.cameraMovement"), "unsupportedCameraMovement"),
        (UnsupportedParameter("m", parameter="safety.mode", stem="SafetyMode"), "unsupportedSafetyMode"),
        (UnsupportedParameter("m", parameter="safety.mode"), "unsupportedMode"),
        (UnsupportedParameter("m", parameter="width", stem="Dimensions"), "unsupportedDimensions"),
        (UnsupportedParameter("m", parameter="duration"), "unsupportedDuration"),
        (UnsupportedParameter("m", parameter="model"), "unsupportedModel"),
    ],
    ids=lambda value: value.parameter if isinstance(value, CinefuseError) else str(value),
)
def test_parameter_codes_come_from_the_leaf_name_or_the_stem(error: CinefuseError, code: str) -> None:
    assert error.code == code
    assert error.to_wire()["code"] == code


def test_the_code_is_per_instance() -> None:
    seed = InvalidParameter("m", parameter="seed")
    fps = InvalidParameter("m", parameter="fps")
    assert (seed.code, fps.code) == ("invalidSeed", "invalidFps")
    assert InvalidParameter.code == "invalidPayload"  # the class attribute is untouched


# ------------------------------------------------------------------------------- to_wire


def test_to_wire_has_only_code_and_message_when_nothing_else_is_set() -> None:
    assert InvalidJson("The body is not JSON.").to_wire() == {"code": "invalidJson", "message": "The body is not JSON."}


def test_to_wire_adds_parameter_type_allowed_values_and_the_task_when_set() -> None:
    error = UnsupportedParameter(
        "Invalid value for duration parameter. Allowed values at 1080p: 5.",
        parameter="duration",
        type="float",
        allowed_values=[5],
    )
    wire = error.to_wire("videoInference", "0b4e3a52-9d43-4f0e-8a3c-1f2d3c4b5a69")
    assert wire == {
        "code": "unsupportedDuration",
        "message": "Invalid value for duration parameter. Allowed values at 1080p: 5.",
        "parameter": "duration",
        "type": "float",
        "allowedValues": [5],
        "taskType": "videoInference",
        "taskUUID": "0b4e3a52-9d43-4f0e-8a3c-1f2d3c4b5a69",
    }
    assert json.loads(json.dumps(wire)) == wire


@pytest.mark.parametrize(
    ("error", "keys"),
    [
        (TaskNotFound("No task.", parameter="taskUUID"), {"code", "message", "parameter"}),
        (InvalidParameter("Bad seed.", parameter="seed", type="integer"), {"code", "message", "parameter", "type"}),
        (
            UnknownTaskType("Unknown.", allowed_values=["ping", "videoInference"]),
            {"code", "message", "allowedValues"},
        ),
        (InferenceError("failed"), {"code", "message"}),
    ],
    ids=["parameter", "type", "allowedValues", "bare"],
)
def test_to_wire_leaves_unset_fields_out(error: CinefuseError, keys: set[str]) -> None:
    assert set(error.to_wire()) == keys
    assert set(error.to_wire(task_type="getResponse")) == keys | {"taskType"}
