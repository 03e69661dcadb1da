"""cinefuse's own model ids: each engine addressable directly, with its own capabilities.

``pixverse:1@3`` runs on the best engine a server has; these name one engine, so a client
can ask for the fast engine or the CPU preview explicitly. They take the same request
fields and PixVerse settings (``providerSettings.pixverse``), with the limits of their
model: the Wan models were trained on clips of up to 5 s (121 frames at 24 fps), the
LTX-Video distilled one on up to 10 s; both go to 720p. LTX-2 goes to 1080p and 10 s, with
sound.
"""

from __future__ import annotations

from dataclasses import replace

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.pixverse import CAMERA_MOVEMENTS, EFFECTS, PIXVERSE_V45, STYLES, size_tiers

_UP_TO_720P = {tier: sizes for tier, sizes in size_tiers().items() if tier != "1080p"}
_WAN_DURATIONS: tuple[float, ...] = (1, 2, 3, 4, 5)
_LTX_DURATIONS: tuple[float, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)


def _neural(model_id: str, engine: str, durations: tuple[float, ...], **changes: object) -> ModelCapabilities:
    base = ModelCapabilities(
        model_id=model_id,
        sizes=_UP_TO_720P,
        default_resolution="720p",
        durations=durations,
        default_duration=5,
        fps=(16, 24),
        default_fps=24,
        camera_movements=CAMERA_MOVEMENTS,
        effects=EFFECTS,
        styles=STYLES,
        motion_modes=("normal", "fast"),
        provider_setting_durations=durations,
        provider_setting_max_resolution="720p",
        engine=engine,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


PREVIEW = replace(
    PIXVERSE_V45,
    model_id="cinefuse:preview@1",
    engine="preview",
    price_scale=0.25,
    description="CPU preview: a deterministic 2.5D render of the same settings, in seconds, no GPU.",
)
WAN = _neural(
    "cinefuse:wan@1",
    "wan",
    _WAN_DURATIONS,
    description="Wan: 2.2 TI2V-5B for text and first frame, 2.1 FLF2V for first + last, VACE for references.",
)
WAN22_TI2V = _neural(
    "cinefuse:wan2.2-ti2v@1",
    "wan",
    _WAN_DURATIONS,
    max_frame_images=1,
    max_reference_images=0,
    description="Wan 2.2 TI2V-5B: text or first frame to video.",
)
WAN22_A14B = _neural(
    "cinefuse:wan2.2-a14b@1",
    "wan-a14b",
    _WAN_DURATIONS,
    fps=(16, 24),
    default_fps=16,
    price_scale=1.5,
    description="Wan 2.2 A14B: two 14B experts for text and first frame (the quality reference); first + last"
    " on Wan 2.1 FLF2V, references on VACE.",
)
LTX_DISTILLED = _neural(
    "cinefuse:ltx-distilled@1",
    "ltx",
    _LTX_DURATIONS,
    max_reference_images=0,
    price_scale=0.5,
    description="LTX-Video distilled: the fast engine, few steps, keyframes first and last.",
)

#: LTX-2 makes 1080p through its two-stage recipe, and its clips carry sound (CINEFUSE_SOUND).
LTX2 = _neural(
    "cinefuse:ltx2@1",
    "ltx2",
    _LTX_DURATIONS,
    sizes=size_tiers(),
    provider_setting_max_resolution="1080p",
    max_reference_images=0,
    audio=True,
    description="LTX-2: video with its sound in one model, up to 1080p and 10 s, keyframes first and last.",
)
LTX2_DISTILLED = replace(
    LTX2,
    model_id="cinefuse:ltx2-distilled@1",
    engine="ltx2-distilled",
    price_scale=0.5,
    description="LTX-2 distilled: video with sound in 8 + 3 steps, the fast LTX-2.",
)

#: HunyuanVideo 1.5: 121 frames at 24 fps (5 s) up to 720p, one frame image (first, or last
#: alone), no reference images (the published checkpoints condition on one frame at most).
HUNYUAN15 = _neural(
    "cinefuse:hunyuanvideo1.5@1",
    "hunyuan",
    _WAN_DURATIONS,
    max_frame_images=1,
    max_reference_images=0,
    price_scale=1.5,
    description="HunyuanVideo 1.5: Tencent's 8.3B model for text or a first frame, up to 720p and 5 s.",
)

CINEFUSE_MODELS = (PREVIEW, WAN, WAN22_TI2V, WAN22_A14B, LTX_DISTILLED, LTX2, LTX2_DISTILLED, HUNYUAN15)
