"""Thumbnails and spritesheets made from an encoded clip (media/stills.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from cinefuse.media import stills
from cinefuse.media.video import encode_frames


def numbered_clip(tmp_path: Path, count: int, width: int = 160, height: int = 96) -> Path:
    """A clip whose frame i is a flat gray of level 10 * i: each frame tells its index."""
    frames = [np.full((height, width, 3), 10 * i, dtype=np.uint8) for i in range(count)]
    return encode_frames(frames, tmp_path / "clip.mp4", fmt="MP4", width=width, height=height, fps=24).path


def level(image: Image.Image) -> float:
    return float(np.asarray(image.convert("L"), dtype=np.float32).mean())


def test_evenly_spaced_takes_the_first_and_the_last() -> None:
    assert stills.evenly_spaced(25, 5) == [0, 6, 12, 18, 24]
    assert stills.evenly_spaced(3, 12) == [0, 1, 2]
    assert stills.evenly_spaced(0, 12) == []


def test_the_thumbnail_is_the_middle_frame_at_the_clip_size(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path, 21)
    image = Image.open(io.BytesIO(stills.thumbnail(clip)))
    assert (image.format, image.size) == ("WEBP", (160, 96))
    assert abs(level(image) - 100) < 4  # frame 10 of 0..20


def test_the_spritesheet_tiles_evenly_spaced_frames_in_order(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path, 23)
    sheet = Image.open(io.BytesIO(stills.spritesheet(clip)))
    columns, tile_w = stills.SPRITE_COLUMNS, stills.SPRITE_WIDTH
    tile_h = round(96 * tile_w / 160)
    assert sheet.format == "JPEG" and sheet.size == (columns * tile_w, 3 * tile_h)
    expected = stills.evenly_spaced(23, stills.SPRITE_FRAMES)
    for position, index in enumerate(expected):
        x, y = (position % columns) * tile_w, (position // columns) * tile_h
        tile = sheet.crop((x + 8, y + 8, x + tile_w - 8, y + tile_h - 8))
        assert abs(level(tile) - 10 * index) < 4, (position, index, level(tile))
