"""The five ``style`` values as image filters applied to every rendered frame.

Temporal stability: every filter is a function of the current frame alone (no state, no
noise, no time), built from smoothing, fixed lookup tables and screen-fixed patterns
(halftone grid, scanlines). Content that moves smoothly therefore keeps its styling
(bands and outlines travel with it) and a still picture stays exactly still: no flicker.

Smoothing, quantisation and edge finding run at half resolution (the filters remove that
detail anyway) and are enlarged; only the cheap per-pixel steps run at full size.

==============  ===========================================================================
style           filter
==============  ===========================================================================
anime           median smoothing, hue/value quantisation (flat cel bands), saturation up,
                dark outlines from luminance edges
3d_animation    edge-preserving smoothing, soft S-curve light, bloom (blurred highlights
                added back), slight saturation
clay            strong smoothing, saturation down, warm cast, plasticine sheen from the
                smoothed relief; stop-motion timing (frames held in pairs, see ``hold``)
comic           saturated posterised colours, thick ink edges, halftone dots fixed to the
                screen whose size follows darkness
cyberpunk       split-toning curves (teal shadows, magenta highlights), neon glow round
                highlights, faint scanlines
==============  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from .layers import Image, u8

STYLES: tuple[str, ...] = ("anime", "3d_animation", "clay", "comic", "cyberpunk")
#: Frames each picture is held for, per style (clay: stop-motion "on twos").
HOLDS: dict[str, int] = {"clay": 2}

#: Smoothing kernels and line widths scale with the frame: sizes are fractions of the
#: half-resolution height. Ink lines: difference of Gaussians with this sigma ratio.
SMOOTH_FRACTION = 1.0 / 90.0
LINE_FRACTION = 1.0 / 260.0
DOG_RATIO = 1.8
#: anime: value bands, hue bins, saturation gain, ink threshold (grey levels).
ANIME_VALUE_LEVELS = 4
ANIME_SATURATION_LEVELS = 4
ANIME_HUE_BINS = 24
ANIME_SATURATION = 1.45
ANIME_INK = 3.0
#: comic: posterisation levels, saturation gain, ink threshold and line width factor,
#: halftone dot pitch (fraction of the frame height) and darkening under a dot.
COMIC_LEVELS = 5
COMIC_SATURATION = 1.6
COMIC_INK = 4.0
COMIC_LINE_SCALE = 1.8
COMIC_DOT_PITCH = 1.0 / 90.0
COMIC_DOT_SHADE = 0.55
#: clay: saturation factor and warm cast gains.
CLAY_SATURATION = 0.7
CLAY_CAST = (1.06, 1.0, 0.9)
#: cyberpunk: target hues (degrees), how far hues are pulled to the nearer one, saturation
#: gain; scanline period (rows) and darkening, glow threshold (luma) and strength.
TEAL_HUE = 185.0
MAGENTA_HUE = 315.0
HUE_PULL = 0.75
CYBER_SATURATION = 1.3
SCANLINE_PERIOD = 3
SCANLINE_SHADE = 0.82
GLOW_THRESHOLD = 150.0
GLOW_GAIN = 0.7
#: 3d_animation: bloom threshold (luma) and strength.
BLOOM_THRESHOLD = 200.0
BLOOM_GAIN = 0.4

Lut = npt.NDArray[np.uint8]


def _pull_hue(h: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """HSV_FULL hue (0..255) -> hue moved HUE_PULL of the way to teal or magenta."""
    degrees = h * (360.0 / 256.0)
    out = degrees.copy()
    for target in (TEAL_HUE, MAGENTA_HUE):
        other = MAGENTA_HUE if target == TEAL_HUE else TEAL_HUE
        to_target = (target - degrees + 180.0) % 360.0 - 180.0
        to_other = (other - degrees + 180.0) % 360.0 - 180.0
        nearer = np.abs(to_target) <= np.abs(to_other)
        out = np.where(nearer, degrees + HUE_PULL * to_target, out)
    return np.asarray((out % 360.0) * (256.0 / 360.0), np.float32)


def hold_frames(style: str | None) -> int:
    return HOLDS.get(style, 1) if style is not None else 1


def _lut(f: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.floating[Any]]]) -> Lut:
    x = np.arange(256, dtype=np.float32)
    return u8(np.clip(f(x) + 0.5, 0, 255))


def _lut3(r: Lut, g: Lut, b: Lut) -> Lut:
    return np.dstack([r, g, b]).reshape(256, 1, 3)


def _saturate(rgb: Image, gain: float) -> Image:
    """Scale saturation about the pixel's luma (cheap, no HSV round trip)."""
    gray = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return u8(cv2.addWeighted(rgb, gain, gray, 1.0 - gain, 0.0))


