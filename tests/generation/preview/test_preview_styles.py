"""Styles as image filters: each moves the statistic its description names, without flicker.

Each comparison renders the same request with and without the style (styles do not
change the scene or the camera), on a prompt-composed scene and on the stand-in photo.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from preview_helpers import HEIGHT, WIDTH, Frame, base_request, render_frames

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview.styles import STYLES

#: Frame compared for the photo scene: past the style's fade-in after the first keyframe.
PHOTO_CLIP = 24
PHOTO_INDEX = 16


def pair(style: str, source: str, photo: Frame) -> tuple[Frame, Frame]:
    """(unstyled, styled) frames of the same shot."""
    if source == "prompt":
        request: GenerationRequest = base_request(num_frames=1)
        index = 0
    else:
        request, index = base_request(num_frames=PHOTO_CLIP, first_frame=photo), PHOTO_INDEX
    return render_frames(request)[index], render_frames(replace(request, style=style))[index]


def colours_for_90_percent(frame: Frame) -> int:
    """How many colours (5 bits a channel) cover 90% of the pixels: flat fills need few."""
    q = (frame >> 3).astype(np.int32)
    counts = np.sort(np.bincount(((q[..., 0] * 32 + q[..., 1]) * 32 + q[..., 2]).ravel()))[::-1]
    return int(np.searchsorted(np.cumsum(counts) / counts.sum(), 0.9) + 1)


def saturation(frame: Frame) -> float:
    return float(cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].mean())


def roughness(frame: Frame) -> float:
    """Mean absolute Laplacian of the luminance: texture and hard edges."""
    return float(np.abs(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean())


def ink(frame: Frame) -> float:
    """Fraction of near-black pixels (outlines)."""
    return float((cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) < 40).mean())


def luma(frame: Frame) -> float:
    return float(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).mean())


def teal_magenta(frame: Frame) -> float:
    """Fraction of saturated pixels with teal (160-200 deg) or magenta (280-335 deg) hue."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hue, sat = hsv[..., 0].astype(np.int32) * 2, hsv[..., 1] > 60
    return float((((hue >= 160) & (hue <= 200)) | ((hue >= 280) & (hue <= 335)))[sat].sum() / hue.size)


def periodicity(signal: np.ndarray, period: float) -> float:
    """Spectral peak at ``period`` samples over the median spectrum level."""
    spectrum = np.abs(np.fft.rfft(signal - signal.mean(), axis=-1))
    if spectrum.ndim > 1:
        spectrum = spectrum.mean(axis=0)
    k = round(signal.shape[-1] / period)
    return float(spectrum[k - 2 : k + 3].max() / np.median(spectrum[1:]))


def scanlines(frame: Frame) -> float:
    return periodicity(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64).mean(axis=1), 3.0)


def halftone(frame: Frame) -> float:
    return periodicity(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64), HEIGHT / 90.0)


SOURCES = ("prompt", "photo")


@pytest.mark.parametrize("source", SOURCES)
def test_anime_flat_cels_dark_outlines_saturated(source: str, photo: Frame) -> None:
    plain, styled = pair("anime", source, photo)
    assert colours_for_90_percent(styled) < 0.7 * colours_for_90_percent(plain)
    assert ink(styled) > ink(plain) + 0.005
    assert saturation(styled) > 1.3 * saturation(plain)


@pytest.mark.parametrize("source", SOURCES)
def test_3d_animation_smooth_shading_soft_light_bloom(source: str, photo: Frame) -> None:
    plain, styled = pair("3d_animation", source, photo)
    assert roughness(styled) < 0.75 * roughness(plain)
    assert luma(styled) > luma(plain) + 2.0


@pytest.mark.parametrize("source", SOURCES)
def test_clay_smoothed_and_desaturated(source: str, photo: Frame) -> None:
    plain, styled = pair("clay", source, photo)
    assert roughness(styled) < 0.7 * roughness(plain)
    assert saturation(styled) < 0.8 * saturation(plain)


def test_clay_holds_frames_in_pairs() -> None:
    frames = render_frames(base_request(num_frames=12, camera_movement="pan_left", style="clay"))
    for k in range(0, 12, 2):
        assert np.array_equal(frames[k], frames[k + 1])
    for k in range(1, 11, 2):
        assert not np.array_equal(frames[k], frames[k + 1])


@pytest.mark.parametrize("source", SOURCES)
def test_comic_halftone_ink_and_bold_colours(source: str, photo: Frame) -> None:
    plain, styled = pair("comic", source, photo)
    assert halftone(styled) > 5.0 * halftone(plain)
    assert ink(styled) > ink(plain) + 0.005
    assert saturation(styled) > 1.2 * saturation(plain)


@pytest.mark.parametrize("source", SOURCES)
def test_cyberpunk_teal_magenta_grade_and_scanlines(source: str, photo: Frame) -> None:
    plain, styled = pair("cyberpunk", source, photo)
    assert teal_magenta(styled) > teal_magenta(plain) + 0.3
    assert scanlines(styled) > 5.0 * scanlines(plain) and scanlines(styled) > 3.0


@pytest.mark.parametrize("style", STYLES)
def test_styles_do_not_flicker(style: str, photo: Frame) -> None:
    """A still background stays pixel-identical; moving content changes no more than the
    unstyled picture does (temporal noise would show up as extra change)."""
    still = render_frames(base_request(num_frames=10, camera_movement="fix_bg", first_frame=photo, style=style))
    corners = [(slice(0, HEIGHT // 5), slice(0, WIDTH // 6)), (slice(0, HEIGHT // 5), slice(-WIDTH // 6, None))]
    assert any(all(np.array_equal(still[4][c], f[c]) for f in still[4:]) for c in corners)

    def jitter(frames: list[Frame]) -> float:
        f = [x.astype(np.float32) for x in frames[6:]]
        return float(np.mean([np.abs(c - 2 * b + a).mean() for a, b, c in zip(f, f[1:], f[2:], strict=False)]))

    moving = base_request(num_frames=20, camera_movement="pan_left", first_frame=photo)
    assert jitter(render_frames(replace(moving, style=style))) < 1.6 * jitter(render_frames(moving))


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_at_every_size(style: str) -> None:
    for width, height in ((320, 180), (180, 320)):
        frames = render_frames(base_request(num_frames=3, width=width, height=height, style=style))
        assert [f.shape for f in frames] == [(height, width, 3)] * 3
