"""Model capabilities (``models.capabilities``, ``models.pixverse``, ``models.registry``):
PixVerse V4.5's sizes, aspects, durations and tiers, and the model registry.

Expected values come from docs/api.md (section 3.2: the parameter table and "Sizes"), not
from the code; the size table is transcribed below and checked against the page itself.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.pixverse import PIXVERSE_V45
from cinefuse.models.registry import MODELS, get_model, require_model

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
TIERS = ("360p", "540p", "720p", "1080p")
ASPECTS = ("16:9", "4:3", "1:1", "3:4", "9:16")
#: docs/api.md, "Sizes (width x height)".
DOC_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "360p": {"16:9": (640, 360), "4:3": (480, 360), "1:1": (360, 360), "3:4": (360, 480), "9:16": (360, 640)},
    "540p": {"16:9": (960, 540), "4:3": (720, 540), "1:1": (540, 540), "3:4": (540, 720), "9:16": (540, 960)},
    "720p": {"16:9": (1280, 720), "4:3": (960, 720), "1:1": (720, 720), "3:4": (720, 960), "9:16": (720, 1280)},
    "1080p": {
        "16:9": (1920, 1080),
        "4:3": (1440, 1080),
        "1:1": (1080, 1080),
        "3:4": (1080, 1440),
        "9:16": (1080, 1920),
    },
}
MIRROR = {"16:9": "9:16", "4:3": "3:4", "1:1": "1:1", "3:4": "4:3", "9:16": "16:9"}


def documented_size_table() -> dict[str, dict[str, tuple[int, int]]]:
    """The size table as docs/api.md prints it."""
    text = API_DOC.read_text()
    header = re.search(r"^\| resolution ((?:\| \d+:\d+ )+)\|$", text, re.MULTILINE)
    assert header is not None, "docs/api.md has no size table"
    aspects = [cell.strip() for cell in header.group(1).strip("| ").split("|")]
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for tier, cells in re.findall(r"^\| (\d+p) ((?:\| \d+x\d+ )+)\|$", text, re.MULTILINE):
        sizes = [cell.strip().split("x") for cell in cells.strip("| ").split("|")]
        table[tier] = {a: (int(w), int(h)) for a, (w, h) in zip(aspects, sizes, strict=True)}
    return table


def test_the_transcribed_table_is_the_documented_one() -> None:
    assert documented_size_table() == DOC_SIZES


def test_the_model_has_the_documented_sizes_tiers_and_aspects() -> None:
    assert PIXVERSE_V45.sizes == DOC_SIZES
    assert PIXVERSE_V45.resolutions == TIERS  # smallest to largest
    assert PIXVERSE_V45.aspects == ASPECTS  # the first is text-to-video's


def test_the_documented_defaults_and_choices() -> None:
    caps = PIXVERSE_V45
    assert caps.model_id == "pixverse:1@3"
    assert (caps.default_resolution, caps.default_duration, caps.default_fps) == ("720p", 5, 16)
    assert (caps.durations, caps.fps) == ((5, 8), (16, 24))
    assert (caps.number_results, caps.output_quality, caps.default_output_quality) == ((1, 4), (20, 99), 95)
    assert caps.prompt_length == (2, 2048)
    assert caps.output_formats == ("MP4", "WEBM", "MOV")
    assert caps.motion_modes == ("normal", "fast")
    assert caps.styles == ("anime", "3d_animation", "clay", "comic", "cyberpunk")
    assert len(caps.camera_movements) == len(set(caps.camera_movements)) == 21
    assert len(caps.effects) == len(set(caps.effects)) == 20
    assert {"horizontal_left", "hitchcock", "fix_bg"} <= set(caps.camera_movements)
    assert {"bikini up", "360 microwave", "kiss kiss"} <= set(caps.effects)
    assert (caps.max_frame_images, caps.max_reference_images) == (2, 3)
    # With cameraMovement, effect or style: 5 s only and at most 720p.
    assert (caps.provider_setting_durations, caps.provider_setting_max_resolution) == ((5,), "720p")
    # motionMode fast silently becomes normal at 8 s or 1080p.
    assert (caps.fast_mode_excluded_durations, caps.fast_mode_excluded_resolutions) == ((8,), ("1080p",))


def test_all_sizes_maps_each_of_the_twenty_sizes_to_its_tier() -> None:
    expected = {size: tier for tier, by_aspect in DOC_SIZES.items() for size in by_aspect.values()}
    assert len(expected) == 20  # no size appears in two tiers
    assert PIXVERSE_V45.all_sizes() == expected


@pytest.mark.parametrize("tier", TIERS)
def test_size_for_gives_16_9_by_default_and_each_named_aspect(tier: str) -> None:
    assert PIXVERSE_V45.size_for(tier) == DOC_SIZES[tier]["16:9"]
    for aspect in ASPECTS:
        assert PIXVERSE_V45.size_for(tier, aspect) == DOC_SIZES[tier][aspect]


@pytest.mark.parametrize("tier", TIERS)
def test_each_documented_size_is_its_own_nearest_aspect(tier: str) -> None:
    for aspect, (width, height) in DOC_SIZES[tier].items():
        assert PIXVERSE_V45.nearest_aspect(width, height) == aspect
        assert PIXVERSE_V45.size_for_image(tier, width, height) == (width, height)


@pytest.mark.parametrize(
    ("width", "height"), [(1000, 1000), (1550, 1000), (1530, 1000), (1200, 1000), (1000, 2300), (4000, 300), (3, 2)]
)
def test_nearest_aspect_is_symmetric_under_rotation(width: int, height: int) -> None:
    aspect = PIXVERSE_V45.nearest_aspect(width, height)
    assert PIXVERSE_V45.nearest_aspect(height, width) == MIRROR[aspect]


def test_nearest_aspect_measures_ratios_in_log_space() -> None:
    # Between 4:3 and 16:9 the boundary is their geometric mean (1.5396), not the arithmetic
    # one (1.5556): 1.55 is nearer 16:9 by ratio of ratios, nearer 4:3 by difference.
    boundary = math.sqrt((16 / 9) * (4 / 3))
    assert 1.53 < boundary < 1.55 < (16 / 9 + 4 / 3) / 2
    assert PIXVERSE_V45.nearest_aspect(1550, 1000) == "16:9"
    assert PIXVERSE_V45.nearest_aspect(1530, 1000) == "4:3"
    assert PIXVERSE_V45.nearest_aspect(1000, 1550) == "9:16"
    assert PIXVERSE_V45.nearest_aspect(1000, 1530) == "3:4"
    # Between 1:1 and 4:3 (boundary 1.1547)
    assert PIXVERSE_V45.nearest_aspect(1160, 1000) == "4:3"
    assert PIXVERSE_V45.nearest_aspect(1150, 1000) == "1:1"


@pytest.mark.parametrize(
    ("tier", "width", "height", "size"),
    [
        ("540p", 1000, 1000, (540, 540)),
        ("540p", 400, 900, (540, 960)),
        ("360p", 1024, 768, (480, 360)),
        ("720p", 3024, 4032, (720, 960)),  # a portrait phone photo
        ("1080p", 1920, 1080, (1920, 1080)),
        ("1080p", 300, 4000, (1080, 1920)),
    ],
)
def test_size_for_image_snaps_the_image_aspect_at_the_tier(
    tier: str, width: int, height: int, size: tuple[int, int]
) -> None:
    assert PIXVERSE_V45.size_for_image(tier, width, height) == size


def test_allowed_durations_are_narrower_only_at_1080p() -> None:
    assert {tier: PIXVERSE_V45.allowed_durations(tier) for tier in TIERS} == {
        "360p": (5, 8),
        "540p": (5, 8),
        "720p": (5, 8),
        "1080p": (5,),
    }


def test_resolution_at_most_follows_the_tier_order() -> None:
    for i, tier in enumerate(TIERS):
        for j, limit in enumerate(TIERS):
            assert PIXVERSE_V45.resolution_at_most(tier, limit) is (i <= j), (tier, limit)


def test_resolutions_follow_the_tier_order_whatever_the_table_order() -> None:
    reordered: ModelCapabilities = dataclasses.replace(
        PIXVERSE_V45, sizes={t: DOC_SIZES[t] for t in ("1080p", "360p", "720p")}
    )
    assert reordered.resolutions == ("360p", "720p", "1080p")


# -------------------------------------------------------------------------------- registry


def test_the_registry_answers_for_pixverse_and_one_model_per_engine() -> None:
    assert sorted(MODELS) == sorted(
        [
            "pixverse:1@3",
            "cinefuse:preview@1",
            "cinefuse:wan@1",
            "cinefuse:wan2.2-ti2v@1",
            "cinefuse:wan2.2-a14b@1",
            "cinefuse:ltx-distilled@1",
            "cinefuse:hunyuanvideo1.5@1",
            "cinefuse:ltx2@1",
            "cinefuse:ltx2-distilled@1",
        ]
    )
    assert all(caps.model_id == model_id for model_id, caps in MODELS.items())
    assert get_model("pixverse:1@3") is PIXVERSE_V45
    assert require_model("pixverse:1@3") is PIXVERSE_V45
    # pixverse runs on the best engine present; the others name theirs.
    assert {model_id: caps.engine for model_id, caps in MODELS.items()} == {
        "pixverse:1@3": None,
        "cinefuse:preview@1": "preview",
        "cinefuse:wan@1": "wan",
        "cinefuse:wan2.2-ti2v@1": "wan",
        "cinefuse:wan2.2-a14b@1": "wan-a14b",
        "cinefuse:ltx-distilled@1": "ltx",
        "cinefuse:hunyuanvideo1.5@1": "hunyuan",
        "cinefuse:ltx2@1": "ltx2",
        "cinefuse:ltx2-distilled@1": "ltx2-distilled",
    }


def test_ltx2_goes_to_1080p_with_sound_and_pixverse_is_silent() -> None:
    ltx2, distilled = MODELS["cinefuse:ltx2@1"], MODELS["cinefuse:ltx2-distilled@1"]
    assert "1080p" in ltx2.resolutions and ltx2.durations == tuple(range(1, 11))
    assert ltx2.audio and distilled.audio and not MODELS["pixverse:1@3"].audio
    assert ltx2.max_reference_images == 0 and distilled.price_scale < ltx2.price_scale


def test_the_engine_models_have_their_own_limits() -> None:
    wan, ti2v, ltx = MODELS["cinefuse:wan@1"], MODELS["cinefuse:wan2.2-ti2v@1"], MODELS["cinefuse:ltx-distilled@1"]
    assert wan.durations == (1, 2, 3, 4, 5) and ltx.durations == tuple(range(1, 11))
    assert "1080p" not in wan.resolutions and "1080p" not in ltx.resolutions
    assert (ti2v.max_frame_images, ti2v.max_reference_images) == (1, 0)
    assert ltx.max_reference_images == 0 and wan.max_reference_images == 3
    assert MODELS["cinefuse:preview@1"].sizes == PIXVERSE_V45.sizes


def test_hunyuanvideo_takes_one_frame_image_up_to_720p_and_5_s() -> None:
    hunyuan = MODELS["cinefuse:hunyuanvideo1.5@1"]
    assert hunyuan.durations == (1, 2, 3, 4, 5) and hunyuan.resolutions == ("360p", "540p", "720p")
    assert (hunyuan.max_frame_images, hunyuan.max_reference_images) == (1, 0)
    assert hunyuan.fps == (16, 24) and hunyuan.default_fps == 24


@pytest.mark.parametrize("model_id", ["pixverse:1@4", "PIXVERSE:1@3", "", "runware:100@1"])
def test_unknown_models_are_none_or_key_error(model_id: str) -> None:
    assert get_model(model_id) is None
    with pytest.raises(KeyError):
        require_model(model_id)
