"""Scenes composed from the prompt's words and the seed (no input images).

Back to front: sky (gradient, sun or moon, clouds, stars), distant mountains, a middle band
chosen by the biome (tree line, dunes, skyline, hills), the ground or water plane (tilted,
so its near part moves faster), the subjects, and foreground dressing. Every choice the
prompt does not make comes from the seeded generator, so a seed and a prompt always give
the same scene and any other seed a different one.

Composition happens in two steps because how much scenery to paint depends on the camera
path, and the path depends on where the subjects stand: :func:`plan_scene` decides the
layout and paints the subjects; :meth:`Blueprint.realise` paints each scenery layer over
the canonical box the camera will see (see :mod:`.coverage`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from . import noise
from .coverage import Box, Extent
from .layers import (
    SKY_DEPTH,
    SUBJECT_DEPTH,
    FloatImage,
    Image,
    Layer,
    Plane,
    Role,
    Scene,
    crop_to_content,
    u8,
)
from .palette import RGB, Palette, choose_palette, subject_colours
from .prompt import SceneTraits
from .silhouettes import DRAWINGS, Figure

Painter = Callable[[Box], tuple[Image, tuple[float, float]]]

#: Horizon row as a fraction of the frame height (seed picks within).
HORIZON_RANGE = (0.5, 0.6)
#: Depths of the scenery bands (world units; the subject stands at SUBJECT_DEPTH).
FAR_DEPTH = 60.0
MID_DEPTH = 22.0
FOREGROUND_DEPTH = 2.2
#: Scenery bands extend this far below the horizon, hidden by the ground, so parallax
#: between them and the ground never opens a gap.
BAND_OVERLAP = 0.15
#: Smooth parts (sky gradient, cloud and ground noise) are computed at this fraction of
#: the resolution and enlarged: they have no detail finer than that.
COARSE = 0.25
#: Where the main subject stands, as a fraction of the ground between horizon and bottom.
CONTACT_FRACTION = 0.72
#: Horizontal offset of the main subject from the centre (fraction of width, seed-chosen).
SUBJECT_OFFSET = 0.1
#: Distance between the two subjects of a pair, as a fraction of the frame width.
PAIR_SPREAD = 0.24
#: Transparent margin kept round subject cutouts, room for effects that push pixels out.
SUBJECT_PAD_FRACTION = 0.25
#: Size factor of the main subject when an effect animates it.
HERO_SCALE = 1.45
#: Fraction of sky cells holding a star at night.
STAR_DENSITY = 0.16
#: Probability that a scene gets foreground dressing.
FOREGROUND_CHANCE = 0.75


def _rgb(c: RGB) -> npt.NDArray[np.float32]:
    return np.array(c, np.float32)


def _lerp(a: RGB, b: RGB, w: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-pixel colour mix: ``w`` (h, w) -> (h, w, 3)."""
    return _rgb(a) + (_rgb(b) - _rgb(a)) * w[:, :, None]


def _to_rgba(colour: npt.NDArray[np.float32], alpha: FloatImage) -> Image:
    out = np.empty((*alpha.shape, 4), np.uint8)
    a = np.clip(alpha, 0.0, 1.0)
    out[:, :, :3] = np.clip(colour * a[:, :, None] + 0.5, 0, 255).astype(np.uint8)
    out[:, :, 3] = (a * 255.0 + 0.5).astype(np.uint8)
    return out


def _coarse_grid(box: Box) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], tuple[int, int]]:
    x0, y0, x1, y1 = box
    cw, ch = max(int((x1 - x0) * COARSE), 2), max(int((y1 - y0) * COARSE), 2)
    xs = np.linspace(x0, x1, cw)
    ys = np.linspace(y0, y1, ch)
    return xs, ys, (x1 - x0, y1 - y0)


@dataclass(frozen=True)
class Backdrop:
    """A scenery layer still to be painted over the box its plane needs."""

    name: str
    role: Role
    plane: Plane
    paint: Painter
    opaque: bool = False
    horizon: float | None = None  # set for ground planes (which also repeat their edges)


