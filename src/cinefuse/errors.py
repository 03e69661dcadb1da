"""The exception tree. Every leaf carries one stable API error code (docs/api.md, "Errors").

::

    CinefuseError                      .code .message .parameter .allowed_values .type
    ├── RequestError                   the client's request is wrong (refused, nothing queued)
    │   ├── InvalidJson                invalidJson: the body or message is not JSON
    │   ├── InvalidPayload             invalidPayload: not a non-empty array of task objects
    │   │   ├── PayloadTooLarge        invalidPayload: over the size limit
    │   │   └── TooManyTasks           invalidPayload: over the tasks-per-request limit
    │   ├── UnknownTaskType            unknownTaskType
    │   ├── MissingParameter           missing<Param>      a required field is absent or null
    │   ├── InvalidParameter           invalid<Param>      wrong JSON type, or out of range
    │   ├── UnsupportedParameter       unsupported<Param>  a value the model does not offer
    │   ├── UnknownParameter           unknownParameter
    │   ├── IncompatibleParameters     incompatibleParameters
    │   ├── ConflictTaskUUID           conflictTaskUUID
    │   ├── InvalidImage               invalidImage        an input image refused before the ack
    │   ├── AuthError
    │   │   ├── MissingApiKey          missingApiKey
    │   │   └── InvalidApiKey          invalidApiKey
    │   └── LoadShed
    │       ├── RateLimitExceeded      rateLimitExceeded
    │       └── QueueFull              queueFull
    ├── TaskNotFound                   taskNotFound (also: another key's task)
    └── TaskFailure                    a job failed while running: reported on its results
        ├── InferenceError             inferenceError (an engine or encoder failure)
        ├── TimeoutProvider            timeoutProvider (the job ran past its time limit)
        ├── InputImageError            invalidImage found at run time (a URL image)
        ├── ContentFlagged             nsfwContentDetected
        ├── TaskCancelled              taskCancelled
        └── UploadFailed               uploadFailed

Domain code raises these; only ``api/`` turns them into HTTP statuses. Each class fixes its
own code (the ``missing/invalid/unsupported<Param>`` families derive it from the parameter's
leaf name), so no call site names a code. ``parameter`` is the dotted path of the one field
at fault (``providerSettings.pixverse.cameraMovement``, ``inputs.frameImages[1].frame``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class CinefuseError(Exception):
    #: The wire code: fixed per class (the parameter families set theirs per instance).
    code: str = "inferenceError"

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        allowed_values: list[Any] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.allowed_values = allowed_values
        self.type = type

    def to_wire(self, task_type: str | None = None, task_uuid: str | None = None) -> dict[str, Any]:
        """The API error object; ``taskType``/``taskUUID`` are filled by the caller."""
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


# ---------------------------------------------------------------------------- request errors


class RequestError(CinefuseError):
    code = "invalidPayload"


class InvalidJson(RequestError):
    code = "invalidJson"


class InvalidPayload(RequestError):
    code = "invalidPayload"


class PayloadTooLarge(InvalidPayload):
    pass


class TooManyTasks(InvalidPayload):
    pass


class UnknownTaskType(RequestError):
    code = "unknownTaskType"


def param_stem(parameter: str) -> str:
    """``providerSettings.pixverse.cameraMovement`` -> ``CameraMovement``;
    ``inputs.frameImages[1]`` -> ``FrameImages``: the leaf name, capitalised."""
    leaf = parameter.rsplit(".", 1)[-1].split("[", 1)[0]
    return leaf[:1].upper() + leaf[1:]


class _ParameterFamily(RequestError):
    """Errors whose code is ``<prefix><Param>``; ``stem`` replaces the parameter's leaf
    name where the contract names the code differently (``safety.mode`` -> ``SafetyMode``)."""

    prefix: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        stem: str | None = None,
        allowed_values: list[Any] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message, parameter=parameter, allowed_values=allowed_values, type=type)
        self.code = f"{self.prefix}{stem or param_stem(parameter)}"


class MissingParameter(_ParameterFamily):
    prefix = "missing"


class InvalidParameter(_ParameterFamily):
    prefix = "invalid"


class UnsupportedParameter(_ParameterFamily):
    prefix = "unsupported"


class UnknownParameter(RequestError):
    code = "unknownParameter"


class IncompatibleParameters(RequestError):
    code = "incompatibleParameters"


class ConflictTaskUUID(RequestError):
    code = "conflictTaskUUID"


class InvalidImage(RequestError):
    code = "invalidImage"


class AuthError(RequestError):
    code = "invalidApiKey"


class MissingApiKey(AuthError):
    code = "missingApiKey"


class InvalidApiKey(AuthError):
    code = "invalidApiKey"


class LoadShed(RequestError):
    code = "queueFull"


class RateLimitExceeded(LoadShed):
    code = "rateLimitExceeded"


class QueueFull(LoadShed):
    code = "queueFull"


class TaskNotFound(CinefuseError):
    code = "taskNotFound"


# ---------------------------------------------------------------------------- task failures


class TaskFailure(CinefuseError):
    """A job failed while running; the failure becomes its pending results' error."""

    code = "inferenceError"


class InferenceError(TaskFailure):
    code = "inferenceError"


class TimeoutProvider(TaskFailure):
    code = "timeoutProvider"


class InputImageError(TaskFailure):
    code = "invalidImage"

    @classmethod
    def from_request_error(cls, error: RequestError) -> Self:
        """The same refusal, found while the job runs (a URL image fetched late)."""
        return cls(error.message, parameter=error.parameter)


class ContentFlagged(TaskFailure):
    code = "nsfwContentDetected"


class TaskCancelled(TaskFailure):
    code = "taskCancelled"


#: The message of the tasks a revoked key leaves unfinished (docs/api.md, "Revoked keys").
KEY_REVOKED = "Task cancelled: its API key was revoked."


class UploadFailed(TaskFailure):
    code = "uploadFailed"
