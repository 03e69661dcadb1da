"""Camera movement and style with httpx (providerSettings.pixverse).

With either, the duration must be 5 s and the size at most 720p.
"""

import os
import time
import uuid
from pathlib import Path

import httpx

URL = os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000")
client = httpx.Client(headers={"Authorization": f"Bearer {os.environ['CINEFUSE_API_KEY']}"}, timeout=120)


def run(task: dict) -> list[dict]:
    """POST one task; its data items (a refused task raises with the server's errors)."""
    reply = client.post(f"{URL}/v1", json=[task]).json()
    if "errors" in reply:
        raise SystemExit(f"refused: {reply['errors']}")
    return reply["data"]


def wait(task_uuid: str) -> list[dict]:
    """Poll getResponse until no result is processing; the items (successes and errors)."""
    while True:
        reply = client.post(f"{URL}/v1", json=[{"taskType": "getResponse", "taskUUID": task_uuid}]).json()
        items = reply.get("data", []) + reply.get("errors", [])
        if items and all(item["status"] != "processing" for item in items):
            return items
        time.sleep(1)


task = {
    "taskType": "videoInference",
    "taskUUID": str(uuid.uuid4()),
    "model": "pixverse:1@3",
    "positivePrompt": "a neon city at night, rain on the streets",
    "providerSettings": {"pixverse": {"cameraMovement": "zoom_in", "style": "cyberpunk"}},
    "resolution": "360p",
    "duration": 5,
    "seed": 42,  # with "numberResults": 2, the second result uses seed 43
}
run(task)

for i, item in enumerate(wait(task["taskUUID"]), 1):
    if item["status"] != "success":
        raise SystemExit(f"result {i} failed: {item['code']}: {item['message']}")
    name = "clip.mp4" if i == 1 else f"clip-{i}.mp4"
    Path(name).write_bytes(httpx.get(item["videoURL"]).content)
    print(f"wrote {name} (seed {item['seed']})")
