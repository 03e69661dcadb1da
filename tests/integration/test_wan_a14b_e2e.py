"""Wan 2.2 A14B end to end: a real ``cinefuse serve`` whose models dir holds tiny two-expert
folders of the real classes (with the other tiny Wan folders), driven through the REST API.

``cinefuse:wan2.2-a14b@1`` returns exactly the requested size, frame count and duration for
text, a first frame, first + last frames (on FLF2V) and a LoRA effect; ``pixverse:1@3`` runs
on it once its weights are present; progress reaches 100; a cancel in the second expert
stops the denoising before the decode; a folder missing an expert's weights answers
``inferenceError`` naming the file, and the server goes on serving.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cinefuse.media.probe import probe
from tests.integration.client import cancel_at, post, wait_done
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.test_neural_e2e import download, neural_task, png, server_env

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

MODEL = "cinefuse:wan2.2-a14b@1"


def models_with_a14b(tiny_models_dir: Path, base: Path, *, break_expert: bool = False) -> Path:
    from tests.generation.neural.tiny_weights import build_wan22_a14b

    models = base / "models"
    models.mkdir(parents=True)
    for entry in tiny_models_dir.iterdir():
        (models / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    text = build_wan22_a14b(models)
    build_wan22_a14b(models, image=True)
    if break_expert:
        for weights in (text / "transformer_2").glob("*.safetensors"):
            weights.unlink()
    return models


def env(models: Path, steps: int = 4) -> dict[str, str]:
    return {**server_env(models), "CINEFUSE_STEPS": f'{{"a14b_text": {steps}, "a14b_image": {steps}, "first_last": 2}}'}


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("a14b")
    live = start_live_server(base, env(models_with_a14b(tiny_models_dir, base)))
    try:
        yield live
    finally:
        live.stop()


def render(server: LiveServer, **fields: Any) -> dict[str, Any]:
    task = neural_task(**{"model": MODEL, **fields})
    assert post(server.base_url, server.api_key, [task]).status_code == 200, task
    return wait_done(server.base_url, server.api_key, task["taskUUID"], timeout=240)


def last_run(server: LiveServer) -> str:
    lines = [line for line in server.log_tail(2000).splitlines() if re.search(r"\bwan \w+ on \S+ \(", line)]
    assert lines, server.log_tail(60)
    return lines[-1]


@pytest.mark.parametrize(
    ("name", "fields", "size", "folder"),
    [
        ("text", {"width": 360, "height": 360}, (360, 360), "Wan2.2-T2V-A14B-Diffusers (WanPipeline)"),
        (
            "first_frame",
            {"inputs": {"frameImages": [png(400, 300, 1)]}},
            (480, 360),
            "Wan2.2-I2V-A14B-Diffusers (WanImageToVideoPipeline)",
        ),
        (
            "first_last",
            {"inputs": {"frameImages": [png(300, 400, 1), png(300, 400, 2)]}},
            (360, 480),
            "Wan2.1-FLF2V-14B-720P-diffusers (WanImageToVideoPipeline)",
        ),
        (
            "effect",
            {"width": 360, "height": 360, "providerSettings": {"pixverse": {"effect": "balloon belly"}}},
            (360, 360),
            "Wan2.2-T2V-A14B-Diffusers (WanPipeline)",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "(" not in value else "",
)
def test_each_role_returns_exactly_the_requested_clip(
    server: LiveServer, tmp_path: Path, name: str, fields: dict[str, Any], size: tuple[int, int], folder: str
) -> None:
    body = render(server, **fields)
    assert "errors" not in body, body
    (item,) = body["data"]
    assert (item["status"], item["progress"]) == ("success", 100)
    info = probe(download(item, tmp_path))
    assert (info.width, info.height, info.frame_count, info.fps) == (*size, 16, 16.0)
    assert info.duration == pytest.approx(1.0)
    assert folder in last_run(server)
    if name == "effect":
        log = server.log_tail(400)
        line = next(line for line in reversed(log.splitlines()) if "denoised with adapters" in line)
        assert "['inflate']" in line


def test_pixverse_runs_on_the_a14b_engine_once_its_weights_are_here(server: LiveServer, tmp_path: Path) -> None:
    body = render(server, model="pixverse:1@3", duration=5, width=360, height=360)  # PixVerse: 5 or 8 s
    assert body["data"][0]["status"] == "success", body
    assert "wan text on Wan2.2-T2V-A14B-Diffusers" in last_run(server)


def test_a_cancel_in_the_second_expert_stops_before_the_decode(
    tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """400 steps at boundary 0.875 and shift 12: the high-noise expert runs the first 253
    (timesteps at or above 875), so a cancel past three quarters of the progress lands
    while the low-noise one denoises."""
    base = tmp_path_factory.mktemp("a14b-slow")
    live = start_live_server(base, env(models_with_a14b(tiny_models_dir, base), steps=400))
    try:
        task = neural_task(model=MODEL, width=360, height=360)
        assert post(live.base_url, live.api_key, [task]).status_code == 200
        body = cancel_at(live.base_url, live.api_key, task["taskUUID"], progress=75)
        assert [(i["status"], i["code"]) for i in body["errors"]] == [("error", "taskCancelled")]
        stop = re.search(r"stopped \(cancelled\) at step (\d+) of (\d+)", live.log_tail(400))
        assert stop is not None
        step, total = int(stop.group(1)), int(stop.group(2))
        assert 253 < step < 400 < total, (step, total)  # in the low-noise expert, before the decode
    finally:
        live.stop()


def test_a_missing_expert_answers_inference_error_naming_the_file(
    tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    base = tmp_path_factory.mktemp("a14b-broken")
    live = start_live_server(base, env(models_with_a14b(tiny_models_dir, base, break_expert=True)))
    try:
        body = render(live, width=360, height=360)
        (error,) = body["errors"]
        assert error["code"] == "inferenceError"
        assert "Wan2.2-T2V-A14B-Diffusers/transformer_2" in error["message"], error
        body = render(live, model="cinefuse:wan@1", width=360, height=360)
        assert body["data"][0]["status"] == "success", body
    finally:
        live.stop()


def test_a_context_parallel_group_renders_both_experts_sharded(
    server: LiveServer, tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Both experts shard (diffusers' context-parallel hooks on each): two ranks render the
    clip one process renders, up to float rounding (as tests/integration/test_context_parallel_e2e.py)."""
    import numpy as np

    from cinefuse.media.probe import read_frames

    base = tmp_path_factory.mktemp("a14b-cp")
    group_env = {**env(models_with_a14b(tiny_models_dir, base)), "CINEFUSE_CONTEXT_PARALLEL": "2"}
    group_env["CINEFUSE_DEVICE"] = "cpu"
    live = start_live_server(base, group_env)
    try:
        # 640x368 on the 16 px grid: 40 x 23 tokens a frame, an even count, so the group's
        # grid is the single process's (an odd one grows by a token row: another clip).
        fields = {"width": 640, "height": 360, "seed": 11}
        together = render(live, **fields)
        alone = render(server, **fields)
        assert "errors" not in together and "errors" not in alone, (together, alone)
        a = np.stack(read_frames(download(together["data"][0], tmp_path))).astype(np.int16)
        b = np.stack(read_frames(download(alone["data"][0], tmp_path))).astype(np.int16)
        assert a.shape == b.shape == (16, 360, 640, 3) and float(a.std()) > 1.0
        assert np.abs(a - b).mean() < 1.5, np.abs(a - b).mean()
        assert "context-parallel rank 1 of 2 denoised its share of a clip (wan-a14b)" in live.log_tail(2000)
    finally:
        live.stop()
