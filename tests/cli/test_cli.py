"""The ``cinefuse`` command line: generate renders a real file; keys and doctor report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cinefuse.cli import app
from cinefuse.media.probe import probe

runner = CliRunner()


def test_generate_writes_the_clip_it_was_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "clip.webm"
    result = runner.invoke(
        app,
        [
            "generate",
            "a snowy forest at night",
            "--camera",
            "pan_left",
            "--style",
            "anime",
            "--resolution",
            "360p",
            "--format",
            "WEBM",
            "--fps",
            "24",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.codec, info.width, info.height, info.frame_count) == ("vp9", 640, 360, 120)


def test_generate_with_first_frame_follows_its_aspect(tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    Image.fromarray(np.full((600, 600, 3), 120, np.uint8)).save(image)
    out = tmp_path / "clip.mp4"
    result = runner.invoke(
        app, ["generate", "a grey wall", "--image", str(image), "--resolution", "540p", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (probe(out).width, probe(out).height) == (540, 540)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--duration", "6"], "unsupportedDuration"),
        (["--camera", "dolly"], "unsupportedCameraMovement"),
        (["--style", "anime", "--resolution", "1080p"], "unsupportedResolution"),
    ],
)
def test_generate_validates_like_the_api(tmp_path: Path, args: list[str], code: str) -> None:
    result = runner.invoke(app, ["generate", "a cat", *args, "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2 and code in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_keys_and_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CINEFUSE_API_KEYS", raising=False)
    first = runner.invoke(app, ["keys"])
    again = runner.invoke(app, ["keys"])
    assert first.exit_code == 0 and first.output == again.output and len(first.output.strip()) >= 40
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 0
    assert (
        "[ok] codecs" in doctor.output and "[ok] database" in doctor.output and "[ok] engine preview" in doctor.output
    )
