"""The streaming encoder: containers, codecs, sizes, frame counts, quality mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefuse.media.probe import probe, read_frames
from cinefuse.media.video import crf_for_quality, encode_frames


def frames(count: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    out = []
    for i in range(count):
        tile = np.roll(base, i, axis=1).repeat(8, 0).repeat(8, 1)
        out.append(np.ascontiguousarray(tile))
    return out


@pytest.mark.parametrize(
    ("fmt", "container", "codec"),
    [
        ("MP4", "mov,mp4,m4a,3gp,3g2,mj2", "h264"),
        ("WEBM", "matroska,webm", "vp9"),
        ("MOV", "mov,mp4,m4a,3gp,3g2,mj2", "h264"),
    ],
)
def test_formats_probe_right(tmp_path: Path, fmt: str, container: str, codec: str) -> None:
    out = encode_frames(frames(24), tmp_path / f"a.{fmt.lower()}", fmt=fmt, width=320, height=240, fps=24)  # type: ignore[arg-type]
    info = probe(out.path)
    assert (info.container, info.codec, info.pix_fmt, info.width, info.height) == (
        container,
        codec,
        "yuv420p",
        320,
        240,
    )
    assert (info.fps, info.frame_count, info.duration) == (24.0, 24, 1.0)
    assert out.frames == 24


def natural_frames(count: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """Smooth gradients, a moving disc and mild grain: closer to camera footage than noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    grain = np.random.default_rng(1).normal(0, 6, (height, width, 1)).astype(np.float32)
    out = []
    for i in range(count):
        disc = ((x - 40 - 8 * i) ** 2 + (y - 120) ** 2 < 900)[..., None] * 120.0
        image = np.stack([x / width * 255, y / height * 255, np.full_like(x, 100)], -1) + disc + grain
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize("codec", ["libx264", "libvpx-vp9"])
def test_quality_maps_monotonically_onto_crf(codec: str) -> None:
    crfs = [crf_for_quality(codec, q) for q in range(20, 100)]
    assert crfs == sorted(crfs, reverse=True) and crfs[0] > crfs[-1]
    with pytest.raises(ValueError):
        crf_for_quality(codec, 19)


@pytest.mark.parametrize("fmt", ["MP4", "WEBM"])
def test_higher_quality_gives_larger_files(tmp_path: Path, fmt: str) -> None:
    sizes = []
    for quality in (20, 50, 80, 99):
        out = encode_frames(
            natural_frames(16),
            tmp_path / f"q{quality}.{fmt.lower()}",
            fmt=fmt,  # type: ignore[arg-type]
            width=320,
            height=240,
            fps=16,
            quality=quality,
        )
        sizes.append(out.size_bytes)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_decoded_frames_are_close_to_the_input(tmp_path: Path) -> None:
    source = frames(8)
    out = encode_frames(source, tmp_path / "a.mp4", fmt="MP4", width=320, height=240, fps=16, quality=99)
    decoded = read_frames(out.path)
    assert len(decoded) == 8
    mse = np.mean((decoded[3].astype(float) - source[3].astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30


def test_wrong_frame_shape_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        encode_frames([np.zeros((10, 10, 3), np.uint8)], tmp_path / "x.mp4", fmt="MP4", width=320, height=240, fps=16)
    assert not (tmp_path / "x.mp4").exists()
