"""The one rule that fits a requested size and duration onto what a model renders.

The OpenAI-style front door (``/v1/videos``) takes any ``size`` ("WIDTHxHEIGHT") and any
``seconds``; a model has a table of sizes (tier x aspect) and a list of durations. The rule
(docs/openai.md, "Sizes and durations"):

1. **Aspect**: the model's aspect ratio nearest the requested one (in log space, so 2:1 and
   1:2 are equally far from 1:1).
2. **Tier**: among the model's tiers, the one whose size at that aspect has the pixel count
   nearest the requested one (in log space); a tie goes to the smaller tier.
3. **Duration**: among the durations the model allows at that tier (with a camera movement,
   style or effect: those they allow), the nearest to the requested seconds; a tie goes to
   the shorter one.

Anything that is not a size or a positive number of seconds is refused by the caller, naming
the parameter and these values (``allowed_sizes``, ``allowed_durations``).
"""

from __future__ import annotations

import math

from cinefuse.models.capabilities import ModelCapabilities, Size


def _pixels(size: Size) -> int:
    return size[0] * size[1]


def fit_size(caps: ModelCapabilities, width: int, height: int) -> tuple[Size, str]:
    """((width, height), tier) the model renders for a request of ``width`` x ``height``."""
    aspect = caps.nearest_aspect(width, height)
    wanted = math.log(width * height)
    tier = min(
        caps.resolutions,
        key=lambda t: (abs(math.log(_pixels(caps.sizes[t][aspect])) - wanted), caps.resolutions.index(t)),
    )
    return caps.sizes[tier][aspect], tier


def fit_duration(caps: ModelCapabilities, seconds: float, tier: str, provider_settings: bool = False) -> float:
    """The duration the model renders at ``tier`` for a request of ``seconds``; with a camera
    movement, style or effect (``provider_settings``) only the durations those allow."""
    durations = caps.allowed_durations(tier)
    if provider_settings and caps.provider_setting_durations:
        durations = tuple(d for d in durations if d in caps.provider_setting_durations) or durations
    return min(durations, key=lambda d: (abs(d - seconds), d))


def allowed_sizes(caps: ModelCapabilities) -> list[str]:
    """Every size the model renders exactly, as "WIDTHxHEIGHT"."""
    return [f"{w}x{h}" for tier in caps.resolutions for (w, h) in caps.sizes[tier].values()]


def format_seconds(seconds: float) -> str:
    """Seconds as the OpenAI shape writes them: "5", or "2.5" for a fraction."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
