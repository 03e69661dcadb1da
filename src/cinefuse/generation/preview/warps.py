"""Building blocks of the effect templates: canonical-space affines, local warps of a
layer's pixels, recolourings, and frame overlays.

Affines are 3x3 matrices acting on canonical screen coordinates (see :mod:`.layers`).
Warps and recolourings take a premultiplied RGBA layer image and return a new one; they
only touch the region they affect (a subject's belly, not the whole frame). Overlays take
an RGB frame and return a new one.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from .layers import FloatImage, Image, Matrix, f32, u8

RGB = tuple[float, float, float]


# ------------------------------------------------------------------------------ affines


def translate(dx: float, dy: float) -> Matrix:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def about(px: float, py: float, m: Matrix) -> Matrix:
    """``m`` applied with (px, py) as its fixed point."""
    return translate(px, py) @ m @ translate(-px, -py)


def scale_about(px: float, py: float, sx: float, sy: float) -> Matrix:
    return about(px, py, np.diag([sx, sy, 1.0]))


def rotate_about(px: float, py: float, angle: float) -> Matrix:
    c, s = math.cos(angle), math.sin(angle)
    return about(px, py, np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))


def shear_about(px: float, py: float, k: float) -> Matrix:
    """Horizontal shear: rows above ``py`` shift by ``-k`` per pixel of height (a sway)."""
    return about(px, py, np.array([[1.0, k, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


# -------------------------------------------------------------------------------- warps


class Bulge:
    """Radial magnification round a point of a layer image (belly, biceps, a dent when
    negative). Backward map ``p - s (p - c) (1 - (r/R)^2)^2``: magnification ``1/(1-s)``
    at the centre, none at the rim; ``axis`` scales it per direction (a smile widens
    sideways only). The displacement field is computed once."""

    def __init__(
        self, shape: tuple[int, int], centre: tuple[float, float], radius: float, axis: tuple[float, float] = (1.0, 1.0)
    ) -> None:
        h, w = shape
        cx, cy = centre
        self.x0, self.y0 = max(int(cx - radius), 0), max(int(cy - radius), 0)
        self.x1, self.y1 = min(int(cx + radius) + 1, w), min(int(cy + radius) + 1, h)
        ys, xs = np.mgrid[self.y0 : self.y1, self.x0 : self.x1].astype(np.float32)
        dx, dy = xs - cx, ys - cy
        fall = np.clip(1.0 - (dx * dx + dy * dy) / (radius * radius), 0.0, 1.0) ** 2
        self._grid = (f32(xs - self.x0), f32(ys - self.y0))
        self._field = (f32(dx * fall * axis[0]), f32(dy * fall * axis[1]))

    def apply(self, rgba: Image, strength: float) -> Image:
        if strength == 0.0 or self.x1 <= self.x0 or self.y1 <= self.y0:
            return rgba
        out = rgba.copy()
        s = np.float32(strength)
        region = np.ascontiguousarray(rgba[self.y0 : self.y1, self.x0 : self.x1])
        out[self.y0 : self.y1, self.x0 : self.x1] = cv2.remap(
            region,
            self._grid[0] - s * self._field[0],
            self._grid[1] - s * self._field[1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return out


def wave(rgba: Image, start_row: float, amplitude: float, wavelength: float, phase: float) -> Image:
    """Sideways travelling wave below ``start_row``, growing towards the bottom (a tail)."""
    h, w = rgba.shape[:2]
    r0 = int(max(start_row, 0))
    if r0 >= h or amplitude == 0.0:
        return rgba
    rows = np.arange(r0, h, dtype=np.float32)
    ramp = ((rows - r0) / max(h - r0, 1)) ** 1.5
    offset = amplitude * ramp * np.sin(2.0 * np.pi * rows / wavelength - phase)
    map_x = np.arange(w, dtype=np.float32)[None, :] + offset[:, None].astype(np.float32)
    map_y = np.repeat((rows - r0)[:, None], w, axis=1)
    out = rgba.copy()
    out[r0:] = cv2.remap(
        np.ascontiguousarray(rgba[r0:]), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return out


def blur_sideways(rgba: Image, length: int) -> Image:
    """Horizontal motion streak of a layer (premultiplied pixels blur correctly)."""
    return rgba if length < 2 else u8(cv2.blur(rgba, (length, 1)))


# --------------------------------------------------------------------------- recolours


def tint(rgba: Image, colour: RGB, weight: FloatImage | float) -> Image:
    """Move colours towards ``colour`` by ``weight`` (scalar or per-pixel), keeping alpha."""
    a = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32)
    w = weight[:, :, None] if isinstance(weight, np.ndarray) else np.float32(weight)
    target = np.array(colour, np.float32) * a
    out = rgba.copy()
    out[:, :, :3] = np.clip(rgb + (target - rgb) * w + 0.5, 0, 255).astype(np.uint8)
    return out


def xray(rgba: Image, amount: float) -> Image:
    """Inverted luminance in a cold blue, like a radiograph (premultiplied inversion)."""
    a = rgba[:, :, 3].astype(np.float32)
    luma = cv2.cvtColor(np.ascontiguousarray(rgba[:, :, :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    inverted = np.clip(a - luma, 0.0, 255.0)
    ray = np.dstack([inverted * 0.55, inverted * 0.9, inverted * 1.0])
    out = rgba.copy()
    rgb = rgba[:, :, :3].astype(np.float32)
    out[:, :, :3] = np.clip(rgb + (ray - rgb) * amount + 0.5, 0, 255).astype(np.uint8)
    return out


def stripes(shape: tuple[int, int], period: float, angle: float, phase: float) -> FloatImage:
    """Soft diagonal stripes in [0, 1] (a tiger's coat, wavy through the noise of sin)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = xs * math.cos(angle) + ys * math.sin(angle)
    wobble = 0.25 * period * np.sin(ys / (period * 1.7) + phase)
    s = 0.5 + 0.5 * np.sin(2.0 * np.pi * (u + wobble) / period)
    return f32(np.clip((s - 0.55) * 4.0, 0.0, 1.0))


# ----------------------------------------------------------------------------- overlays


def flash(frame: Image, amount: float, colour: RGB = (255.0, 255.0, 255.0)) -> Image:
    if amount <= 0.0:
        return frame
    solid = np.empty_like(frame)
    solid[:] = np.array(colour, np.uint8)
    return u8(cv2.addWeighted(frame, 1.0 - amount, solid, amount, 0.0))


def grade(frame: Image, gains: RGB, amount: float) -> Image:
    """Per-channel gain towards ``gains`` by ``amount`` (a colour cast)."""
    if amount <= 0.0:
        return frame
    g = [1.0 + (x - 1.0) * amount for x in gains]
    return u8(cv2.transform(frame, np.diag(g).astype(np.float32)))


def vignette_mask(width: int, height: int) -> FloatImage:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sqrt(((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (height / 2)) ** 2)
    return f32(np.clip(1.0 - 0.6 * np.clip(r - 0.45, 0.0, None) ** 1.5, 0.0, 1.0))


def darken(frame: Image, mask: FloatImage, amount: float) -> Image:
    if amount <= 0.0:
        return frame
    weights = 1.0 - amount * (1.0 - mask)
    return np.clip(frame * weights[:, :, None], 0, 255).astype(np.uint8)


def heart_points(cx: float, cy: float, size: float) -> npt.NDArray[np.int32]:
    t = np.linspace(0.0, 2.0 * np.pi, 40)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([cx + x * size / 32.0, cy + y * size / 32.0], axis=1)
    return (pts * 8).astype(np.int32)


def hearts(frame: Image, spots: list[tuple[float, float, float]], colour: RGB, alpha: float) -> Image:
    """Draw hearts at ``(x, y, size)`` spots (screen pixels), blended at ``alpha``."""
    if alpha <= 0.0 or not spots:
        return frame
    layer = frame.copy()
    for x, y, size in spots:
        cv2.fillPoly(layer, [heart_points(x, y, size)], tuple(int(c) for c in colour), cv2.LINE_AA, 3)
    return u8(cv2.addWeighted(frame, 1.0 - alpha, layer, alpha, 0.0))


def rays(frame: Image, centre: tuple[float, float], count: int, turn: float, colour: RGB, alpha: float) -> Image:
    """Soft light rays fanning out from ``centre``, rotated by ``turn`` radians."""
    if alpha <= 0.0:
        return frame
    h, w = frame.shape[:2]
    small = np.zeros((h // 4 + 1, w // 4 + 1), np.uint8)
    cx, cy = centre[0] / 4.0, centre[1] / 4.0
    reach = float(max(w, h))
    for i in range(count):
        a0 = turn + 2.0 * np.pi * i / count
        a1 = a0 + np.pi / count * 0.6
        pts = np.array(
            [
                [cx, cy],
                [cx + reach * np.cos(a0), cy + reach * np.sin(a0)],
                [cx + reach * np.cos(a1), cy + reach * np.sin(a1)],
            ],
            np.float64,
        )
        cv2.fillPoly(small, [(pts * 8).astype(np.int32)], 255, cv2.LINE_AA, 3)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    glow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0 * alpha
    out = frame + (np.array(colour, np.float32) - frame) * glow[:, :, None] * 0.6
    return np.clip(out, 0, 255).astype(np.uint8)


def speed_lines(
    frame: Image, rows: npt.NDArray[np.float64], lengths: npt.NDArray[np.float64], offset: float, alpha: float
) -> Image:
    """Horizontal streaks (speed, rushing wind) scrolling by ``offset`` pixels."""
    if alpha <= 0.0:
        return frame
    h, w = frame.shape[:2]
    layer = frame.copy()
    thickness = max(h // 240, 1)
    for row, length in zip(rows, lengths, strict=True):
        y = int(row * h)
        x = int((row * 7919.0 * w + offset) % (w + length * w)) - int(length * w)
        cv2.line(layer, (x, y), (x + int(length * w), y), (255, 255, 255), thickness, cv2.LINE_AA)
    return u8(cv2.addWeighted(frame, 1.0 - alpha, layer, alpha, 0.0))


def glow_spot(frame: Image, spots: list[tuple[float, float]], radius: float, colour: RGB, alpha: float) -> Image:
    """Additive glows (glowing eyes, sparkles)."""
    if alpha <= 0.0 or not spots:
        return frame
    out = frame.astype(np.float32)
    h, w = frame.shape[:2]
    for x, y in spots:
        r = int(radius * 3)
        x0, y0, x1, y1 = max(int(x) - r, 0), max(int(y) - r, 0), min(int(x) + r + 1, w), min(int(y) + r + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        g = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2.0 * radius * radius)) * alpha
        out[y0:y1, x0:x1] += np.array(colour, np.float32) * g[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)
