"""Builders shared by tests: validated tasks, new jobs and finished-result outcomes."""

from __future__ import annotations

import uuid
from typing import Any

from cinefuse.jobs.models import NewJob, NewResult, ResultSuccess
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import VideoInferenceTask

PROMPT = "a lighthouse on a cliff at sunset"


def video_task(**fields: Any) -> VideoInferenceTask:
    """A validated 360p videoInference task; ``fields`` are wire fields (``webhookURL=...``)."""
    raw: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": PROMPT,
        "resolution": "360p",
        "seed": 100,
    }
    raw.update(fields)
    task = parse_task(raw)
    assert isinstance(task, VideoInferenceTask)
    return task


def new_job(
    key_id: int,
    *,
    results: int = 1,
    task_uuid: str | None = None,
    max_attempts: int = 3,
    created_at: float = 0.0,
    **fields: Any,
) -> NewJob:
    """A job of ``results`` results for ``key_id``; ``fields`` go into its task."""
    if task_uuid is not None:
        fields["taskUUID"] = task_uuid
    task = video_task(numberResults=results, **fields)
    return NewJob(
        id=uuid.uuid4().hex,
        key_id=key_id,
        task=task,
        results=tuple(NewResult(i, str(uuid.uuid4()), task.result_seed(i)) for i in range(results)),
        created_at=created_at,
        max_attempts=max_attempts,
    )


def success(media_key: str = "videos/v.mp4", *, expires_at: float = 2e9, **fields: Any) -> ResultSuccess:
    """A finished result stored under ``media_key``."""
    values: dict[str, Any] = {"content_type": "video/mp4", "size_bytes": 1000}
    values.update(fields)
    return ResultSuccess(media_key=media_key, expires_at=expires_at, **values)
