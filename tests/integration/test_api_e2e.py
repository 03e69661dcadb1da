"""End to end against a real ``cinefuse serve``: submit, poll, download, probe the files."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from cinefuse.media.probe import probe, read_frames
from tests.integration.client import poll, post, submit, video_task, wait_done
from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.slow

FORMATS = {
    "MP4": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "video/mp4"),
    "WEBM": ("matroska,webm", "vp9", "video/webm"),
    "MOV": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "video/quicktime"),
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_downloads_and_probes_right(live_server: LiveServer, tmp_path: Path, fmt: str) -> None:
    fps = 24 if fmt == "WEBM" else 16
    task_uuid = submit(live_server.base_url, live_server.api_key, outputFormat=fmt, fps=fps, seed=7)
    body = wait_done(live_server.base_url, live_server.api_key, task_uuid)
    [item] = body["data"]
    assert item["status"] == "success" and item["taskType"] == "videoInference" and item["seed"] == 7
    reply = httpx.get(item["videoURL"], timeout=30)
    assert reply.status_code == 200
    container, codec, content_type = FORMATS[fmt]
    assert reply.headers["content-type"] == content_type
    path = tmp_path / f"clip.{fmt.lower()}"
    path.write_bytes(reply.content)
    info = probe(path)
    assert (info.container, info.codec, info.pix_fmt) == (container, codec, "yuv420p")
    assert (info.width, info.height) == (640, 360)
    assert info.fps == fps and info.frame_count == 5 * fps
    assert info.duration == pytest.approx(5.0)
    if fmt == "MP4":  # faststart: the moov atom precedes the media data
        assert reply.content.find(b"moov") < reply.content.find(b"mdat")


def test_range_requests_and_signature(live_server: LiveServer) -> None:
    task_uuid = submit(live_server.base_url, live_server.api_key)
    [item] = wait_done(live_server.base_url, live_server.api_key, task_uuid)["data"]
    url = item["videoURL"]
    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole)}"
    tampered = url.replace("sig=", "sig=A")
    assert httpx.get(tampered).status_code == 403


def test_number_results_seeds_cost_and_uuids(live_server: LiveServer) -> None:
    task_uuid = submit(
        live_server.base_url,
        live_server.api_key,
        numberResults=2,
        seed=2147483647,
        includeCost=True,
        safety={"checkContent": True},
    )
    items = wait_done(live_server.base_url, live_server.api_key, task_uuid)["data"]
    assert [i["status"] for i in items] == ["success", "success"]
    assert [i["seed"] for i in items] == [2147483647, 0]  # seed + i, wrapping
    assert len({i["videoUUID"] for i in items}) == 2
    assert all(i["cost"] == pytest.approx(0.02 * 5) for i in items)  # 360p price x 5 s
    assert all(i["NSFWContent"] is False for i in items)
    again = poll(live_server.base_url, live_server.api_key, task_uuid)["data"]
    assert [i["videoUUID"] for i in again] == [i["videoUUID"] for i in items]  # stable


def test_uploaded_image_as_first_frame(live_server: LiveServer, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    # A smooth picture (codecs keep it well) in portrait 3:4, so the output follows its aspect.
    y, x = np.mgrid[0:800, 0:600]
    pixels = np.stack([(x * 255 // 600), (y * 255 // 800), np.full_like(x, 90)], -1).astype(np.uint8)
    pixels = np.clip(pixels.astype(int) + rng.integers(-3, 4, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    upload = {
        "taskType": "imageUpload",
        "taskUUID": str(uuid.uuid4()),
        "image": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
    }
    reply = post(live_server.base_url, live_server.api_key, [upload])
    assert reply.status_code == 200, reply.text
    [uploaded] = reply.json()["data"]
    assert httpx.get(uploaded["imageURL"]).content == buffer.getvalue()
    task_uuid = submit(
        live_server.base_url,
        live_server.api_key,
        resolution="540p",
        inputs={"frameImages": [{"image": uploaded["imageUUID"], "frame": "first"}]},
    )
    [item] = wait_done(live_server.base_url, live_server.api_key, task_uuid)["data"]
    path = tmp_path / "clip.mp4"
    path.write_bytes(httpx.get(item["videoURL"]).content)
    info = probe(path)
    assert (info.width, info.height) == (540, 720)
    first = read_frames(path)[0]
    expected = np.asarray(Image.fromarray(pixels).resize((540, 720), Image.Resampling.LANCZOS))
    assert psnr(first, expected) >= 30.0


def test_keys_cannot_see_each_other(tmp_path: Path) -> None:
    from tests.integration.conftest import start_live_server

    server = start_live_server(tmp_path, {"CINEFUSE_API_KEYS": "key-one,key-two", "CINEFUSE_WORKERS": "0"})
    try:
        task = video_task()
        assert post(server.base_url, "key-one", [task]).status_code == 200
        lookup = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]
        other = post(server.base_url, "key-two", lookup)
        assert other.status_code == 400 and other.json()["errors"][0]["code"] == "taskNotFound"
        # The same taskUUID is free for another key, and a conflict for the same key.
        assert post(server.base_url, "key-two", [task]).status_code == 200
        conflict = post(server.base_url, "key-one", [task])
        assert conflict.json()["errors"][0]["code"] == "conflictTaskUUID"
        assert post(server.base_url, "nope", lookup).status_code == 401
    finally:
        server.stop()


def test_cancel_queued_task(tmp_path: Path) -> None:
    from tests.integration.conftest import start_live_server

    server = start_live_server(tmp_path, {"CINEFUSE_WORKERS": "0"})
    try:
        task_uuid = submit(server.base_url, server.api_key, numberResults=2)
        reply = post(server.base_url, server.api_key, [{"taskType": "cancelTask", "taskUUID": task_uuid}])
        assert reply.json()["data"] == [{"taskType": "cancelTask", "taskUUID": task_uuid, "status": "cancelled"}]
        body = poll(server.base_url, server.api_key, task_uuid)
        assert [e["code"] for e in body["errors"]] == ["taskCancelled", "taskCancelled"]
    finally:
        server.stop()


def test_cancel_running_task_stops_it_and_keeps_finished_results(live_server: LiveServer) -> None:
    import time

    base, key = live_server.base_url, live_server.api_key
    task_uuid = submit(base, key, resolution="720p", duration=8, numberResults=3)
    deadline = time.monotonic() + 120
    while True:  # wait until the first result is done and the second is being rendered
        items = poll(base, key, task_uuid)["data"]
        if items[0]["status"] == "success" and items[1].get("progress", 0) > 0:
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.1)
    reply = post(base, key, [{"taskType": "cancelTask", "taskUUID": task_uuid}])
    assert reply.json()["data"][0]["status"] == "running"
    body = wait_done(base, key, task_uuid, timeout=60)
    assert [i["status"] for i in body["data"]] == ["success"]
    assert [e["code"] for e in body["errors"]] == ["taskCancelled", "taskCancelled"]
