"""Webhook events of the OpenAI-style front door: ``video.completed`` and ``video.failed``.

A create with ``webhook_url`` (``extra_body``) gets one event when its video ends, through
the same signed outbox as ``POST /v1`` webhooks (Standard Webhooks headers; ``webhook-id``
is the event id, stable across retries): ``{"id": "evt_...", "object": "event", "type":
"video.completed", "created_at": ..., "data": {"id": "video_..."}}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from cinefuse.jobs.models import Delivery, ResultView

VIDEO_ID_PREFIX = "video_"


def video_id_of(task_uuid: str) -> str:
    """The ``Video`` id of the task ``task_uuid``: ``video_`` and its 32 hex digits."""
    return VIDEO_ID_PREFIX + uuid.UUID(task_uuid).hex


def video_event(delivery: Delivery, result: ResultView, now: int) -> dict[str, Any]:
    """The event a finished video's webhook carries (the deliverer's ``render_event``)."""
    kind = "video.completed" if result.status == "success" else "video.failed"
    return {
        "id": delivery.delivery_id,
        "object": "event",
        "type": kind,
        "created_at": now,
        "data": {"id": video_id_of(delivery.task_uuid)},
    }
