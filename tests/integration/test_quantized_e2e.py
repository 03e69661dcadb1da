"""Quantized weights end to end: a real ``cinefuse serve`` on the tiny weights folders with
``CINEFUSE_QUANTIZATION=int8`` (and the text encoder in int8), and one with the published
GGUF layout (``quantization=gguf``), driven through the REST API. Each clip has exactly the
requested size, frame count and duration (probed with PyAV), and the server's log names the
quantized classes the layers really are."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cinefuse.media.probe import probe
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.test_neural_e2e import download, png, run, server_env

pytest.importorskip("torchao", reason="int8 quantization needs torchao (the 'gpu' extra)")


def quantized_line(server: LiveServer, folder: str) -> str:
    lines = [line for line in server.log_tail(400).splitlines() if f"quantized {folder}:" in line]
    assert lines, server.log_tail(60)
    return lines[-1]


@pytest.fixture(scope="module")
def int8_server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = server_env(
        tiny_models_dir, CINEFUSE_QUANTIZATION="int8", CINEFUSE_TEXT_ENCODER_QUANTIZATION="int8", CINEFUSE_DEVICE="cpu"
    )
    server = start_live_server(tmp_path_factory.mktemp("int8"), env)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"width": 360, "height": 360}, (360, 360)),
        ({"inputs": {"frameImages": [png(400, 300, 1)]}}, (480, 360)),
    ],
    ids=["text", "first_frame"],
)
def test_int8_clips_have_the_requested_shape(
    int8_server: LiveServer, tmp_path: Path, fields: dict[str, object], size: tuple[int, int]
) -> None:
    body = run(int8_server, **fields)
    assert "errors" not in body, body
    (item,) = body["data"]
    info = probe(download(item, tmp_path))
    assert (info.width, info.height, info.frame_count, info.fps) == (*size, 16, 16.0)
    line = quantized_line(int8_server, "Wan2.2-TI2V-5B-Diffusers")
    # Every Linear layer but the two of the time embedder Wan keeps in float32.
    transformer = re.search(r"transformer: (\d+)/(\d+) Linear layers Int8Tensor", line)
    assert transformer and int(transformer[2]) - int(transformer[1]) == 2, line
    assert re.search(r"text_encoder: (\d+)/\1 Linear layers Int8Tensor", line), line


@pytest.fixture(scope="module")
def gguf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pytest.importorskip("gguf", reason="GGUF transformers need the gguf package (the 'gpu' extra)")
    from tests.generation.neural.tiny_weights import build_wan22_ti2v_with_gguf

    models = tmp_path_factory.mktemp("gguf-models")
    build_wan22_ti2v_with_gguf(models)
    server = start_live_server(
        tmp_path_factory.mktemp("gguf"), server_env(models, CINEFUSE_QUANTIZATION="gguf", CINEFUSE_DEVICE="cpu")
    )
    try:
        yield server
    finally:
        server.stop()


def test_a_gguf_transformer_renders_the_requested_clip(gguf_server: LiveServer, tmp_path: Path) -> None:
    body = run(gguf_server, width=360, height=360)
    assert "errors" not in body, body
    info = probe(download(body["data"][0], tmp_path))
    assert (info.width, info.height, info.frame_count) == (360, 360, 16)
    line = quantized_line(gguf_server, "Wan2.2-TI2V-5B-Diffusers")
    assert re.search(r"transformer: \d+/\d+ Linear layers GGUF Q8_0", line), line
