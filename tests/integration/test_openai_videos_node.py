"""``/v1/videos`` through the unmodified ``openai`` Node SDK (``OPENAI_NODE_SDK``, installed
with npm into ``.venvs/openai-node``; skipped without node and npm, or when the install
fails): create, retrieve, list across pages, download of every variant, remix, extend, an
``input_reference`` first frame (PSNR >= 30 dB), delete, and a bad key
(``sdk_scripts/openai_videos.mjs``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinefuse.media.probe import probe, read_frames
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.sdk_venvs import SdkVenvUnavailable, ensure_npm_package
from tests.integration.test_openai_videos import natural_image, png_bytes, psnr

OPENAI_NODE_SDK = "openai@7.60.0"
SCRIPT = Path(__file__).resolve().parent / "sdk_scripts" / "openai_videos.mjs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_modules() -> Path:
    try:
        return ensure_npm_package(OPENAI_NODE_SDK, "openai-node", esm=True)
    except SdkVenvUnavailable as exc:
        pytest.skip(f"the Node flow needs {OPENAI_NODE_SDK}: {exc}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("openai-node"))
    try:
        yield live
    finally:
        live.stop()


def test_the_node_sdk_runs_the_whole_flow(server: LiveServer, node_modules: Path, tmp_path: Path) -> None:
    reference = natural_image()
    (tmp_path / "reference.png").write_bytes(png_bytes(reference))
    # ESM resolves packages from the script's folder up: run a copy next to node_modules.
    script = node_modules.parent / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    proc = subprocess.run(
        ["node", str(script), server.base_url, server.api_key, str(tmp_path / "reference.png"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])

    created = seen["created"]
    assert (created["status"], created["seconds"], created["size"], created["model"]) == (
        "completed",
        "5",
        "640x360",
        "sora-2",
    )
    assert seen["retrieved"] == created
    listed = seen["listed"]
    assert listed[:3] == [created["id"], *seen["more"]] and len(listed) == len(set(listed))
    info = probe(tmp_path / "clip.mp4")
    assert (info.codec, info.width, info.height, info.frame_count) == ("h264", 640, 360, 80)
    assert Image.open(tmp_path / "thumbnail.webp").format == "WEBP"
    assert Image.open(tmp_path / "spritesheet.jpg").size == (4 * 256, 3 * 144)

    assert seen["remix"]["status"] == "completed" and seen["remix"]["remixed_from_video_id"] == created["id"]
    assert seen["extension"]["status"] == "completed"
    assert probe(tmp_path / "extension.mp4").frame_count == 80 + 79  # the clip, then 5 s more less one frame
    assert seen["referenced"]["status"] == "completed"
    first = read_frames(tmp_path / "referenced.mp4")[0]
    assert psnr(first, np.asarray(reference)) >= 30
    assert seen["deleted"] == {"id": created["id"], "object": "video.deleted", "deleted": True}
    assert (seen["afterDelete"], seen["badKey"]) == (404, 401)