@dataclass
class Blueprint:
    """A composed scene before its scenery is painted: see the module docstring."""

    width: int
    height: int
    horizon: float
    behind: list[Backdrop]  # drawn before the subjects
    subjects: list[Layer]
    front: list[Backdrop]  # drawn after the subjects
    ground_plane: Plane

    def subject_scene(self) -> Scene:
        """Just the subjects: enough for a camera rig to aim at them."""
        return Scene(list(self.subjects), self.width, self.height)

    def ground(self) -> Plane | None:
        return self.ground_plane

    def realise(self, extent: Extent) -> Scene:
        layers: list[Layer] = []
        for backdrop in self.behind:
            layers.append(_paint(backdrop, extent))
        layers.extend(self.subjects)
        for backdrop in self.front:
            layers.append(_paint(backdrop, extent))
        return Scene(layers, self.width, self.height)


def _paint(backdrop: Backdrop, extent: Extent) -> Layer:
    rgba, origin = backdrop.paint(extent(backdrop.plane, backdrop.horizon))
    return Layer(
        rgba, origin, backdrop.plane, backdrop.role, backdrop.name, opaque=backdrop.opaque, horizon=backdrop.horizon
    )


@dataclass(frozen=True)
class _Setting:
    """Everything painters share: sizes, palette, horizon, sun and noise seeds."""

    width: int
    height: int
    palette: Palette
    traits: SceneTraits
    horizon: float
    sun: tuple[float, float]
    seeds: tuple[int, ...]

    def seed(self, index: int) -> int:
        return self.seeds[index % len(self.seeds)]


# ---------------------------------------------------------------------------------- sky


def _paint_sky(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    x0, y0, _x1, _y1 = box
    pal, h = s.palette, float(s.height)
    xs, ys, size = _coarse_grid(box)
    gx, gy = np.meshgrid(xs, ys)
    top = -0.25 * h
    g = np.clip((gy - top) / (s.horizon - top), 0.0, 1.0) ** 1.4
    colour = _lerp(pal.sky_top, pal.sky_horizon, g.astype(np.float32))
    # Sun or moon glow: wide and warm at sunset, small and cool at night.
    sx, sy = s.sun
    spread = (0.16 if pal.night else 0.32) * h
    glow = np.exp(-((gx - sx) ** 2 + (gy - sy) ** 2) / (2.0 * spread * spread)).astype(np.float32)
    colour += (_rgb(pal.sun) - colour) * (glow * (0.35 if pal.night else 0.75))[:, :, None]
    if s.traits.has("clouds") or s.traits.has("fog") or not pal.night:
        cover = 0.62 if s.traits.has("clouds") else 0.45
        n = noise.fbm2d(s.seed(0), xs * 0.6, ys * 1.8, 0.9 * h, octaves=4)
        cloud = np.clip((n - cover) / 0.18, 0.0, 1.0) * np.clip((s.horizon - gy) / (0.35 * h), 0.0, 1.0)
        tint = _rgb(pal.haze) * 0.55 + 110.0 if not pal.night else _rgb(pal.haze) * 0.9 + 15.0
        colour += (np.minimum(tint, 255.0) - colour) * (cloud * 0.75).astype(np.float32)[:, :, None]
    rgb = u8(cv2.resize(np.clip(colour, 0, 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR))
    if pal.night:
        _stars(s, rgb, box)
    # The disc itself is sharp, so it is drawn at full resolution.
    radius = (0.035 if pal.night else 0.05) * h
    disc = np.zeros(rgb.shape[:2], np.uint8)
    cv2.circle(disc, (round((sx - x0) * 8), round((sy - y0) * 8)), round(radius * 8), 255, -1, cv2.LINE_AA, 3)
    a = (disc.astype(np.float32) / 255.0)[:, :, None]
    if s.palette.sun_height < 0.1:  # a setting sun sinks behind the horizon
        a[int(max(s.horizon - y0, 0)) :] = 0.0
    rgb = (rgb * (1.0 - a) + _rgb(pal.sun) * a).astype(np.uint8)
    return u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)), (float(x0), float(y0))


