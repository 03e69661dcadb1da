"""A tiny REST client for end-to-end tests: submit tasks, poll getResponse, download."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

POLL_INTERVAL_S = 0.2


def post(base_url: str, api_key: str, tasks: list[dict[str, Any]], timeout: float = 30.0) -> httpx.Response:
    return httpx.post(f"{base_url}/v1", json=tasks, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)


def video_task(**fields: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a lighthouse on a cliff at sunset, cinematic",
        "resolution": "360p",
        "duration": 5,
    }
    task.update(fields)
    return task


def submit(base_url: str, api_key: str, **fields: Any) -> str:
    task = video_task(**fields)
    reply = post(base_url, api_key, [task])
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    return str(task["taskUUID"])


def poll(base_url: str, api_key: str, task_uuid: str) -> dict[str, Any]:
    reply = post(base_url, api_key, [{"taskType": "getResponse", "taskUUID": task_uuid}])
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def wait_done(base_url: str, api_key: str, task_uuid: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll until no result is ``processing``; returns the last getResponse body."""
    deadline = time.monotonic() + timeout
    while True:
        body = poll(base_url, api_key, task_uuid)
        items = body.get("data", []) + body.get("errors", [])
        if items and all(item["status"] != "processing" for item in items):
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {task_uuid} still processing after {timeout}s: {body}")
        time.sleep(POLL_INTERVAL_S)


def cancel_at(base_url: str, api_key: str, task_uuid: str, progress: int, timeout: float = 300.0) -> dict[str, Any]:
    """Wait until the task is ``processing`` at ``progress`` percent or more (or ``timeout``
    passes), cancel it, and return the getResponse body once it has ended. Polls every 50 ms:
    a tiny model's steps are quick, and the cancel must land within the stretch a test aims at."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = poll(base_url, api_key, task_uuid)["data"]
        if items and items[0]["status"] == "processing" and items[0]["progress"] >= progress:
            break
        time.sleep(0.05)
    post(base_url, api_key, [{"taskType": "cancelTask", "taskUUID": task_uuid}])
    return wait_done(base_url, api_key, task_uuid, timeout=120)
