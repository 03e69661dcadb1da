"""Multi-image fusion with httpx: up to 3 reference images (subjects, objects, a scene) combined.

Usage: python fusion.py subject.png scene.png [object.png]
"""

import base64
import os
import sys
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


def data_uri(path: str) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


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
    "positivePrompt": "the subject walks through the scene",
    "inputs": {"referenceImages": [data_uri(path) for path in sys.argv[1:]]},
    "resolution": "360p",
    "duration": 5,
}
run(task)

for i, item in enumerate(wait(task["taskUUID"]), 1):
    if item["status"] != "success":
        raise SystemExit(f"result {i} failed: {item['code']}: {item['message']}")
    name = "clip.mp4" if i == 1 else f"clip-{i}.mp4"
    Path(name).write_bytes(httpx.get(item["videoURL"]).content)
    print(f"wrote {name} (seed {item['seed']})")
