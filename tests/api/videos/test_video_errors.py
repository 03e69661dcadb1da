"""OpenAI-shaped errors of the front door, from cinefuse's (api/videos/errors.py)."""

from __future__ import annotations

import pytest

from cinefuse.api.videos.errors import from_cinefuse, parameter_name
from cinefuse.errors import (
    CinefuseError,
    InvalidApiKey,
    InvalidImage,
    InvalidParameter,
    MissingApiKey,
    PayloadTooLarge,
    QueueFull,
    RateLimitExceeded,
)


@pytest.mark.parametrize(
    ("runware", "openai"),
    [
        ("positivePrompt", "prompt"),
        ("duration", "seconds"),
        ("width", "size"),
        ("resolution", "size"),
        ("frameImages[0].inputImage", "input_reference"),
        ("frameImages", "input_reference"),
        ("providerSettings.pixverse.cameraMovement", "camera_movement"),
        ("providerSettings.pixverse.motionMode", "motion_mode"),
        ("outputQuality", "outputQuality"),
    ],
)
def test_parameters_take_the_front_doors_names(runware: str, openai: str) -> None:
    assert parameter_name(runware) == openai


@pytest.mark.parametrize(
    ("error", "status", "kind", "code", "param"),
    [
        (InvalidParameter("bad", parameter="duration"), 400, "invalid_request_error", "invalid_value", "seconds"),
        (
            InvalidImage("bad", parameter="frameImages[0]"),
            400,
            "invalid_request_error",
            "invalid_image",
            "input_reference",
        ),
        (MissingApiKey("none"), 401, "invalid_request_error", "missing_api_key", None),
        (InvalidApiKey("bad"), 401, "invalid_request_error", "invalid_api_key", None),
        (PayloadTooLarge("big"), 413, "invalid_request_error", "request_too_large", None),
        (QueueFull("full"), 429, "requests", "queue_full", None),
        (RateLimitExceeded("fast"), 429, "requests", "rate_limit_exceeded", None),
    ],
)
def test_cinefuse_errors_become_openai_ones(
    error: CinefuseError, status: int, kind: str, code: str, param: str | None
) -> None:
    mapped = from_cinefuse(error)
    assert (mapped.status, mapped.type, mapped.code, mapped.param) == (status, kind, code, param)
    assert mapped.body() == {"error": {"message": mapped.message, "type": kind, "param": param, "code": code}}
    if status == 429:
        assert mapped.headers == {"retry-after": "1"}


def test_allowed_values_are_spelled_out_in_the_message() -> None:
    error = InvalidParameter(
        "Bad style.", parameter="providerSettings.pixverse.style", allowed_values=["anime", "clay"]
    )
    assert from_cinefuse(error).message == "Bad style. Allowed values: anime, clay."
