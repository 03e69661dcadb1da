"""The neural engines end to end: a real ``cinefuse serve`` whose models dir holds tiny
weights folders of the real diffusers classes, driven through the REST API.

Each role (text, first frame, first + last, references) runs the tiny real pipelines on the
CPU and returns a file of exactly the requested size, frame count and duration (probed with
PyAV); an effect with its LoRA present runs with the adapter active and its trigger words;
progress reaches 100; a cancel stops the denoising; a folder missing its transformer weights
answers ``inferenceError`` naming the file, and the server goes on serving.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from cinefuse.media.probe import probe
from tests.integration.client import poll, post, video_task, wait_done
from tests.integration.conftest import LiveServer, start_live_server

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

ROLES = ("text", "first_frame", "first_last", "references", "fast")


def server_env(models: Path, steps: int = 2, **extra: str) -> dict[str, str]:
    return {
        "CINEFUSE_MODELS_DIR": str(models),
        "CINEFUSE_ENGINE": "auto",
        "CINEFUSE_STEPS": json.dumps(dict.fromkeys(ROLES, steps)),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def neural_server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("neural"), server_env(tiny_models_dir))
    try:
        yield server
    finally:
        server.stop()


def png(width: int, height: int, seed: int) -> str:
    """A seeded picture as bare base64 PNG."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = rng.uniform(40, 200, 3) + 50 * np.stack([xs / width, ys / height, (xs + ys) / (width + height)], -1)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def neural_task(**fields: Any) -> dict[str, Any]:
    """A videoInference task on a cinefuse model; an explicit size replaces the resolution."""
    task = video_task(**{"model": "cinefuse:wan@1", "duration": 1, "fps": 16, "seed": 5, **fields})
    if "width" in fields:
        del task["resolution"]
    return task


def run(server: LiveServer, timeout: float = 240, **fields: Any) -> dict[str, Any]:
    task = neural_task(**fields)
    reply = post(server.base_url, server.api_key, [task])
    assert reply.status_code == 200, reply.text
    return wait_done(server.base_url, server.api_key, task["taskUUID"], timeout=timeout)


