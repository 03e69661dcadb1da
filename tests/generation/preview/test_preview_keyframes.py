"""Keyframes: the first (and last) frame reproduce their images; a first + last pair is
joined by a flow-guided morph."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from preview_helpers import (
    HEIGHT,
    SHIFT,
    WIDTH,
    Frame,
    base_request,
    psnr,
    render_frames,
    resized,
    synthetic_photo,
)

from cinefuse.generation.preview.keyframes import dense_flow as morph_flow

MIN_PSNR = 30.0


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"camera_movement": "zoom_out"},
        {"camera_movement": "whip_pan"},
        {"camera_movement": "fix_bg", "style": "comic"},
        {"style": "clay"},
        {"style": "cyberpunk", "motion_mode": "fast"},
        {"effect": "boom drop"},
        {"effect": "kiss kiss"},
        {"effect": "eye zoom challenge"},
    ],
)
def test_first_frame_is_reproduced(photo: Frame, changes: dict[str, object]) -> None:
    frames = render_frames(base_request(first_frame=photo, num_frames=9, **changes))
    assert psnr(frames[0], photo) >= MIN_PSNR
    assert psnr(frames[-1], photo) < psnr(frames[0], photo)  # and then the clip moves on


def test_first_frame_of_another_size_is_resized_to_the_output() -> None:
    big = synthetic_photo(1280, 720, 3)
    frames = render_frames(base_request(first_frame=big, num_frames=3))
    assert frames[0].shape == (HEIGHT, WIDTH, 3)
    assert psnr(frames[0], resized(big, WIDTH, HEIGHT)) >= MIN_PSNR


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"style": "anime"},
        {"style": "clay"},
        {"effect": "hug your love"},
        {"camera_movement": "hitchcock"},
        {"motion_mode": "fast"},
    ],
)
def test_first_and_last_frames_are_both_reproduced(
    photo: Frame, other_photo: Frame, changes: dict[str, object]
) -> None:
    frames = render_frames(base_request(first_frame=photo, last_frame=other_photo, num_frames=12, **changes))
    assert psnr(frames[0], photo) >= MIN_PSNR
    assert psnr(frames[-1], other_photo) >= MIN_PSNR


def red_figure(frame: Frame) -> np.ndarray:
    """Pixels of the stand-in photo's saturated red figure."""
    r, g, b = (frame[..., c].astype(np.int16) for c in range(3))
    return np.asarray((r > 175) & (g < 85) & (b < 105), bool)


def test_morph_travels_between_the_keyframes(photo: Frame, other_photo: Frame) -> None:
    frames = render_frames(
        base_request(first_frame=photo, last_frame=other_photo, num_frames=17, camera_movement="vertical_up")
    )  # leaves x alone
    middle = frames[8]
    assert psnr(middle, photo) < 28.0 and psnr(middle, other_photo) < 28.0  # neither keyframe
    # Flow-guided: the figure is one whole figure halfway between its two positions, not
    # two half-transparent ones as a cross-fade would give.
    start, mid = red_figure(photo), red_figure(middle)
    assert mid.sum() > 0.8 * start.sum()
    x0 = float(np.nonzero(start)[1].mean())
    x_mid = float(np.nonzero(mid)[1].mean())
    assert abs(x_mid - (x0 + SHIFT / 2.0)) < 0.2 * SHIFT
    fade = ((photo.astype(np.uint16) + other_photo) // 2).astype(np.uint8)
    assert red_figure(fade).sum() < 0.6 * start.sum()
    # and the figure advances steadily
    xs = [float(np.nonzero(red_figure(f))[1].mean()) for f in frames]
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(xs))


def test_morph_flow_finds_the_shift(photo: Frame, other_photo: Frame) -> None:
    forward, backward = morph_flow(photo, other_photo)
    inner = (slice(HEIGHT // 4, 3 * HEIGHT // 4), slice(WIDTH // 4, 3 * WIDTH // 4))
    assert abs(float(np.median(forward[inner][..., 0])) - SHIFT) < 0.1 * SHIFT
    assert abs(float(np.median(backward[inner][..., 0])) + SHIFT) < 0.1 * SHIFT


@pytest.mark.parametrize("changes", [{}, {"camera_movement": "zoom_in"}, {"style": "anime"}])
def test_last_frame_alone_is_landed_on(photo: Frame, changes: dict[str, object]) -> None:
    frames = render_frames(base_request(last_frame=photo, num_frames=10, **changes))
    assert psnr(frames[-1], photo) >= MIN_PSNR
    assert psnr(frames[0], photo) < psnr(frames[-1], photo)


def test_clay_holds_pairs_but_still_lands_on_the_last_frame(photo: Frame) -> None:
    frames = render_frames(base_request(last_frame=photo, num_frames=10, style="clay"))
    assert all(np.array_equal(frames[k], frames[k + 1]) for k in range(0, 8, 2))
    assert psnr(frames[-1], photo) >= MIN_PSNR
