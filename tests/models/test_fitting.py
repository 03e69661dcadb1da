"""The sizes-and-durations rule of the OpenAI-style front door (models/fitting.py)."""

from __future__ import annotations

import pytest

from cinefuse.models.cinefuse import LTX_DISTILLED, PREVIEW, WAN
from cinefuse.models.fitting import allowed_sizes, fit_duration, fit_size, format_seconds
from cinefuse.models.pixverse import PIXVERSE_V45


@pytest.mark.parametrize(
    ("requested", "fitted", "tier"),
    [
        ((720, 1280), (720, 1280), "720p"),  # the SDK's default: exact
        ((1280, 720), (1280, 720), "720p"),
        ((1024, 1792), (1080, 1920), "1080p"),  # 1.84 Mpx: nearer 1080p's 2.07 than 720p's 0.92
        ((1792, 1024), (1920, 1080), "1080p"),
        ((512, 512), (540, 540), "540p"),  # 0.26 Mpx: x1.11 to 540p's 0.29, x2.02 to 360p's 0.13
        ((640, 480), (720, 540), "540p"),
        ((300, 200), (480, 360), "360p"),  # 3:2 is nearest 4:3; below the smallest tier: the smallest
    ],
)
def test_sizes_fit_the_nearest_aspect_then_the_nearest_pixel_count(
    requested: tuple[int, int], fitted: tuple[int, int], tier: str
) -> None:
    assert fit_size(PIXVERSE_V45, *requested) == (fitted, tier)


def test_the_tier_is_nearest_in_log_pixels_and_a_tie_goes_down() -> None:
    # 1:1 tiers of pixverse: 360 (129600 px), 540 (291600 px). The geometric mean is 194400.
    assert fit_size(PIXVERSE_V45, 440, 440)[1] == "360p"  # 193600 px: just below the mean
    assert fit_size(PIXVERSE_V45, 442, 442)[1] == "540p"
    # A model without 1080p renders the largest it has.
    assert fit_size(WAN, 1792, 1024) == ((1280, 720), "720p")


def test_durations_fit_the_nearest_a_tie_going_to_the_shorter() -> None:
    assert [fit_duration(PIXVERSE_V45, s, "720p") for s in (1, 4, 6.5, 7, 12)] == [5, 5, 5, 8, 8]
    assert [fit_duration(LTX_DISTILLED, s, "720p") for s in (4, 8, 12, 0.2)] == [4, 8, 10, 1]
    assert fit_duration(WAN, 12, "720p") == 5


def test_camera_movement_style_or_effect_keep_to_their_durations() -> None:
    assert fit_duration(PIXVERSE_V45, 8, "720p") == 8
    assert fit_duration(PIXVERSE_V45, 8, "720p", provider_settings=True) == 5


def test_allowed_sizes_and_seconds_text() -> None:
    sizes = allowed_sizes(PREVIEW)
    assert "720x1280" in sizes and "1920x1080" in sizes and len(sizes) == len(set(sizes)) == 20
    assert [format_seconds(s) for s in (5, 5.0, 2.5)] == ["5", "5", "2.5"]
