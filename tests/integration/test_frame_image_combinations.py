"""Whatever the parser accepts never fails at run time for a reason the parser could have seen.

Every combination of frame images (none, first, last, both; positions by name ``first``/``last``
and by index ``0``/``-1``), reference images (none, some) and size form (``width``+``height``,
``resolution`` alone) goes through the API of one real ``cinefuse serve`` on the preview engine,
all tasks at once. Each is either refused at submission by a documented rule (width/height with
frame images: ``incompatibleParameters`` naming ``width``) or ends ``success`` with the size
docs/api.md gives it (probed in the MP4): the explicit size; 16:9 at the tier without frame
images; the first frame image's aspect, else the last's when it is the only frame image (issue
20: a last-frame-only task used to fail at run time, "neither a size nor a first frame image").

Kept fast: 360p, the shortest duration these models have (5 s; 1 s exists only on models of the
neural engines), 16 fps.
"""

from __future__ import annotations

import base64
import io
import itertools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from cinefuse.media.probe import probe
from tests.integration.client import poll, post
from tests.integration.conftest import LiveServer, start_live_server

MODEL = "pixverse:1@3"
FPS, DURATION = 16, 5
#: The images and the size each makes at 360p (docs/api.md, "Sizes": the nearest of the five aspects).
FIRST_IMAGE, FIRST_SIZE = (400, 300), (480, 360)  # 4:3
LAST_IMAGE, LAST_SIZE = (300, 400), (360, 480)  # 3:4
REFERENCE_IMAGE = (320, 320)
EXPLICIT_SIZE = (360, 640)  # 9:16: differs from every size an image or the tier would give
TIER_SIZE = (640, 360)  # 16:9, text to video at 360p

#: Frame image combinations: (name, positions given, one per image: first image, then last).
FRAMES: dict[str, tuple[Any, ...]] = {
    "no-frames": (),
    "first-by-name": ("first",),
    "first-by-index": (0,),
    "last-by-name": ("last",),
    "last-by-index": (-1,),
    "both-by-name": ("first", "last"),
    "both-by-index": (0, -1),
}
REFERENCES = {"no-references": 0, "references": 2}
SIZE_FORMS = ("width-height", "resolution")
COMBINATIONS = list(itertools.product(FRAMES, REFERENCES, SIZE_FORMS))
RUN_TIMEOUT_S = 600.0


def png(size: tuple[int, int], seed: int) -> str:
    """A seeded picture of ``size`` (width, height) as bare base64 PNG."""
    width, height = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = rng.uniform(40, 200, 3) + 50 * np.stack([xs / width, ys / height, (xs + ys) / (width + height)], -1)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("combinations"), {"CINEFUSE_WORKERS": "2"})
    try:
        yield live
    finally:
        live.stop()


def upload(server: LiveServer, image: str) -> str:
    task = {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()), "image": image}
    reply = post(server.base_url, server.api_key, [task])
    assert reply.status_code == 200, reply.text
    return str(reply.json()["data"][0]["imageUUID"])


def task_for(frames: str, references: str, size_form: str, images: dict[str, str]) -> dict[str, Any]:
    """The task of one combination: frame images by UUID (first image, then last), inline references."""
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
        "positivePrompt": "a paper boat drifting down a rainy street, cinematic",
        "duration": DURATION,
        "fps": FPS,
        "seed": 7,
    }
    if size_form == "width-height":
        task["width"], task["height"] = EXPLICIT_SIZE
    else:
        task["resolution"] = "360p"
    positions = FRAMES[frames]
    inputs: dict[str, Any] = {}
    if positions:
        named = {"first": "first", 0: "first", "last": "last", -1: "last"}
        inputs["frameImages"] = [{"image": images[named[p]], "frame": p} for p in positions]
    if REFERENCES[references]:
        inputs["referenceImages"] = [images["reference"]] * REFERENCES[references]
    if inputs:
        task["inputs"] = inputs
    return task


def expected_size(frames: str) -> tuple[int, int]:
    positions = {("first" if p in ("first", 0) else "last") for p in FRAMES[frames]}
    if "first" in positions:
        return FIRST_SIZE
    if "last" in positions:
        return LAST_SIZE
    return TIER_SIZE


def wait_all(server: LiveServer, task_uuids: list[str]) -> dict[str, dict[str, Any]]:
    """Poll every task until none is processing; task UUID -> its one result item."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while len(done) < len(task_uuids):
        for task_uuid in task_uuids:
            if task_uuid in done:
                continue
            body = poll(server.base_url, server.api_key, task_uuid)
            items = body.get("data", []) + body.get("errors", [])
            if items and all(item["status"] != "processing" for item in items):
                (done[task_uuid],) = items
        assert time.monotonic() < deadline, f"still processing after {RUN_TIMEOUT_S}s: {set(task_uuids) - set(done)}"
        time.sleep(0.5)
    return done


def test_every_accepted_combination_succeeds_at_its_documented_size(server: LiveServer, tmp_path: Path) -> None:
    images = {
        "first": upload(server, png(FIRST_IMAGE, 1)),
        "last": upload(server, png(LAST_IMAGE, 2)),
        "reference": "data:image/png;base64," + png(REFERENCE_IMAGE, 3),
    }
    tasks = {combination: task_for(*combination, images) for combination in COMBINATIONS}
    reply = post(server.base_url, server.api_key, list(tasks.values()), timeout=120)
    envelope = reply.json()
    refused = {error["taskUUID"]: error for error in envelope.get("errors", [])}
    accepted = {item["taskUUID"] for item in envelope.get("data", [])}

    running: dict[str, tuple[str, str, str]] = {}
    for combination, task in tasks.items():
        frames, _, size_form = combination
        if size_form == "width-height" and FRAMES[frames]:
            # docs/api.md, "Cross-field rules": width/height never with frame images.
            error = refused.get(task["taskUUID"])
            assert error is not None, combination
            assert (error["code"], error["parameter"]) == ("incompatibleParameters", "width"), (combination, error)
        else:
            assert task["taskUUID"] in accepted, (combination, refused.get(task["taskUUID"]))
            running[task["taskUUID"]] = combination
    assert len(running) == 16 and len(refused) == 12

    results = wait_all(server, list(running))
    for task_uuid, combination in running.items():
        item = results[task_uuid]
        assert item["status"] == "success", (combination, item)
        path = tmp_path / f"{task_uuid}.mp4"
        path.write_bytes(httpx.get(item["videoURL"], timeout=30).content)
        info = probe(path)
        frames, _, size_form = combination
        size = EXPLICIT_SIZE if size_form == "width-height" else expected_size(frames)
        assert (info.width, info.height) == size, combination
        assert (info.frame_count, info.fps) == (FPS * DURATION, float(FPS)), combination
