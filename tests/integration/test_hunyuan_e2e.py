"""HunyuanVideo 1.5 end to end: a real ``cinefuse serve`` whose models dir holds the tiny
HunyuanVideo 1.5 text- and image-to-video folders of the real classes (``tiny_hunyuan.py``) and
an effect LoRA for that transformer, driven through the REST API.

``cinefuse:hunyuanvideo1.5@1`` returns exactly the requested size, frame count and duration
for text, a first frame and a LoRA effect, probed from the MP4, with progress at 100;
``pixverse:1@3``, which the ``hunyuan`` engine serves when it is the best engine present,
answers a first + last frame request with ``inferenceError`` naming the parameter (the
published checkpoints condition on one frame); a cancel stops the denoising before the decode;
a folder missing a component's weights answers ``inferenceError`` naming it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cinefuse.media.probe import probe
from tests.integration.client import cancel_at, post, wait_done
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.test_neural_e2e import download, neural_task, png, server_env

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

pytestmark = pytest.mark.slow

MODEL = "cinefuse:hunyuanvideo1.5@1"


def env(models: Path, steps: int = 2, **extra: str) -> dict[str, str]:
    return server_env(models, **extra) | {"CINEFUSE_STEPS": json.dumps({"hunyuan_text": steps, "hunyuan_image": steps})}


@pytest.fixture(scope="module")
def hunyuan_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.generation.neural.tiny_hunyuan import build_hunyuan, build_hunyuan_lora

    models = tmp_path_factory.mktemp("hunyuan") / "models"
    models.mkdir()
    build_hunyuan(models)
    build_hunyuan(models, image=True)
    build_hunyuan_lora(models)
    return models


@pytest.fixture(scope="module")
def server(hunyuan_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("hunyuan-server"), env(hunyuan_models))
    try:
        yield live
    finally:
        live.stop()


def render(server: LiveServer, **fields: Any) -> dict[str, Any]:
    task = neural_task(**{"model": MODEL, **fields})
    reply = post(server.base_url, server.api_key, [task])
    assert reply.status_code == 200, reply.text
    return wait_done(server.base_url, server.api_key, task["taskUUID"], timeout=240)


def test_a_text_clip_comes_back_exactly_as_requested(server: LiveServer, tmp_path: Path) -> None:
    body = render(server, width=360, height=360)  # the API's smallest size, 1 s at 16 fps
    assert "errors" not in body, body
    (item,) = body["data"]
    assert (item["status"], item["progress"]) == ("success", 100)
    info = probe(download(item, tmp_path))
    assert (info.width, info.height, info.frame_count, info.fps) == (360, 360, 16, 16.0)
    assert info.duration == pytest.approx(1.0)
    runs = [line for line in server.log_tail(2000).splitlines() if re.search(r"\bhunyuan text on \S+ \(", line)]
    assert runs and "HunyuanVideo-1.5-Diffusers-720p_t2v (HunyuanVideo15Pipeline): 368x368x25" in runs[-1], runs
    assert ", 2 steps," in runs[-1], runs


@pytest.mark.parametrize(
    ("fields", "size", "folder"),
    [
        ({"inputs": {"frameImages": [png(400, 300, 1)]}}, (480, 360), "720p_i2v"),
        (
            {"width": 360, "height": 360, "providerSettings": {"pixverse": {"effect": "balloon belly"}}},
            (360, 360),
            "720p_t2v",
        ),
    ],
    ids=["first_frame", "effect"],
)
def test_a_first_frame_and_an_effect_come_back_exactly_as_requested(
    server: LiveServer, tmp_path: Path, fields: dict[str, Any], size: tuple[int, int], folder: str
) -> None:
    body = render(server, **fields)
    assert "errors" not in body, body
    (item,) = body["data"]
    assert (item["status"], item["progress"]) == ("success", 100)
    info = probe(download(item, tmp_path))
    assert ((info.width, info.height), info.frame_count, info.duration) == (size, 16, pytest.approx(1.0))
    assert f"HunyuanVideo-1.5-Diffusers-{folder}" in server.log_tail(400)


def test_pixverse_on_the_hunyuan_engine_refuses_first_and_last_frames_naming_them(server: LiveServer) -> None:
    frames = {"frameImages": [png(360, 360, 1), png(360, 360, 2)]}
    body = render(server, model="pixverse:1@3", duration=5, resolution="360p", inputs=frames)
    (error,) = body["errors"]
    assert error["code"] == "inferenceError", error
    assert "inputs.frameImages" in str(error) and "cinefuse:wan@1" in error["message"], error


@pytest.mark.slow
def test_a_cancel_stops_before_the_decode(hunyuan_models: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    live = start_live_server(tmp_path_factory.mktemp("hunyuan-cancel"), env(hunyuan_models, steps=200))
    try:
        task = neural_task(model=MODEL, width=360, height=360)
        assert post(live.base_url, live.api_key, [task]).status_code == 200
        body = cancel_at(live.base_url, live.api_key, task["taskUUID"], progress=5)
        assert [(i["status"], i["code"]) for i in body["errors"]] == [("error", "taskCancelled")]
        stop = re.search(r"stopped \(cancelled\) at step (\d+) of (\d+)", live.log_tail(400))
        assert stop is not None and int(stop.group(1)) < 200  # the denoising: the decode never ran
    finally:
        live.stop()


def test_a_missing_component_answers_inference_error_naming_it(
    hunyuan_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.generation.neural.tiny_hunyuan import T2V_FOLDER

    models = tmp_path_factory.mktemp("hunyuan-broken") / "models"
    shutil.copytree(hunyuan_models / T2V_FOLDER, models / T2V_FOLDER)
    for weights in (models / T2V_FOLDER / "text_encoder_2").glob("*.safetensors"):
        weights.unlink()
    live = start_live_server(models.parent, env(models, CINEFUSE_ENGINE="preview"))
    try:
        (error,) = render(live, width=360, height=360)["errors"]
        assert error["code"] == "inferenceError"
        assert f"{T2V_FOLDER}/text_encoder_2" in error["message"], error
        # The server goes on serving.
        assert render(live, model="cinefuse:preview@1", duration=5)["data"][0]["status"] == "success"
    finally:
        live.stop()
