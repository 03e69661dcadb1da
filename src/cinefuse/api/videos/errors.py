"""Errors of the OpenAI-style front door, in OpenAI's shape (docs/openai.md, "Errors"):
``{"error": {"message", "type", "param", "code"}}`` with OpenAI's status codes.

The front door's own refusals raise ``VideoApiError``; a cinefuse error raised by the shared
parts (validation, queue, rate limit, images) becomes one with ``from_cinefuse``, its
Runware parameter name turned into the front door's (``positivePrompt`` -> ``prompt``).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from cinefuse.errors import (
    AuthError,
    CinefuseError,
    InvalidImage,
    MissingApiKey,
    PayloadTooLarge,
    QueueFull,
    RateLimitExceeded,
    TaskNotFound,
)

INVALID_REQUEST = "invalid_request_error"
#: A refused request's ``Retry-After`` (seconds) on 429.
RETRY_AFTER_S = 1

#: Runware parameter (its first segment) -> the front door's name for it.
PARAMETER_NAMES = {
    "positivePrompt": "prompt",
    "negativePrompt": "negative_prompt",
    "duration": "seconds",
    "width": "size",
    "height": "size",
    "resolution": "size",
    "model": "model",
    "seed": "seed",
    "fps": "fps",
    "frameImages": "input_reference",
    "referenceImages": "characters",
    "webhookURL": "webhook_url",
    "inputs": "input_reference",
    "providerSettings.pixverse.cameraMovement": "camera_movement",
    "providerSettings.pixverse.style": "style",
    "providerSettings.pixverse.effect": "effect",
    "providerSettings.pixverse.motionMode": "motion_mode",
}


class VideoApiError(Exception):
    """A refusal in OpenAI's shape: HTTP ``status`` and the error object's fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        type: str = INVALID_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid_value(param: str, message: str) -> VideoApiError:
    return VideoApiError(400, message, code="invalid_value", param=param)


def not_found(video_id: str, param: str = "video_id") -> VideoApiError:
    return VideoApiError(404, f"No video {video_id!r} for this API key.", code="not_found", param=param)


def parameter_name(parameter: str | None) -> str | None:
    """The front door's name for a Runware parameter (``frameImages[0].inputImage`` ->
    ``input_reference``); an unknown one is kept as it is."""
    if parameter is None:
        return None
    if parameter in PARAMETER_NAMES:
        return PARAMETER_NAMES[parameter]
    head = parameter.split(".", 1)[0].split("[", 1)[0]
    return PARAMETER_NAMES.get(head, parameter)


def from_cinefuse(error: CinefuseError) -> VideoApiError:
    """The OpenAI-shaped refusal for a cinefuse error raised while taking a request."""
    if isinstance(error, AuthError):
        code = "missing_api_key" if isinstance(error, MissingApiKey) else "invalid_api_key"
        return VideoApiError(401, error.message, code=code)
    if isinstance(error, RateLimitExceeded):
        return VideoApiError(
            429, error.message, code="rate_limit_exceeded", type="requests", headers={"retry-after": str(RETRY_AFTER_S)}
        )
    if isinstance(error, QueueFull):
        return VideoApiError(
            429, error.message, code="queue_full", type="requests", headers={"retry-after": str(RETRY_AFTER_S)}
        )
    if isinstance(error, PayloadTooLarge):
        return VideoApiError(413, error.message, code="request_too_large")
    if isinstance(error, TaskNotFound):
        return VideoApiError(404, error.message, code="not_found", param=parameter_name(error.parameter))
    message = error.message
    if error.allowed_values:
        message = f"{message} Allowed values: {', '.join(str(v) for v in error.allowed_values)}."
    code = "invalid_image" if isinstance(error, InvalidImage) else "invalid_value"
    return VideoApiError(400, message, code=code, param=parameter_name(error.parameter))
