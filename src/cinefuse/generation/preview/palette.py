"""Colours of a prompt-composed scene, chosen from the prompt's themes and jittered by seed.

Light first: the time of day (day, sunset, night, neon night) sets the sky, the sun/moon
and the haze; the biome (water, forest, snow, desert, city) sets ground and scenery
colours; silhouettes are backlit (dark) at sunset and night and lit (coloured) by day.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from .prompt import SceneTraits

RGB = tuple[float, float, float]

#: Seed jitter: hue shift (fraction of a turn) and value scale applied to every colour.
HUE_JITTER = 0.025
VALUE_JITTER = 0.06


@dataclass(frozen=True)
class Palette:
    sky_top: RGB
    sky_horizon: RGB
    sun: RGB
    haze: RGB
    far: RGB  # distant mountains / skyline
    mid: RGB  # hills, dunes, tree lines
    ground_far: RGB
    ground_near: RGB
    water: RGB
    subject: RGB
    subject_accent: RGB
    rim: RGB  # light wrapping round silhouettes
    accent: RGB  # neon signs, lit windows
    night: bool
    sun_height: float  # sun/moon centre above the horizon, fraction of frame height


@dataclass(frozen=True)
class _Light:
    sky_top: RGB
    sky_horizon: RGB
    sun: RGB
    haze: RGB
    rim: RGB
    night: bool
    sun_height: float
    dim: float  # how far low light darkens scenery towards black


_LIGHTS: dict[str, _Light] = {
    "day": _Light((62, 126, 214), (186, 214, 238), (255, 250, 232), (200, 220, 236), (255, 246, 220), False, 0.32, 0.0),
    "sunset": _Light(
        (54, 46, 118), (255, 170, 96), (255, 224, 150), (240, 150, 110), (255, 190, 120), False, 0.06, 0.25
    ),
    "night": _Light((6, 9, 28), (34, 46, 92), (236, 240, 255), (40, 52, 96), (150, 170, 230), True, 0.3, 0.55),
    "neon": _Light((16, 6, 40), (130, 34, 120), (255, 120, 220), (110, 40, 120), (60, 240, 255), True, 0.22, 0.55),
}

_BIOMES: dict[str, dict[str, RGB]] = {
    "meadow": dict(
        far=(96, 122, 160), mid=(70, 120, 70), ground_far=(120, 150, 90), ground_near=(56, 104, 44), water=(40, 90, 140)
    ),
    "forest": dict(
        far=(80, 110, 120), mid=(30, 74, 44), ground_far=(70, 110, 60), ground_near=(34, 70, 30), water=(30, 70, 90)
    ),
    "snow": dict(
        far=(170, 190, 220),
        mid=(210, 222, 236),
        ground_far=(226, 234, 244),
        ground_near=(244, 248, 252),
        water=(70, 110, 150),
    ),
    "desert": dict(
        far=(196, 140, 100),
        mid=(222, 168, 104),
        ground_far=(232, 196, 140),
        ground_near=(214, 164, 98),
        water=(60, 120, 150),
    ),
    "city": dict(
        far=(70, 80, 104), mid=(52, 58, 78), ground_far=(90, 92, 100), ground_near=(54, 56, 62), water=(36, 60, 90)
    ),
    "ocean": dict(
        far=(90, 110, 140),
        mid=(90, 120, 100),
        ground_far=(214, 198, 156),
        ground_near=(196, 174, 128),
        water=(24, 84, 136),
    ),
}

_SUBJECT_LIT: tuple[RGB, ...] = ((200, 60, 60), (60, 90, 190), (230, 180, 60), (70, 150, 110), (150, 80, 170))


def _light(traits: SceneTraits) -> str:
    if traits.has("neon"):
        return "neon"
    if traits.has("night"):
        return "night"
    return "sunset" if traits.has("sunset") else "day"


def _biome(traits: SceneTraits) -> str:
    for theme in ("snow", "desert", "city", "forest"):
        if traits.has(theme):
            return theme
    return "ocean" if traits.has("water") else "meadow"


def _mix(a: RGB, b: RGB, w: float) -> RGB:
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)


def _jitter(colour: RGB, hue: float, value: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in colour))
    r, g, b = colorsys.hsv_to_rgb((h + hue) % 1.0, s, min(v * value, 1.0))
    return (r * 255.0, g * 255.0, b * 255.0)


def choose_palette(traits: SceneTraits, rng: np.random.Generator) -> Palette:
    name = _light(traits)
    light = _LIGHTS[name]
    biome = _BIOMES[_biome(traits)]
    haze, dim = light.haze, light.dim
    lit = _SUBJECT_LIT[int(rng.integers(len(_SUBJECT_LIT)))]
    hue = float(rng.uniform(-HUE_JITTER, HUE_JITTER))
    value = float(rng.uniform(1.0 - VALUE_JITTER, 1.0 + VALUE_JITTER))

    def j(colour: RGB) -> RGB:
        return _jitter(colour, hue, value)

    fog = 1.0 if traits.has("fog") else 0.0
    far = _mix(biome["far"], haze, 0.35 + dim * 0.5)
    mid = _mix(biome["mid"], (10, 10, 20), dim)
    # Against a low sun or at night, subjects read as backlit silhouettes.
    backlit = name != "day"
    return Palette(
        sky_top=j(light.sky_top),
        sky_horizon=j(light.sky_horizon),
        sun=j(light.sun),
        haze=j(haze),
        # Distance and low light wash the scenery towards the haze colour; so does fog.
        far=j(_mix(far, haze, 0.5 * fog)),
        mid=j(_mix(mid, haze, 0.4 * fog)),
        ground_far=j(_mix(biome["ground_far"], haze, 0.2 + dim * 0.5)),
        ground_near=j(_mix(biome["ground_near"], (8, 8, 16), dim)),
        water=j(_mix(biome["water"], (4, 8, 24), dim * 0.8)),
        subject=j((22, 20, 30) if backlit else lit),
        subject_accent=j((40, 34, 46) if backlit else _mix(lit, (30, 30, 30), 0.45)),
        rim=j(light.rim),
        accent=j((255, 60, 200) if name == "neon" else (255, 210, 120)),
        night=light.night,
        sun_height=light.sun_height,
    )


#: Coats of animals named in the prompt (the first match wins); others get a brown coat.
ANIMAL_COATS: dict[str, RGB] = {
    "fox": (214.0, 104.0, 36.0),
    "tiger": (230.0, 128.0, 36.0),
    "lion": (206.0, 152.0, 80.0),
    "dog": (150.0, 104.0, 64.0),
    "puppy": (190.0, 150.0, 100.0),
    "cat": (128.0, 124.0, 122.0),
    "kitten": (220.0, 170.0, 110.0),
    "wolf": (128.0, 130.0, 138.0),
    "horse": (116.0, 76.0, 48.0),
    "deer": (164.0, 112.0, 70.0),
    "bear": (88.0, 60.0, 42.0),
}
#: Base and accent colours of lit (day) subjects that are not people or animals.
OBJECT_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "boat": ((232.0, 230.0, 222.0), (250.0, 250.0, 245.0)),
    "bird": ((236.0, 236.0, 232.0), (90.0, 90.0, 96.0)),
    "tower": ((160.0, 150.0, 138.0), (250.0, 220.0, 140.0)),
}


def subject_colours(kind: str, palette: Palette, words: frozenset[str]) -> tuple[RGB, RGB]:
    """Base and accent colour of a subject: backlit ones are silhouettes whatever they are."""
    if palette.night or palette.sun_height < 0.1:
        return palette.subject, palette.subject_accent
    if kind == "animal":
        coat = next((c for w, c in ANIMAL_COATS.items() if w in words), (140.0, 98.0, 62.0))
        return coat, _mix(coat, (250.0, 245.0, 235.0), 0.6)
    if kind in OBJECT_COLOURS:
        return OBJECT_COLOURS[kind]
    return palette.subject, palette.subject_accent