def _ink(rgb: Image, sigma: float, threshold: float) -> Image:
    """Soft 0..255 ink lines: difference of Gaussians on the dark side of luminance edges
    (a thin, stable line drawing; no hysteresis, so no flicker)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine = cv2.GaussianBlur(gray, (0, 0), sigma)
    wide = cv2.GaussianBlur(gray, (0, 0), sigma * DOG_RATIO)
    return u8(np.clip((wide - fine - threshold) * (255.0 / threshold), 0, 255))


def _odd(x: float) -> int:
    return max(int(x) // 2 * 2 + 1, 3)


class StyleFilter:
    """One style for frames of a fixed size; lookup tables and patterns are built once."""

    def __init__(self, name: str, width: int, height: int) -> None:
        self.name = name
        self.size = (width, height)
        self.half = (max(width // 2, 2), max(height // 2, 2))
        self._kernel = _odd(self.half[1] * SMOOTH_FRACTION)
        self._line = max(self.half[1] * LINE_FRACTION, 1.0)
        self._apply: Callable[[Image], Image] = {
            "anime": self._anime,
            "3d_animation": self._animation3d,
            "clay": self._clay,
            "comic": self._comic,
            "cyberpunk": self._cyberpunk,
        }[name]
        # Only the chosen style's tables are built (the halftone grid is a full frame).
        if name == "anime":
            hue_step = 256.0 / ANIME_HUE_BINS
            sat_step = 256.0 / ANIME_SATURATION_LEVELS
            self._anime_lut = _lut3(
                _lut(lambda x: (np.floor(x / hue_step) + 0.5) * hue_step),
                _lut(lambda x: np.minimum((np.floor(x / sat_step) + 0.75) * sat_step * ANIME_SATURATION, 255.0)),
                _lut(lambda x: (np.floor(x / 256.0 * ANIME_VALUE_LEVELS) + 0.75) * (255.0 / ANIME_VALUE_LEVELS)),
            )
        elif name == "3d_animation":
            soft = _lut(lambda x: 255.0 * (0.5 - 0.5 * np.cos(np.pi * x / 255.0)) * 0.3 + x * 0.7 + 4.0)
            self._soft = _lut3(soft, soft, soft)
            self._bloom_key = _lut(lambda x: np.clip((x - BLOOM_THRESHOLD) / (255.0 - BLOOM_THRESHOLD), 0, 1) * 255.0)
        elif name == "comic":
            step = 255.0 / (COMIC_LEVELS - 1)
            poster = _lut(lambda x: np.round(x / step) * step)
            self._comic_lut = _lut3(poster, poster, poster)
            # Halftone: distance to the nearest dot centre (0 at a centre, 255 at a corner),
            # on a square grid fixed to the screen.
            pitch = max(height * COMIC_DOT_PITCH, 3.0)
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            u, v = xs / pitch, ys / pitch
            d = np.hypot(u - np.round(u), v - np.round(v)) / np.float32(np.sqrt(0.5))
            self._dots = np.clip(d * 255.0, 0, 255).astype(np.uint8)
            # Dot radius grows with darkness, so the covered fraction follows it.
            self._dot_threshold = _lut(lambda x: np.sqrt(np.clip((235.0 - x) / 235.0, 0.0, 1.0)) * 200.0)
        elif name == "cyberpunk":
            # Hue pulled towards teal or magenta, whichever is nearer on the colour wheel;
            # saturation raised; values given a contrasty curve (HSV_FULL: hue in 0..255).
            self._cyber = _lut3(
                _lut(_pull_hue),
                _lut(lambda x: np.minimum(x * CYBER_SATURATION + 40.0, 255.0)),
                _lut(lambda x: 255.0 * (0.5 - 0.5 * np.cos(np.pi * x / 255.0)) * 0.5 + x * 0.45),
            )
            self._glow_key = _lut(lambda x: np.clip((x - GLOW_THRESHOLD) / (255.0 - GLOW_THRESHOLD), 0, 1) * 255.0)
            rows = np.where(np.arange(height) % SCANLINE_PERIOD == 0, SCANLINE_SHADE, 1.0)
            row8 = (rows * 255.0).astype(np.uint8)
            self._scan = np.ascontiguousarray(np.broadcast_to(row8[:, None, None], (height, width, 3)))

    def apply(self, frame: Image, strength: float = 1.0) -> Image:
        """The styled frame; ``strength`` < 1 mixes with the original (keyframe ramps)."""
        styled = self._apply(frame)
        if strength >= 1.0:
            return styled
        return u8(cv2.addWeighted(frame, 1.0 - strength, styled, strength, 0.0))

    def _down(self, frame: Image) -> Image:
        return u8(cv2.resize(frame, self.half, interpolation=cv2.INTER_AREA))

    def _up(self, small: Image) -> Image:
        return u8(cv2.resize(small, self.size, interpolation=cv2.INTER_LINEAR))

    def _anime(self, frame: Image) -> Image:
        small = u8(cv2.medianBlur(self._down(frame), self._kernel))
        small = u8(cv2.bilateralFilter(small, 5, 30.0, self._kernel))  # flat fills, kept edges
        hsv = cv2.LUT(cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL), self._anime_lut)
        cel = u8(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL))
        out = self._up(cel)
        lines = cv2.cvtColor(self._up(_ink(small, self._line, ANIME_INK)), cv2.COLOR_GRAY2RGB)
        # Outlines: darken towards near-black by line strength.
        return u8(cv2.subtract(out, cv2.multiply(out, lines, scale=0.9 / 255.0)))

    def _animation3d(self, frame: Image) -> Image:
        small = cv2.bilateralFilter(self._down(frame), 5, 30.0, self._kernel)
        lit = _saturate(u8(cv2.LUT(small, self._soft)), 1.12)
        key = cv2.LUT(cv2.cvtColor(lit, cv2.COLOR_RGB2GRAY), self._bloom_key)
        quarter = (max(self.half[0] // 2, 1), max(self.half[1] // 2, 1))
        bright = cv2.multiply(lit, cv2.cvtColor(key, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)
        bloom = cv2.GaussianBlur(
            cv2.resize(bright, quarter, interpolation=cv2.INTER_AREA), (0, 0), max(quarter[1] / 30.0, 1.0)
        )
        glow = cv2.resize(bloom, self.half, interpolation=cv2.INTER_LINEAR)
        return self._up(u8(cv2.addWeighted(lit, 1.0, glow, BLOOM_GAIN, 0.0)))

    def _clay(self, frame: Image) -> Image:
        small = cv2.medianBlur(self._down(frame), self._kernel)
        small = u8(cv2.bilateralFilter(small, 5, 40.0, self._kernel))
        muted = cv2.transform(_saturate(small, CLAY_SATURATION), np.diag(CLAY_CAST).astype(np.float32))
        # Sheen: light from the top-left on the smoothed relief (plasticine catches light).
        gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (0, 0), self._line * 2.0)
        relief = cv2.Sobel(gray, cv2.CV_16S, 1, 1, ksize=3)
        sheen = cv2.convertScaleAbs(relief, alpha=0.35)
        return self._up(u8(cv2.add(muted, cv2.cvtColor(sheen, cv2.COLOR_GRAY2RGB))))

    def _comic(self, frame: Image) -> Image:
        small = u8(cv2.bilateralFilter(self._down(frame), 5, 40.0, self._kernel))
        bold = u8(cv2.LUT(_saturate(small, COMIC_SATURATION), self._comic_lut))
        ink = _ink(small, self._line * COMIC_LINE_SCALE, COMIC_INK)
        out = self._up(bold)
        gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        dots = cv2.compare(self._dots, cv2.LUT(gray, self._dot_threshold), cv2.CMP_LT)
        shaded = cv2.convertScaleAbs(out, alpha=COMIC_DOT_SHADE)
        cv2.copyTo(shaded, dots, out)
        lines = cv2.cvtColor(self._up(ink), cv2.COLOR_GRAY2RGB)
        return u8(cv2.subtract(out, cv2.multiply(out, lines, scale=0.95 / 255.0)))

    def _cyberpunk(self, frame: Image) -> Image:
        hsv = cv2.LUT(cv2.cvtColor(frame, cv2.COLOR_RGB2HSV_FULL), self._cyber)
        toned = u8(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL))
        small = self._down(toned)
        key = cv2.LUT(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), self._glow_key)
        neon = _saturate(u8(cv2.multiply(small, cv2.cvtColor(key, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)), 1.6)
        neon = u8(cv2.GaussianBlur(neon, (0, 0), max(self.half[1] / 60.0, 1.0)))
        out = cv2.addWeighted(toned, 1.0, self._up(neon), GLOW_GAIN, 0.0)
        return u8(cv2.multiply(out, self._scan, scale=1.0 / 255.0))
