"""Shapes that cross the job store's boundary (stored rows as plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JobStatus = Literal["queued", "running", "success", "error", "cancelled"]
ResultStatus = Literal["pending", "success", "error"]
TERMINAL_JOB_STATUSES = ("success", "error", "cancelled")


@dataclass(frozen=True)
class NewResult:
    idx: int
    video_uuid: str
    seed: int


@dataclass(frozen=True)
class NewJob:
    id: str
    key_id: int
    task_uuid: str
    model: str
    request: dict[str, Any]
    results: tuple[NewResult, ...]
    created_at: float
    max_attempts: int


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


@dataclass(frozen=True)
class JobView:
    """What getResponse needs: the job's state and its results, in order."""

    job_id: str
    status: JobStatus
    results: tuple[ResultView, ...]


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a job. ``fence`` must accompany every write it makes."""

    job_id: str
    fence: int
    owner: str
    attempts: int
    request: dict[str, Any]
    key_id: int
    task_uuid: str
    pending: tuple[int, ...]  # result indices still to produce
    seeds: dict[int, int] = field(default_factory=dict)
    video_uuids: dict[int, str] = field(default_factory=dict)


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
    kind: Literal["webhook", "upload"]
    url: str
    delivery_id: str
    attempts: int
    key_id: int
    task_uuid: str


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to queue with a finished result. ``blocked`` webhooks wait for the
    result's upload to end (its outcome decides what the webhook reports)."""

    kind: Literal["webhook", "upload"]
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
    result_error: tuple[str, str] | None = None