def download(item: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / f"{item['videoUUID']}.mp4"
    path.write_bytes(httpx.get(item["videoURL"], timeout=30).content)
    return path


@pytest.mark.parametrize(
    ("name", "fields", "size"),
    [
        ("text", {"width": 360, "height": 360}, (360, 360)),
        ("first_frame", {"inputs": {"frameImages": [png(400, 300, 1)]}}, (480, 360)),
        ("first_last", {"inputs": {"frameImages": [png(300, 400, 1), png(300, 400, 2)]}}, (360, 480)),
        ("references", {"width": 360, "height": 360, "inputs": {"referenceImages": [png(320, 320, 3)]}}, (360, 360)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_each_role_returns_exactly_the_requested_clip(
    neural_server: LiveServer, tmp_path: Path, name: str, fields: dict[str, Any], size: tuple[int, int]
) -> None:
    body = run(neural_server, **fields)
    assert "errors" not in body, body
    (item,) = body["data"]
    assert (item["status"], item["progress"]) == ("success", 100)
    info = probe(download(item, tmp_path))
    assert (info.width, info.height) == size
    assert (info.frame_count, info.fps) == (16, 16.0)
    assert info.duration == pytest.approx(1.0)


def test_an_effect_with_its_lora_runs_with_the_adapter_and_trigger_words(neural_server: LiveServer) -> None:
    body = run(neural_server, width=360, height=360, providerSettings={"pixverse": {"effect": "balloon belly"}})
    assert body["data"][0]["status"] == "success", body
    log = neural_server.log_tail(400)
    line = next(line for line in log.splitlines() if "denoised with adapters" in line)
    assert "['inflate']" in line and "watercolor" in line and "belly inflates" in line


def test_the_fast_engine_runs_its_own_model(neural_server: LiveServer, tmp_path: Path) -> None:
    task = neural_task(model="cinefuse:ltx-distilled@1", fps=24, width=640, height=360)
    assert post(neural_server.base_url, neural_server.api_key, [task]).status_code == 200
    body = wait_done(neural_server.base_url, neural_server.api_key, task["taskUUID"], timeout=240)
    (item,) = body["data"]
    info = probe(download(item, tmp_path))
    assert (info.width, info.height, info.frame_count) == (640, 360, 24)


def test_progress_moves_and_reaches_100(neural_server: LiveServer) -> None:
    task = neural_task(duration=2, fps=24, width=360, height=360)
    assert post(neural_server.base_url, neural_server.api_key, [task]).status_code == 200
    seen: set[int] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        (item,) = poll(neural_server.base_url, neural_server.api_key, task["taskUUID"])["data"]
        seen.add(item["progress"])
        if item["status"] != "processing":
            break
        time.sleep(0.05)
    assert item["status"] == "success" and item["progress"] == 100
    assert any(0 < value < 100 for value in seen), seen


@pytest.fixture(scope="module")
def slow_server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Many denoising steps, so a job is still denoising when the test cancels it."""
    server = start_live_server(tmp_path_factory.mktemp("neural-slow"), server_env(tiny_models_dir, steps=400))
    try:
        yield server
    finally:
        server.stop()


def test_a_cancel_stops_the_denoising(slow_server: LiveServer) -> None:
    task = neural_task(width=360, height=360, numberResults=2)
    assert post(slow_server.base_url, slow_server.api_key, [task]).status_code == 200
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until it is denoising
        items = poll(slow_server.base_url, slow_server.api_key, task["taskUUID"])["data"]
        if items and items[0]["status"] == "processing" and items[0]["progress"] >= 2:
            break
        time.sleep(0.05)
    cancel = post(slow_server.base_url, slow_server.api_key, [{"taskType": "cancelTask", "taskUUID": task["taskUUID"]}])
    assert cancel.json()["data"][0]["status"] == "running"
    body = wait_done(slow_server.base_url, slow_server.api_key, task["taskUUID"], timeout=60)
    assert [(i["status"], i["code"]) for i in body["errors"]] == [("error", "taskCancelled")] * 2
    stop = re.search(r"stopped \(cancelled\) at step (\d+) of (\d+)", slow_server.log_tail(400))
    assert stop is not None
    step, total = int(stop.group(1)), int(stop.group(2))
    assert step < 400 < total  # stopped while denoising: the decode never started


@pytest.fixture(scope="module")
def broken_server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A models dir whose FLF2V folder lost its transformer weights."""
    base = tmp_path_factory.mktemp("neural-broken")
    models = base / "models"
    shutil.copytree(tiny_models_dir, models)
    for weights in (models / "Wan2.1-FLF2V-14B-720P-diffusers" / "transformer").glob("*.safetensors"):
        weights.unlink()
    server = start_live_server(base, server_env(models))
    try:
        yield server
    finally:
        server.stop()


def test_missing_weights_answer_inference_error_naming_the_file_and_the_server_goes_on(
    broken_server: LiveServer, tmp_path: Path
) -> None:
    body = run(broken_server, resolution="360p", inputs={"frameImages": [png(400, 300, 1), png(400, 300, 2)]})
    (error,) = body["errors"]
    assert error["code"] == "inferenceError"
    assert "Wan2.1-FLF2V-14B-720P-diffusers/transformer" in error["message"]
    body = run(broken_server, width=360, height=360)
    assert body["data"][0]["status"] == "success"


@pytest.mark.slow
def test_pixverse_runs_on_the_best_engine_present(neural_server: LiveServer, tmp_path: Path) -> None:
    task = video_task(duration=5, fps=16, width=360, height=360)
    del task["resolution"]
    assert post(neural_server.base_url, neural_server.api_key, [task]).status_code == 200
    body = wait_done(neural_server.base_url, neural_server.api_key, task["taskUUID"], timeout=300)
    (item,) = body["data"]
    info = probe(download(item, tmp_path))
    assert (info.width, info.height, info.frame_count) == (360, 360, 80)
    assert "loading WanPipeline" in neural_server.log_tail(1000)
