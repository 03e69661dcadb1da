"""LTX-2 end to end: a real ``cinefuse serve`` whose models dir holds tiny LTX-2 folders of the
real classes (full and distilled, with the latent upsampler and the stage-2 LoRA), driven
through the REST API.

``cinefuse:ltx2@1`` returns exactly the requested size, frame count and duration for text, a
first frame, first + last frames and a LoRA effect, each with an audio stream of the clip's
duration (within a frame) in MP4 (AAC), MOV (AAC) and WEBM (Opus); ``pixverse:1@3`` on the
same engine is silent (CINEFUSE_SOUND=auto), as is every clip under CINEFUSE_SOUND=off; the
distilled id runs its own folder; progress reaches 100; a cancel stops the denoising before
the decode; a folder missing a component's weights answers ``inferenceError`` naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cinefuse.media.probe import probe, probe_audio
from tests.integration.client import cancel_at, post, wait_done
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.test_neural_e2e import neural_task, png

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

MODEL = "cinefuse:ltx2@1"
SUFFIX = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm"}
AUDIO_CODEC = {"MP4": "aac", "MOV": "aac", "WEBM": "opus"}


@pytest.fixture(scope="module")
def ltx2_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.generation.neural.tiny_ltx2 import build_ltx2, tiny_components, write_stage2_lora

    models = tmp_path_factory.mktemp("ltx2-e2e") / "models"
    models.mkdir()
    build_ltx2(models)
    build_ltx2(models, distilled=True)
    lora = models / "loras" / "inflate"
    lora.mkdir(parents=True)
    write_stage2_lora(tiny_components()["transformer"], lora / "lora.safetensors", seed=5, audio=True)
    (lora / "lora.json").write_text(json.dumps({"trigger_words": ["watercolor"]}))
    canny = models / "loras" / "LTX-2-19b-IC-LoRA-Canny-Control"
    canny.mkdir(parents=True)
    write_stage2_lora(tiny_components()["transformer"], canny / "ic.safetensors", seed=9)
    return models


def env(models: Path, steps: int = 2, **extra: str) -> dict[str, str]:
    return {
        "CINEFUSE_MODELS_DIR": str(models),
        "CINEFUSE_ENGINE": "auto",
        "CINEFUSE_STEPS": json.dumps({"ltx2": steps, "ltx2_distilled": steps}),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def server(ltx2_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("ltx2-server"), env(ltx2_models))
    try:
        yield live
    finally:
        live.stop()


def render(server: LiveServer, **fields: Any) -> dict[str, Any]:
    task = neural_task(**{"model": MODEL, **fields})
    assert post(server.base_url, server.api_key, [task]).status_code == 200, task
    return wait_done(server.base_url, server.api_key, task["taskUUID"], timeout=240)


def download(item: dict[str, Any], tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"{item['videoUUID']}.{SUFFIX[fmt]}"
    path.write_bytes(httpx.get(item["videoURL"], timeout=30).content)
    return path


@pytest.mark.parametrize(
    ("fields", "size", "fmt"),
    [
        ({"width": 360, "height": 360}, (360, 360), "MP4"),
        ({"inputs": {"frameImages": [png(400, 300, 1)]}}, (480, 360), "MOV"),
        ({"inputs": {"frameImages": [png(300, 400, 1), png(300, 400, 2)]}}, (360, 480), "WEBM"),
        (
            {"width": 360, "height": 360, "providerSettings": {"pixverse": {"effect": "balloon belly"}}},
            (360, 360),
            "MP4",
        ),
    ],
    ids=["text-mp4", "first_frame-mov", "first_last-webm", "effect-mp4"],
)
def test_each_request_returns_the_exact_clip_with_its_sound(
    server: LiveServer, tmp_path: Path, fields: dict[str, Any], size: tuple[int, int], fmt: str
) -> None:
    body = render(server, outputFormat=fmt, **fields)
    assert "errors" not in body, body
    (item,) = body["data"]
    assert (item["status"], item["progress"]) == ("success", 100)
    path = download(item, tmp_path, fmt)
    info = probe(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (*size, 16, 16.0)
    assert info.duration == pytest.approx(1.0)
    audio = probe_audio(path)
    assert audio is not None and audio.codec == AUDIO_CODEC[fmt]
    assert (audio.sample_rate, audio.channels) == (48_000, 2)
    assert abs(audio.duration - info.duration) <= 1 / info.fps, (audio.duration, info.duration)
    assert audio.peak > 0.0  # the model's waveform, not padding


def test_a_camera_move_on_a_first_frame_is_steered_by_the_camera_render(server: LiveServer, tmp_path: Path) -> None:
    body = render(server, inputs={"frameImages": [png(400, 300, 1)]}, providerSettings={
        "pixverse": {"cameraMovement": "zoom_in"}})  # fmt: skip
    assert "errors" not in body, body
    (item,) = body["data"]
    info = probe(download(item, tmp_path, "MP4"))
    assert (info.width, info.height, info.frame_count) == (480, 360, 16)
    assert "camera guide LTX-2-19b-IC-LoRA-Canny-Control" in server.log_tail(400)


def test_pixverse_on_ltx2_is_silent_as_pixverse_is(server: LiveServer, tmp_path: Path) -> None:
    body = render(server, model="pixverse:1@3", duration=5, width=360, height=360)
    (item,) = body["data"]
    path = download(item, tmp_path, "MP4")
    assert probe(path).frame_count == 5 * 16 and probe_audio(path) is None


def test_the_distilled_id_runs_its_own_folder(server: LiveServer, tmp_path: Path) -> None:
    body = render(server, model="cinefuse:ltx2-distilled@1", width=360, height=360)
    (item,) = body["data"]
    path = download(item, tmp_path, "MP4")
    assert probe(path).frame_count == 16 and probe_audio(path) is not None
    assert "LTX-2-19b-distilled" in server.log_tail(400)


def test_sound_off_gives_silent_clips(ltx2_models: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    live = start_live_server(tmp_path_factory.mktemp("ltx2-off"), env(ltx2_models, CINEFUSE_SOUND="off"))
    try:
        (item,) = render(live, width=360, height=360)["data"]
        path = download(item, tmp_path_factory.mktemp("ltx2-off-media"), "MP4")
        assert probe(path).frame_count == 16 and probe_audio(path) is None
    finally:
        live.stop()


@pytest.mark.slow
def test_a_cancel_stops_before_the_decode(ltx2_models: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    live = start_live_server(tmp_path_factory.mktemp("ltx2-cancel"), env(ltx2_models, steps=200))
    try:
        task = neural_task(model=MODEL, width=360, height=360)
        assert post(live.base_url, live.api_key, [task]).status_code == 200
        body = cancel_at(live.base_url, live.api_key, task["taskUUID"], progress=5)
        assert [(i["status"], i["code"]) for i in body["errors"]] == [("error", "taskCancelled")]
        stop = re.search(r"stopped \(cancelled\) at step (\d+) of (\d+)", live.log_tail(400))
        assert stop is not None
        assert int(stop.group(1)) < 200  # in stage 1: no decode, not even stage 2
    finally:
        live.stop()


def test_a_missing_component_answers_inference_error_naming_it(
    ltx2_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import shutil

    models = tmp_path_factory.mktemp("ltx2-broken") / "models"
    shutil.copytree(ltx2_models / "LTX-2", models / "LTX-2")
    for weights in (models / "LTX-2" / "audio_vae").glob("*.safetensors"):
        weights.unlink()
    live = start_live_server(models.parent, env(models, CINEFUSE_ENGINE="preview"))
    try:
        body = render(live, width=360, height=360)
        (error,) = body["errors"]
        assert error["code"] == "inferenceError"
        assert "LTX-2/audio_vae" in error["message"], error
        # The server goes on serving.
        assert render(live, model="cinefuse:preview@1", duration=5)["data"][0]["status"] == "success"
    finally:
        live.stop()
