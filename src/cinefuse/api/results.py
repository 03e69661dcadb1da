"""Results as the client sees them (docs/api.md, getResponse): what getResponse, the
WebSocket push and webhooks carry. The job store's rows become wire JSON only here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cinefuse.errors import InferenceError
from cinefuse.jobs.models import JobView, ResultView

VIDEO_TASK_TYPE = "videoInference"

#: (media key, expires_at) -> signed URL.
UrlSigner = Callable[[str, int], str]


def result_item(task_uuid: str, result: ResultView, sign: UrlSigner) -> tuple[bool, dict[str, Any]]:
    """One result as a wire item; the flag tells whether it belongs in ``errors``."""
    if result.status == "error":
        error = {
            "taskType": VIDEO_TASK_TYPE,
            "taskUUID": task_uuid,
            "status": "error",
            "code": result.error_code or InferenceError.code,
            "message": result.error_message or "Inference failed.",
            "videoUUID": result.video_uuid,
        }
        if result.error_parameter is not None:
            error["parameter"] = result.error_parameter
        if result.media_key is not None and result.expires_at is not None:
            # uploadFailed: docs/api.md 4.3 keeps the file available at its videoURL.
            error["videoURL"] = sign(result.media_key, int(result.expires_at))
        return True, error
    if result.status == "pending":
        return False, {
            "taskType": VIDEO_TASK_TYPE,
            "taskUUID": task_uuid,
            "status": "processing",
            "progress": result.progress,
        }
    item: dict[str, Any] = {
        "taskType": VIDEO_TASK_TYPE,
        "taskUUID": task_uuid,
        "status": "success",
        "videoUUID": result.video_uuid,
        "seed": result.seed,
        "progress": 100,
    }
    if result.media_key is not None and result.expires_at is not None:
        item["videoURL"] = sign(result.media_key, int(result.expires_at))
    # else: ttl passed and the file was swept; the result itself stays visible.
    if result.cost is not None:
        item["cost"] = result.cost
    if result.nsfw is not None:
        item["NSFWContent"] = result.nsfw
    return False, item


def job_items(task_uuid: str, view: JobView, sign: UrlSigner) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """getResponse: (data items, error items), one item per result, in order."""
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for result in view.results:
        is_error, item = result_item(task_uuid, result, sign)
        (errors if is_error else data).append(item)
    return data, errors