def _stars(s: _Setting, rgb: Image, box: Box) -> None:
    x0, y0, x1, y1 = box
    cell = 0.045 * s.height
    i0, i1 = math.floor(x0 / cell), math.ceil(x1 / cell)
    j0, j1 = math.floor(y0 / cell), math.ceil(min(y1, s.horizon) / cell)
    if j1 <= j0:
        return
    ii, jj = np.meshgrid(np.arange(i0, i1, dtype=np.int64), np.arange(j0, j1, dtype=np.int64))
    key = jj * 1_000_003 + ii
    present = noise.lattice(s.seed(1), key) < STAR_DENSITY
    jx = noise.lattice(s.seed(2), key)
    jy = noise.lattice(s.seed(3), key)
    bright = noise.lattice(s.seed(4), key)
    for i, j, ox, oy, b in zip(ii[present], jj[present], jx[present], jy[present], bright[present], strict=True):
        px, py = (i + ox) * cell - x0, (j + oy) * cell - y0
        if py + y0 > s.horizon - 0.02 * s.height:
            continue
        level = int(90 + 165 * b * b)
        radius = max(s.height / 540.0, 0.6) * (1.6 if b > 0.9 else 1.0)
        cv2.circle(
            rgb,
            (round(px * 4), round(py * 4)),
            round(radius * 4),
            (level, level, min(level + 20, 255)),
            -1,
            cv2.LINE_AA,
            2,
        )


# ------------------------------------------------------------------------------ scenery


def _ridge(seed: int, xs: npt.NDArray[np.float64], base: float, amp: float, period: float) -> npt.NDArray[np.float64]:
    """Row of a ridgeline above each column: ``base`` minus up to ``amp`` pixels."""
    n = noise.fbm1d(seed, xs, period, octaves=5)
    return base - amp * (n * 1.6 - 0.3).clip(0.0, 1.0)


ColourOf = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float32]]


def _band(
    s: _Setting, box: Box, ridge: npt.NDArray[np.float64], colour_of: ColourOf
) -> tuple[Image, tuple[float, float]]:
    """Fill from ``ridge`` (one row per column of ``box``) down to below the horizon."""
    x0, _, x1, _ = box
    top = int(np.floor(ridge.min())) - 2
    bottom = math.ceil(s.horizon + BAND_OVERLAP * s.height)
    ys = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    alpha = np.clip(ys - ridge[None, :] + 0.5, 0.0, 1.0).astype(np.float32)
    colour = colour_of(np.broadcast_to(np.arange(x0, x1, dtype=np.float64)[None, :], alpha.shape), ys - ridge[None, :])
    return _to_rgba(colour, alpha), (float(x0), float(top))


