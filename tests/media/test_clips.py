"""A stored clip as a control video's frames (media/clips.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.media.test_stills import numbered_clip

from cinefuse.media.clips import control_frames


def levels(frames: tuple[np.ndarray, ...]) -> list[int]:
    return [round(float(frame.mean()) / 10) for frame in frames]


def test_frames_are_spread_evenly_with_the_first_and_the_last(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path, 21)
    assert levels(control_frames(clip, 5)) == [0, 5, 10, 15, 20]
    assert levels(control_frames(clip, 1)) == [0]


def test_a_short_clip_repeats_frames_to_the_count(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path, 4)
    assert levels(control_frames(clip, 7)) == [0, 0, 1, 2, 2, 2, 3]  # round half to even


def test_frames_are_kept_at_most_max_side(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path, 3, width=320, height=192)
    (frame,) = control_frames(clip, 1, max_side=160)
    assert frame.shape == (96, 160, 3) and frame.dtype == np.uint8
    (full,) = control_frames(clip, 1)
    assert full.shape == (192, 320, 3)


def test_a_file_that_is_not_a_video_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable video"):
        control_frames(path, 4)
