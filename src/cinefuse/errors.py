"""The exception tree. Every leaf carries a stable API error code (API.md section 2).

::

    CinefuseError                  code, message, parameter, allowedValues, type
    ├── RequestError               the client's request is wrong           -> HTTP 400
    │   ├── AuthError              missingApiKey, invalidApiKey            -> HTTP 401
    │   ├── PayloadTooLarge        invalidPayload (body over the limit)    -> HTTP 413
    │   └── LoadShed               rateLimitExceeded, queueFull            -> HTTP 429
    ├── TaskNotFound               taskNotFound (also: another key's task) -> HTTP 400
    └── TaskFailure                a job failed while running (never an HTTP status:
        │                          it is reported on the result)
        ├── InputImageError        invalidImage found at run time
        ├── ContentFlagged         nsfwContentDetected
        ├── TaskCancelled          taskCancelled
        └── UploadFailed           uploadFailed

Domain code raises these; only ``api/`` turns them into HTTP replies. ``code`` is the
camelCase wire code; ``parameter`` the dotted path of the one field at fault.
"""

from __future__ import annotations

from typing import Any


class CinefuseError(Exception):
    code: str = "inferenceError"
    http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        parameter: str | None = None,
        allowed_values: list[Any] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.parameter = parameter
        self.allowed_values = allowed_values
        self.type = type

    def to_wire(self, task_type: str | None = None, task_uuid: str | None = None) -> dict[str, Any]:
        """The API.md error object; ``taskType``/``taskUUID`` are filled by the caller."""
        item: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            item["parameter"] = self.parameter
        if self.type is not None:
            item["type"] = self.type
        if self.allowed_values is not None:
            item["allowedValues"] = self.allowed_values
        if task_type is not None:
            item["taskType"] = task_type
        if task_uuid is not None:
            item["taskUUID"] = task_uuid
        return item


class RequestError(CinefuseError):
    code = "invalidPayload"
    http_status = 400


class AuthError(RequestError):
    code = "invalidApiKey"
    http_status = 401


class PayloadTooLarge(RequestError):
    code = "invalidPayload"
    http_status = 413


class LoadShed(RequestError):
    code = "queueFull"
    http_status = 429


class TaskNotFound(CinefuseError):
    code = "taskNotFound"
    http_status = 400


class TaskFailure(CinefuseError):
    code = "inferenceError"


class InputImageError(TaskFailure):
    code = "invalidImage"


class ContentFlagged(TaskFailure):
    code = "nsfwContentDetected"


class TaskCancelled(TaskFailure):
    code = "taskCancelled"


class UploadFailed(TaskFailure):
    code = "uploadFailed"


def invalid_image(message: str, parameter: str | None = None) -> RequestError:
    """An input image rejected before the acknowledgement."""
    return RequestError(message, code="invalidImage", parameter=parameter)
