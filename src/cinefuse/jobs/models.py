"""Shapes that cross the job store's boundary: typed rows in, typed rows and outcomes out.

Nothing outside ``jobs/`` sees a column name: writers hand in these values (a
``ResultSuccess`` or ``ResultFailure`` for a finished result, ``NewDelivery`` rows for the
outbox), readers get these back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from cinefuse.errors import CinefuseError
from cinefuse.schemas.tasks import VideoInferenceTask

JobStatus = Literal["queued", "running", "success", "error", "cancelled"]
ResultStatus = Literal["pending", "success", "error"]
DeliveryKind = Literal["webhook", "upload"]
DeliveryStatus = Literal["pending", "blocked", "sent", "failed"]
TERMINAL_JOB_STATUSES: tuple[JobStatus, ...] = ("success", "error", "cancelled")
#: ``webhook-id`` prefix of the deliveries that carry an OpenAI-style video event (the
#: deliverer renders those with its ``render_event``); others are ``msg_``.
VIDEO_EVENT_PREFIX = "evt_"


class LeaseState(enum.Enum):
    """What a heartbeat learned about a worker's hold on its job."""

    HELD = "held"
    #: Still held, but the client asked to cancel: stop, and fail what is left as cancelled.
    CANCEL_REQUESTED = "cancel"
    #: Someone else holds the job now (the lease expired): stop and write nothing more.
    LOST = "lost"


@dataclass(frozen=True)
class NewResult:
    idx: int
    video_uuid: str
    seed: int


@dataclass(frozen=True)
class NewJob:
    id: str
    key_id: int
    task: VideoInferenceTask
    results: tuple[NewResult, ...]
    created_at: float
    max_attempts: int

    @property
    def task_uuid(self) -> str:
        return self.task.task_uuid


@dataclass(frozen=True)
class ResultView:
    idx: int
    video_uuid: str
    seed: int
    status: ResultStatus
    progress: int
    media_key: str | None
    expires_at: float | None
    cost: float | None
    nsfw: bool | None
    error_code: str | None
    error_message: str | None
    error_parameter: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class JobView:
    """What getResponse needs: the job's state and its results, in order."""

    job_id: str
    status: JobStatus
    results: tuple[ResultView, ...]


@dataclass(frozen=True)
class NewVideo:
    """A video of the OpenAI-style front door, written just before its job (``videos`` table)."""

    id: str
    key_id: int
    task_uuid: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: float
    remixed_from: str | None = None
    extends: str | None = None
    #: An extension's copy of its source clip, stitched in front of the new one.
    prefix_key: str | None = None


@dataclass(frozen=True)
class Character:
    """A name for a few stored images of one key (``characters`` table)."""

    id: str
    key_id: int
    name: str
    images: tuple[str, ...]
    created_at: float


@dataclass(frozen=True)
class VideoView:
    """A video with its job's state and its one result."""

    video: NewVideo
    job_status: JobStatus
    result: ResultView
    finished_at: float | None


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a job. ``fence`` must accompany every write it makes."""

    job_id: str
    fence: int
    owner: str
    attempts: int
    task: VideoInferenceTask
    key_id: int
    #: Results still to produce, in order, with their seed and videoUUID.
    pending: tuple[NewResult, ...]

    @property
    def task_uuid(self) -> str:
        return self.task.task_uuid

    def video_uuid(self, idx: int) -> str:
        return next(r.video_uuid for r in self.pending if r.idx == idx)


@dataclass(frozen=True)
class ResultSuccess:
    """A result that produced its video: stored under ``media_key`` until ``expires_at``."""

    media_key: str
    content_type: str
    size_bytes: int
    expires_at: float
    cost: float | None = None
    #: None when no safety check ran; False when one ran and passed.
    nsfw: bool | None = None


@dataclass(frozen=True)
class ResultFailure:
    """A result that ended in an error, with the wire code and the parameter at fault."""

    code: str
    message: str
    parameter: str | None = None

    @classmethod
    def of(cls, error: CinefuseError) -> ResultFailure:
        return cls(error.code, error.message, error.parameter)


ResultOutcome = ResultSuccess | ResultFailure


@dataclass(frozen=True)
class ImageRecord:
    uuid: str
    key_id: int
    media_key: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Delivery:
    """One outbox row: a webhook call or an upload still to be made, with what sending it
    needs from its job (the key, for the webhook signature)."""

    id: int
    job_id: str
    result_idx: int
    kind: DeliveryKind
    url: str
    delivery_id: str
    attempts: int
    key_id: int
    task_uuid: str


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to queue with a finished result. ``blocked`` webhooks wait for the
    result's upload to end (its outcome decides what the webhook reports)."""

    kind: DeliveryKind
    url: str
    delivery_id: str
    blocked: bool = False


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of one attempt: ``sent``, ``failed`` (given up), or ``pending`` (retry
    at ``next_attempt_at``). ``result_error`` also turns the result into that error."""

    delivery: Delivery
    status: Literal["sent", "failed", "pending"]
    error: str | None = None
    next_attempt_at: float = 0.0
    result_error: ResultFailure | None = None


def deliveries_for(task: VideoInferenceTask, video_uuid: str, *, succeeded: bool) -> list[NewDelivery]:
    """The outbox rows a finished result owes its client, however it ended (a success, an
    error, a cancel, a sweeper failure). With an upload, the webhook waits for it: the
    upload's outcome (success, or ``uploadFailed``) is what the webhook must report."""
    upload = bool(task.upload_endpoint) and succeeded
    out: list[NewDelivery] = []
    if upload and task.upload_endpoint:
        out.append(NewDelivery("upload", task.upload_endpoint, f"upl_{video_uuid}"))
    if task.webhook_url:
        prefix = VIDEO_EVENT_PREFIX if task.webhook_shape == "video_event" else "msg_"
        out.append(NewDelivery("webhook", task.webhook_url, f"{prefix}{video_uuid}", blocked=upload))
    return out
