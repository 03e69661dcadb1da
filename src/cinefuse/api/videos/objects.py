"""The ``Video`` object of the OpenAI-style front door (openai/types/video.py), from the
job store's view of a video: the one place job states become its ``status``."""

from __future__ import annotations

from typing import Any

from cinefuse.jobs.models import VideoView

#: How long the SDK's ``poll`` waits between retrievals (``openai-poll-after-ms``).
POLL_AFTER_MS = 500


def video_status(view: VideoView) -> str:
    """``queued`` | ``in_progress`` | ``completed`` | ``failed``: the result's state, and
    for a result still pending, whether a worker has the job."""
    if view.result.status == "success":
        return "completed"
    if view.result.status == "error":
        return "failed"
    return "queued" if view.job_status == "queued" else "in_progress"


def video_object(view: VideoView) -> dict[str, Any]:
    video, result = view.video, view.result
    status = video_status(view)
    error = None
    if status == "failed":
        error = {"code": result.error_code or "inferenceError", "message": result.error_message or "Inference failed."}
    return {
        "id": video.id,
        "object": "video",
        "status": status,
        "progress": 100 if status == "completed" else result.progress,
        "created_at": int(video.created_at),
        "completed_at": int(view.finished_at) if view.finished_at is not None and status != "queued" else None,
        "expires_at": int(result.expires_at) if result.expires_at is not None else None,
        "model": video.model,
        "prompt": video.prompt,
        "seconds": video.seconds,
        "size": video.size,
        "remixed_from_video_id": video.remixed_from,
        "error": error,
    }


def video_page(views: list[VideoView], has_more: bool) -> dict[str, Any]:
    """A page of ``GET /v1/videos`` (the SDK's cursor page: ``after=last_id``)."""
    data = [video_object(view) for view in views]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
