"""``/v1/videos`` on the neural engines (tiny real-class weights, on the CPU), through the
unmodified ``openai`` SDK: ``num_inference_steps`` and ``guidance_scale`` reach the denoiser,
a remix is steered by its source clip (VACE, video to video), an edit renders the source
clip anew under a new prompt, and without the VACE weights an edit is refused naming the
pull while a remix renders from the prompt alone. What each run did is read from the
server's log line of the Wan engine (``wan <role> on <folder> (<pipeline>): ...``)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cinefuse.media.probe import probe, read_frames
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.test_neural_e2e import server_env

openai = pytest.importorskip("openai", reason="the openai SDK is in the dev extra (pip install -e '.[dev]')")
pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIZE = "360x360"
MODEL = "cinefuse:wan@1"


def sdk(server: LiveServer) -> Any:
    return openai.OpenAI(base_url=server.rest_url, api_key=server.api_key, max_retries=0, timeout=120)


def run_lines(server: LiveServer) -> list[str]:
    """The Wan engine's log line of every run so far, in order."""
    return [line for line in server.log_tail(4000).splitlines() if re.search(r"\bwan \w+ on \S+ \(", line)]


def run_line(server: LiveServer, number: int) -> str:
    """The Wan engine's log line of the ``number``-th run (1 = the first)."""
    lines = run_lines(server)
    assert len(lines) >= number, server.log_tail(80)
    return lines[number - 1]


def frames_of(client: Any, video_id: str, tmp_path: Path) -> list[np.ndarray]:
    path = tmp_path / f"{video_id}.mp4"
    client.videos.download_content(video_id).write_to_file(path)
    info = probe(path)
    assert (info.width, info.height) == (360, 360)
    return read_frames(path)


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("videos-neural"), server_env(tiny_models_dir))
    try:
        yield live
    finally:
        live.stop()


def test_steps_and_guidance_reach_the_denoiser_and_a_remix_is_steered_by_its_source(
    server: LiveServer, tmp_path: Path
) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(
        prompt="a red fox runs in a forest",
        model=MODEL,
        size=SIZE,
        seconds="1",
        poll_interval_ms=200,
        extra_body={"num_inference_steps": 3, "guidance_scale": 2.5, "fps": 16},
    )
    assert source.status == "completed", source
    line = run_line(server, 1)
    assert "wan text on Wan2.2-TI2V-5B-Diffusers (WanPipeline): 3 steps, guidance 2.50" in line, line
    assert "control video" not in line
    source_frames = frames_of(client, source.id, tmp_path)

    remix = client.videos.poll(client.videos.remix(source.id, prompt="a fox in the snow").id, poll_interval_ms=200)
    assert remix.status == "completed", remix
    line = run_line(server, 2)
    # The same settings (steps and guidance too), on VACE with the source as its control video.
    assert "on Wan2.1-VACE-1.3B-diffusers (WanVACEPipeline): 3 steps, guidance 2.50" in line, line
    assert f"steered by a control video of {len(source_frames)} frames" in line, line
    assert len(frames_of(client, remix.id, tmp_path)) == len(source_frames)


def test_an_edit_renders_the_clip_anew_under_the_new_prompt(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(
        prompt="a lighthouse at dusk", model=MODEL, size=SIZE, seconds="1", poll_interval_ms=200
    )
    before = len(run_lines(server))
    source_frames = frames_of(client, source.id, tmp_path)
    edit = client.videos.edit(
        video=openai.omit, prompt="the lighthouse at night", extra_body={"video": {"id": source.id}}
    )
    assert edit.prompt == "the lighthouse at night" and edit.model == source.model
    edit = client.videos.poll(edit.id, poll_interval_ms=200)
    assert edit.status == "completed", edit
    line = run_line(server, before + 1)
    assert "(WanVACEPipeline)" in line and f"control video of {len(source_frames)} frames" in line, line
    edited = frames_of(client, edit.id, tmp_path)
    assert len(edited) == len(source_frames)
    assert float(np.abs(np.stack(edited).astype(np.float32) - np.stack(source_frames)).mean()) > 1  # not a copy

    response = httpx.post(
        f"{server.rest_url}/videos/edits",
        json={"prompt": "faster", "video": {"id": source.id}, "model": "cinefuse:ltx-distilled@1"},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_operation", "model") and "ltx" in error["message"]


def test_an_edit_of_an_extension_keeps_the_clip_it_continues(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(prompt="a harbour", model=MODEL, size=SIZE, seconds="1")
    extension = client.videos.extend(
        video=openai.omit, prompt="boats leave", seconds="1", extra_body={"video": {"id": source.id}}
    )
    extension = client.videos.poll(extension.id, poll_interval_ms=200)
    assert extension.status == "completed", extension
    edit = client.videos.edit(video=openai.omit, prompt="at night", extra_body={"video": {"id": extension.id}})
    edit = client.videos.poll(edit.id, poll_interval_ms=200)
    assert edit.status == "completed" and edit.seconds == extension.seconds, edit
    whole, edited = frames_of(client, extension.id, tmp_path), frames_of(client, edit.id, tmp_path)
    assert len(edited) == len(whole)
    head = len(frames_of(client, source.id, tmp_path))
    # The clip it continues is the same; the new part is rendered anew.
    assert np.abs(np.stack(edited[:head]).astype(np.float32) - np.stack(whole[:head])).mean() < 3
    assert np.abs(np.stack(edited[head:]).astype(np.float32) - np.stack(whole[head:])).mean() > 1


@pytest.fixture(scope="module")
def server_without_vace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.generation.neural.tiny_weights import build_wan22_ti2v

    models = tmp_path_factory.mktemp("ti2v-only")
    build_wan22_ti2v(models)
    live = start_live_server(tmp_path_factory.mktemp("videos-no-vace"), server_env(models))
    try:
        yield live
    finally:
        live.stop()


def test_without_vace_an_edit_names_the_pull_and_a_remix_uses_the_prompt_alone(
    server_without_vace: LiveServer,
) -> None:
    client = sdk(server_without_vace)
    source = client.videos.create_and_poll(prompt="a sailing boat", model=MODEL, size=SIZE, seconds="1")
    assert source.status == "completed", source
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.edit(video=openai.omit, prompt="in a storm", extra_body={"video": {"id": source.id}})
    assert "cinefuse models pull Wan2.1-VACE-1.3B-diffusers" in str(refused.value)
    remix = client.videos.poll(client.videos.remix(source.id, prompt="in a storm").id, poll_interval_ms=200)
    assert remix.status == "completed", remix
    line = run_line(server_without_vace, 2)
    assert "(WanPipeline)" in line and "control video" not in line, line