def _paint_mountains(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    x0, _, x1, _ = box
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5
    h = float(s.height)
    tall = 0.3 if s.traits.has("mountain") or s.traits.has("snow") else 0.16
    ridge = _ridge(s.seed(5), xs, s.horizon - 0.02 * h, tall * h, 0.6 * h)
    pal = s.palette
    snowy = s.traits.has("snow") or (s.traits.has("mountain") and not s.traits.has("desert"))
    # Light: faces whose smoothed slope turns towards the sun are lighter, fading down the
    # slope; a smoothed profile keeps that from turning into vertical streaks.
    smooth = cv2.GaussianBlur(ridge.astype(np.float32)[None, :], (0, 0), sigmaX=0.02 * h, sigmaY=0.1)[0]
    toward_sun = 1.0 if s.sun[0] > s.width / 2 else -1.0
    facing = np.tanh(np.gradient(smooth) * 1.5 * toward_sun)[None, :]
    snowline = s.horizon - 0.45 * tall * h - 0.05 * h * noise.fbm1d(s.seed(19), xs, 0.1 * h, octaves=3)[None, :]

    def colour(gx: npt.NDArray[np.float64], below: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        ys = below + ridge[None, :]
        haze = np.clip((ys - (s.horizon - tall * h)) / (tall * h), 0.0, 1.0).astype(np.float32)
        c = _lerp(pal.far, pal.haze, haze * 0.55)
        light = 1.0 + 0.16 * facing * np.exp(-below / (0.12 * h))
        c *= light.astype(np.float32)[:, :, None]
        if snowy:
            cap = np.clip((snowline - ys) / (0.01 * h), 0.0, 1.0).astype(np.float32)
            snow = np.float32(238.0) * (1.0 + 0.08 * facing).astype(np.float32)
            c += (snow[..., None] - c) * cap[:, :, None] * 0.85
        return c

    return _band(s, box, ridge, colour)


def _paint_hills(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    x0, _, x1, _ = box
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5
    h = float(s.height)
    desert = s.traits.has("desert")
    amp, period = (0.08, 0.9) if desert else (0.07, 0.45)
    ridge = _ridge(s.seed(6), xs, s.horizon + 0.005 * h, amp * h, period * h)
    pal = s.palette

    def colour(gx: npt.NDArray[np.float64], below: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        shade = np.clip(below / (0.12 * h), 0.0, 1.0).astype(np.float32)
        base = _lerp(pal.mid, pal.haze, np.full(shade.shape, 0.15, np.float32))
        return base * (1.0 - 0.25 * shade)[:, :, None]

    return _band(s, box, ridge, colour)


def _paint_treeline(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    """Pines along a low ridge; each tree's size and offset hash from its cell index."""
    x0, _, x1, _ = box
    h = float(s.height)
    cell = 0.028 * h
    top = int(s.horizon - 0.22 * h)
    bottom = math.ceil(s.horizon + BAND_OVERLAP * h)
    mask = np.zeros((bottom - top, x1 - x0), np.uint8)
    base_y = s.horizon + 0.01 * h - top
    cv2.rectangle(mask, (0, int(base_y - 0.015 * h)), (x1 - x0, bottom - top), 255, -1)
    cells = np.arange(math.floor(x0 / cell) - 2, math.ceil(x1 / cell) + 2, dtype=np.int64)
    heights = noise.lattice(s.seed(7), cells)
    jitter = noise.lattice(s.seed(8), cells)
    for c, th, jx in zip(cells, heights, jitter, strict=True):
        cx = (c + jx) * cell - x0
        tree_h = (0.06 + 0.12 * th) * h
        half = tree_h * 0.22
        for tier in range(3):
            ty = base_y - tree_h * (tier / 3.0)
            w = half * (1.0 - tier * 0.25)
            pts = np.array([[cx - w, ty], [cx + w, ty], [cx, ty - tree_h * 0.5]]) * 8
            cv2.fillPoly(mask, [pts.astype(np.int32)], 255, cv2.LINE_AA, 3)
    alpha = mask.astype(np.float32) / 255.0
    rows = np.linspace(0.0, 1.0, alpha.shape[0], dtype=np.float32)[:, None] * np.ones_like(alpha)
    # Pines stay dark green in snow (the biome's pale middle colour is for snowfields).
    green = s.palette.mid if not s.traits.has("snow") else (40.0, 72.0, 58.0)
    colour = _lerp(green, s.palette.haze, 0.25 * (1.0 - rows))
    return _to_rgba(colour, alpha), (float(x0), float(top))


def _paint_skyline(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    """Buildings with windows; at night windows glow and neon scenes get signs."""
    x0, _, x1, _ = box
    h = float(s.height)
    pal = s.palette
    top = int(s.horizon - 0.42 * h)
    bottom = math.ceil(s.horizon + BAND_OVERLAP * h)
    rows, cols = bottom - top, x1 - x0
    body = np.zeros((rows, cols), np.uint8)
    lit = np.zeros((rows, cols), np.uint8)
    signs = np.zeros((rows, cols), np.uint8)
    cell = 0.07 * h
    cells = np.arange(math.floor(x0 / cell) - 1, math.ceil(x1 / cell) + 1, dtype=np.int64)
    tall = noise.lattice(s.seed(9), cells)
    wide = noise.lattice(s.seed(10), cells)
    ground = int(s.horizon + 0.01 * h) - top
    win = max(int(0.008 * h), 1)
    for c, th, wd in zip(cells, tall, wide, strict=True):
        bx0 = int(c * cell - x0)
        bw = int(cell * (0.7 + 0.5 * wd))
        bh = int((0.08 + 0.3 * th**1.5) * h)
        by0 = ground - bh
        cv2.rectangle(body, (bx0, by0), (bx0 + bw, rows), 255, -1)
        key = np.arange(by0 // (3 * win), ground // (3 * win), dtype=np.int64) * 7919 + int(c) * 104729
        on = noise.lattice(s.seed(11), key) < (0.45 if pal.night else 0.15)
        for k, is_on in enumerate(on):
            if not is_on:
                continue
            wy = by0 + 2 * win + k * 3 * win
            for wx in range(bx0 + 2 * win, bx0 + bw - 2 * win, 3 * win):
                cv2.rectangle(lit, (wx, wy), (wx + win, wy + win), 255, -1)
        if s.traits.has("neon") and wd > 0.6:
            cv2.rectangle(signs, (bx0 + bw // 4, by0 + bh // 5), (bx0 + bw * 3 // 4, by0 + bh // 5 + 3 * win), 255, -1)
    alpha = body.astype(np.float32) / 255.0
    colour = np.empty((rows, cols, 3), np.float32)
    colour[:] = _rgb(pal.far) * 0.6 + _rgb(pal.mid) * 0.4
    window = (lit.astype(np.float32) / 255.0)[:, :, None]
    colour += (_rgb(pal.accent if pal.night else pal.haze) - colour) * window * (0.9 if pal.night else 0.4)
    if signs.any():
        sign = cv2.GaussianBlur(signs, (0, 0), 0.01 * h).astype(np.float32) / 255.0
        sign = np.maximum(sign * 1.6, signs.astype(np.float32) / 255.0)
        colour += (_rgb(pal.rim) - colour) * np.clip(sign, 0, 1)[:, :, None]
        alpha = np.maximum(alpha, np.clip(sign, 0, 1))
    return _to_rgba(colour, alpha), (float(x0), float(top))


# ------------------------------------------------------------------------------- ground


def _paint_ground(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    x0, _, x1, y1 = box
    h, pal = float(s.height), s.palette
    top = math.floor(s.horizon)
    y1 = max(y1, top + 2)
    ground_box = (x0, top, x1, y1)
    xs, ys, size = _coarse_grid(ground_box)
    gx, gy = np.meshgrid(xs, ys)
    below = np.maximum(gy - s.horizon, 0.5)
    # Perspective texture coordinates: the ground's own (u, v), not the screen's.
    u = (gx - s.width / 2.0) / below
    v = h / below
    near = np.clip(below / (h - s.horizon), 0.0, 1.0) ** 0.7
    water = s.traits.has("water")
    if water:
        sky_mirror = _lerp(pal.sky_horizon, pal.water, np.clip(near * 1.6, 0.0, 1.0).astype(np.float32))
        colour = sky_mirror * 0.85
        # Ripples: bands evenly spaced on the water, so crowding towards the horizon,
        # faded there before they get finer than the coarse grid can hold.
        phase = noise.value1d(s.seed(12), u * 0.15, 1.0) * 4.0
        ripple = np.sin(v * 3.0 + phase) * 0.5 + 0.5
        colour *= (1.0 - 0.12 * near * ripple).astype(np.float32)[:, :, None]
        sx = s.sun[0]
        width = 0.02 * h + 0.25 * below
        column = np.exp(-((gx - sx) ** 2) / (2.0 * width * width))
        glints = (noise.fbm2d(s.seed(13), xs * 0.05, ys * 3.0, 6.0, octaves=2) > 0.55).astype(np.float64)
        strength = 0.25 if pal.night else 0.6
        colour += (_rgb(pal.sun) - colour) * (column * (0.35 + 0.65 * glints) * strength).astype(np.float32)[:, :, None]
    else:
        colour = _lerp(pal.ground_far, pal.ground_near, near.astype(np.float32))
        patch = _patches(s.seed(15), u, v)
        colour *= (0.86 + 0.2 * patch * near).astype(np.float32)[:, :, None]
    rgb = cv2.resize(np.clip(colour, 0, 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)
    if s.traits.has("city") and not water:
        _lane_lines(s, rgb, ground_box)
    alpha = np.ones(rgb.shape[:2], np.float32)
    edge = s.horizon - top  # sub-pixel horizon: partial coverage of the first row
    alpha[0] = np.clip(1.0 - edge, 0.0, 1.0)
    # A clear row on top: the layer repeats its edges, and above the horizon is sky.
    rgba = cv2.copyMakeBorder(
        _to_rgba(rgb.astype(np.float32), alpha), 1, 0, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0)
    )
    return u8(rgba), (float(x0), float(top - 1))


def _patches(seed: int, u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Blotchy ground texture in ground coordinates (grass clumps, sand ripples)."""
    pu, pv = noise.lattice(seed, np.array([0, 1], np.int64)) * 2.0 * math.pi
    wave = np.sin(u * 1.7 + pu + np.sin(v * 0.9) * 2.0) * np.sin(v * 1.3 + pv + np.cos(u * 0.6))
    return np.asarray(0.5 * (wave + 1.0), np.float64)


def _lane_lines(s: _Setting, rgb: Image, box: Box) -> None:
    x0, top, _, y1 = box
    vx = s.width / 2.0
    for offset in (-0.9, 0.0, 0.9):
        pts = np.array(
            [
                [vx - x0, 0.0],
                [vx + offset * s.width - x0 - 0.01 * s.width, y1 - top],
                [vx + offset * s.width - x0 + 0.01 * s.width, y1 - top],
            ]
        )
        colour = (200, 190, 120) if offset == 0.0 else (170, 170, 170)
        cv2.fillPoly(rgb, [(pts * 8).astype(np.int32)], colour, cv2.LINE_AA, 3)


# --------------------------------------------------------------------------- foreground


def _paint_foreground(s: _Setting, box: Box) -> tuple[Image, tuple[float, float]]:
    """Grass tufts, rocks or snow mounds along the bottom edge, hashed per cell."""
    x0, _, x1, y1 = box
    h = float(s.height)
    pal = s.palette
    top = int(s.height - 0.32 * h)
    bottom = max(y1, s.height + 2)
    mask = np.zeros((bottom - top, x1 - x0), np.uint8)
    cell = 0.16 * h
    cells = np.arange(math.floor(x0 / cell) - 1, math.ceil(x1 / cell) + 1, dtype=np.int64)
    present = noise.lattice(s.seed(16), cells)
    size = noise.lattice(s.seed(17), cells)
    rocky = s.traits.has("desert") or (s.traits.has("water") and not s.traits.has("forest"))
    snowy = s.traits.has("snow")
    ground_row = s.height - top
    for c, p, sz in zip(cells, present, size, strict=True):
        cx = (c + 0.5) * cell - x0
        # Dressing crowds the frame edges and leaves the middle (the subject) clear.
        centre = abs((c + 0.5) * cell - s.width / 2.0) / (s.width / 2.0)
        if p > 0.25 + 0.6 * centre:
            continue
        extent = (0.06 + 0.14 * sz) * h
        if rocky or snowy:
            axes = (int(extent * 8 * 1.3), int(extent * 8 * 0.75))
            cv2.ellipse(mask, (int(cx * 8), int(ground_row * 8)), axes, 0, 180, 360, 255, -1, cv2.LINE_AA, 3)
        else:
            blades = 9
            for b in range(blades):
                bx = cx + (b - blades / 2) * extent * 0.12
                lean = (noise.lattice(s.seed(18), np.array([int(c) * 31 + b]))[0] - 0.5) * extent * 0.6
                tip_h = extent * (0.6 + 0.4 * math.sin(b * 1.7 + c) ** 2)
                pts = np.array(
                    [
                        [bx - extent * 0.03, ground_row + 2],
                        [bx + extent * 0.03, ground_row + 2],
                        [bx + lean, ground_row - tip_h],
                    ]
                )
                cv2.fillPoly(mask, [(pts * 8).astype(np.int32)], 255, cv2.LINE_AA, 3)
    cv2.rectangle(mask, (0, ground_row), (x1 - x0, bottom - top), 0, -1)
    alpha = mask.astype(np.float32) / 255.0
    base = (238.0, 242.0, 250.0) if snowy else pal.ground_near
    shade = np.linspace(1.0, 0.6, alpha.shape[0], dtype=np.float32)[:, None] * np.ones_like(alpha)
    depth = 0.85 if snowy else 0.8 if rocky else 0.55  # grass blades read darker than stones
    colour = _rgb(base) * np.float32(depth) * shade[:, :, None]
    return _to_rgba(colour, alpha), (float(x0), float(top))


# ------------------------------------------------------------------------------ subjects


def shade_figure(
    figure: Figure, base: RGB, accent: RGB, rim: RGB, rim_strength: float, light_from_left: bool
) -> tuple[Image, FloatImage]:
    """Colour a silhouette: vertical light falloff, accent regions, a rim on the lit side."""
    mask = figure.mask
    rows = mask.shape[0]
    shade = np.linspace(1.12, 0.78, rows, dtype=np.float32)[:, None]
    colour = _rgb(base)[None, None, :] * shade[:, :, None]
    colour = colour + (_rgb(accent) - colour) * figure.accent[:, :, None]
    shift = max(int(rows * 0.012), 1)
    shifted = np.zeros_like(mask)
    if light_from_left:
        shifted[:, shift:] = mask[:, :-shift]
    else:
        shifted[:, :-shift] = mask[:, shift:]
    edge = np.clip(mask - shifted, 0.0, 1.0)
    edge = cv2.GaussianBlur(edge, (0, 0), max(shift * 0.7, 0.5)) * mask
    colour = colour + (_rgb(rim) - colour) * (edge * rim_strength)[:, :, None]
    return np.clip(colour, 0, 255).astype(np.uint8), mask


def _subject_layer(
    s: _Setting,
    kind: str,
    index: int,
    centre_x: float,
    contact_y: float,
    depth: float,
    rng: np.random.Generator,
    mirror: bool,
    scale: float,
) -> Layer:
    draw, nominal = DRAWINGS[kind]
    height = max(int(nominal * scale * s.height * SUBJECT_DEPTH / depth * rng.uniform(0.92, 1.08)), 12)
    figure = draw(height, rng)
    if mirror:
        figure = Figure(figure.mask[:, ::-1].copy(), figure.accent[:, ::-1].copy())
    pal = s.palette
    backlit = pal.night or pal.sun_height < 0.1
    body, accent = subject_colours(kind, pal, s.traits.words)
    rgb, mask = shade_figure(figure, body, accent, pal.rim, 0.85 if backlit else 0.35, s.sun[0] < centre_x)
    fh, fw = mask.shape
    pad = int(fh * SUBJECT_PAD_FRACTION)
    alpha = mask.copy()
    if kind != "bird":  # a soft contact shadow grounds the figure
        shadow = np.zeros((fh + pad, fw + 2 * pad), np.float32)
        cv2.ellipse(
            shadow, (fw // 2 + pad, fh - 1), (int(fw * 0.55), max(int(fh * 0.03), 2)), 0, 0, 360, 0.45, -1, cv2.LINE_AA
        )
        canvas_rgb = np.zeros((*shadow.shape, 3), np.float32)
        canvas_rgb[:fh, pad : pad + fw] = rgb.astype(np.float32)
        figure_a = np.zeros_like(shadow)
        figure_a[:fh, pad : pad + fw] = alpha
        colour = canvas_rgb * figure_a[:, :, None]  # the shadow is black: it adds no colour
        canvas_a = figure_a + shadow * (1.0 - figure_a)
        rgba = np.empty((*canvas_a.shape, 4), np.uint8)
        rgba[:, :, :3] = np.clip(colour + 0.5, 0, 255).astype(np.uint8)
        rgba[:, :, 3] = np.clip(canvas_a * 255.0 + 0.5, 0, 255).astype(np.uint8)
        origin = (centre_x - fw / 2.0 - pad, contact_y - fh)
    else:
        rgba = _to_rgba(rgb.astype(np.float32), alpha)
        origin = (centre_x - fw / 2.0, contact_y - fh)
    rgba, origin = crop_to_content(rgba, origin, pad)
    return Layer(rgba, origin, Plane.fronto(depth), Role.SUBJECT, f"{kind}-{index}")


def _place_subjects(
    s: _Setting, ground: Plane, kinds: list[str], pair: bool, rng: np.random.Generator, scale: float
) -> list[Layer]:
    if not kinds:
        return []
    w, h = float(s.width), float(s.height)
    contact = s.horizon + (h - s.horizon) * CONTACT_FRACTION
    main_x = w / 2.0 + rng.uniform(-SUBJECT_OFFSET, SUBJECT_OFFSET) * w
    placements: list[tuple[str, float, float, float, bool]] = []  # kind, x, contact y, depth, mirror
    main = kinds[0]
    if pair and main in ("person", "animal"):
        for side in (-1.0, 1.0):
            x = w / 2.0 + side * PAIR_SPREAD * scale * w / 2.0
            placements.append((main, x, contact, SUBJECT_DEPTH, side > 0))
    else:
        placements.append((main, main_x, contact, SUBJECT_DEPTH, bool(rng.random() < 0.5)))
    for k, kind in enumerate(kinds[1:3]):
        side = 1.0 if (k + (main_x > w / 2)) % 2 == 0 else -1.0
        y = s.horizon + (h - s.horizon) * rng.uniform(0.35, 0.55)
        x = w / 2.0 + side * rng.uniform(0.22, 0.34) * w
        placements.append((kind, x, y, ground.depth_at(x, y, s.width, s.height, w), side > 0))
    layers: list[Layer] = []
    for i, (kind, x, y, depth, mirror) in enumerate(placements):
        if kind == "bird":
            y, depth = s.horizon - 0.18 * h, SUBJECT_DEPTH * 1.5
        elif kind == "boat" and s.traits.has("water"):
            y = s.horizon + (h - s.horizon) * 0.4
            depth = ground.depth_at(x, y, s.width, s.height, w)
        layers.append(_subject_layer(s, kind, i, x, y, depth, rng, mirror, scale if i == 0 or pair else 1.0))
    # Farther subjects first, so nearer ones overlap them.
    return sorted(layers, key=lambda layer: -layer.plane.distance)


# ----------------------------------------------------------------------------- assembly


def plan_scene(
    traits: SceneTraits, rng: np.random.Generator, width: int, height: int, need_subject: bool, hero: bool = False
) -> Blueprint:
    """Decide the layout of a prompt-composed scene and paint its subjects.

    ``need_subject``: the camera move or effect animates a subject; when the prompt names
    none, a person (a boat on open water) is added (our rule). ``hero``: an effect is about
    the subject, so the main subject is drawn HERO_SCALE times larger.
    """
    palette = choose_palette(traits, rng)
    horizon = height * float(rng.uniform(*HORIZON_RANGE))
    sun_x = width * float(rng.uniform(0.2, 0.8))
    sun_y = horizon - palette.sun_height * height * float(rng.uniform(0.8, 1.2))
    seeds = tuple(int(x) for x in rng.integers(0, 2**62, size=20))
    setting = _Setting(width, height, palette, traits, horizon, (sun_x, sun_y), seeds)
    contact = horizon + (height - horizon) * CONTACT_FRACTION
    ground = Plane.ground(horizon, contact, SUBJECT_DEPTH, height, float(width))
    behind: list[Backdrop] = [
        Backdrop("sky", Role.SKY, Plane.fronto(SKY_DEPTH), lambda b: _paint_sky(setting, b), opaque=True),
    ]
    if not traits.has("city") or traits.has("mountain"):
        behind.append(
            Backdrop("mountains", Role.SCENERY, Plane.fronto(FAR_DEPTH), lambda b: _paint_mountains(setting, b))
        )
    middle: Painter
    if traits.has("city"):
        middle = lambda b: _paint_skyline(setting, b)  # noqa: E731
    elif traits.has("forest"):
        middle = lambda b: _paint_treeline(setting, b)  # noqa: E731
    else:
        middle = lambda b: _paint_hills(setting, b)  # noqa: E731
    if not (traits.has("water") and not traits.themes & {"forest", "city", "desert", "mountain"}):
        behind.append(Backdrop("middle", Role.SCENERY, Plane.fronto(MID_DEPTH), middle))
    behind.append(
        Backdrop(
            "water" if traits.has("water") else "ground",
            Role.GROUND,
            ground,
            lambda b: _paint_ground(setting, b),
            horizon=horizon,
        )
    )
    kinds = list(traits.subjects)
    if need_subject and not kinds:
        kinds = ["boat" if traits.has("water") else "person"]
    subjects = _place_subjects(setting, ground, kinds, traits.pair, rng, HERO_SCALE if hero else 1.0)
    front: list[Backdrop] = []
    if rng.random() < FOREGROUND_CHANCE and not (traits.has("water") and not traits.has("forest")):
        front.append(
            Backdrop(
                "foreground", Role.FOREGROUND, Plane.fronto(FOREGROUND_DEPTH), lambda b: _paint_foreground(setting, b)
            )
        )
    return Blueprint(width, height, horizon, behind, subjects, front, ground)
