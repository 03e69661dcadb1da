"""PixVerse V4.5 (``pixverse:1@3``) as documented by the platform (docs/api.md section 3.2)."""

from __future__ import annotations

from cinefuse.models.capabilities import ModelCapabilities

MODEL_ID = "pixverse:1@3"

CAMERA_MOVEMENTS = (
    "horizontal_left",
    "horizontal_right",
    "vertical_up",
    "vertical_down",
    "zoom_in",
    "zoom_out",
    "auto_camera",
    "crane_up",
    "quickly_zoom_in",
    "quickly_zoom_out",
    "smooth_zoom_in",
    "camera_rotation",
    "robo_arm",
    "super_dolly_out",
    "whip_pan",
    "hitchcock",
    "left_follow",
    "right_follow",
    "pan_left",
    "pan_right",
    "fix_bg",
)

EFFECTS = (
    "bikini up",
    "the tigers touch",
    "jiggle jiggle",
    "hug your love",
    "kiss me ai",
    "subject 3 fever",
    "fin-tastic mermaid",
    "lets ymca",
    "skeleton dance",
    "kungfu club",
    "boom drop",
    "vroom vroom step",
    "creepy devil smile",
    "pubg winner hit",
    "360 microwave",
    "eye zoom challenge",
    "muscle surge",
    "punch face",
    "balloon belly",
    "kiss kiss",
)

STYLES = ("anime", "3d_animation", "clay", "comic", "cyberpunk")

_ASPECTS = ("16:9", "4:3", "1:1", "3:4", "9:16")


def _tier(long: int, mid: int, short: int) -> dict[str, tuple[int, int]]:
    return dict(zip(_ASPECTS, [(long, short), (mid, short), (short, short), (short, mid), (short, long)], strict=True))


def size_tiers() -> dict[str, dict[str, tuple[int, int]]]:
    """resolution -> aspect -> (width, height): the platform's size table (docs/api.md)."""
    return {
        "360p": _tier(640, 480, 360),
        "540p": _tier(960, 720, 540),
        "720p": _tier(1280, 960, 720),
        "1080p": _tier(1920, 1440, 1080),
    }


PIXVERSE_V45 = ModelCapabilities(
    model_id=MODEL_ID,
    sizes=size_tiers(),
    default_resolution="720p",
    durations=(5, 8),
    default_duration=5,
    fps=(16, 24),
    default_fps=16,
    camera_movements=CAMERA_MOVEMENTS,
    effects=EFFECTS,
    styles=STYLES,
    motion_modes=("normal", "fast"),
    durations_by_resolution={"1080p": (5,)},
    provider_setting_durations=(5,),
    provider_setting_max_resolution="720p",
    fast_mode_excluded_durations=(8,),
    fast_mode_excluded_resolutions=("1080p",),
    description="PixVerse V4.5 on the best engine this server has.",
)
