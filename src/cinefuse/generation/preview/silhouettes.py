"""Subject silhouettes drawn from simple shapes: a person, an animal, a car, a boat, a bird,
a tower. Proportions vary with the seed; shapes are drawn at twice the size and reduced
(area averaging) for anti-aliased edges.

Each drawing returns a :class:`Figure`: the coverage mask and an "accent" mask (clothes,
windows, sails) that the painter colours differently, both ``float32`` in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float32]

#: Supersampling factor of the drawings.
SUPERSAMPLE = 2
#: cv2 drawing calls take integer coordinates; this many fractional bits keep them smooth.
_SHIFT = 3


@dataclass(frozen=True)
class Figure:
    mask: FloatImage
    accent: FloatImage


class _Canvas:
    """Two masks drawn in normalised units: x, y in [0, 1] of (width, height)."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width * SUPERSAMPLE, height * SUPERSAMPLE
        self.mask = np.zeros((self.h, self.w), np.uint8)
        self.accent = np.zeros((self.h, self.w), np.uint8)

    def _pt(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.w * (1 << _SHIFT)), round(y * self.h * (1 << _SHIFT))

    def poly(self, pts: list[tuple[float, float]], accent: bool = False, erase: bool = False) -> None:
        arr = np.array([self._pt(x, y) for x, y in pts], np.int32)
        value = 0 if erase else 255
        cv2.fillPoly(self.mask, [arr], value, cv2.LINE_AA, _SHIFT)
        if accent:
            cv2.fillPoly(self.accent, [arr], 255, cv2.LINE_AA, _SHIFT)

    def ellipse(self, x: float, y: float, rx: float, ry: float, angle: float = 0.0, accent: bool = False) -> None:
        centre = self._pt(x, y)
        axes = (round(rx * self.w * (1 << _SHIFT)), round(ry * self.h * (1 << _SHIFT)))
        cv2.ellipse(self.mask, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
        if accent:
            cv2.ellipse(self.accent, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)

    def limb(self, x0: float, y0: float, x1: float, y1: float, thickness: float, accent: bool = False) -> None:
        """A rounded stroke; ``thickness`` in units of the canvas width."""
        t = max(round(thickness * self.w), 1)
        a, b = self._pt(x0, y0), self._pt(x1, y1)
        cv2.line(self.mask, a, b, 255, t, cv2.LINE_AA, _SHIFT)
        if accent:
            cv2.line(self.accent, a, b, 255, t, cv2.LINE_AA, _SHIFT)

    def figure(self) -> Figure:
        size = (self.w // SUPERSAMPLE, self.h // SUPERSAMPLE)
        mask = cv2.resize(self.mask, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        accent = cv2.resize(self.accent, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return Figure(mask, np.minimum(accent, mask))


def person(height: int, rng: np.random.Generator) -> Figure:
    """A standing figure, ``height`` pixels tall, about 0.5 of that wide."""
    width = max(int(height * 0.5), 8)
    c = _Canvas(width, height)
    k = height / width  # converts height-relative x offsets to width units
    shoulder = 0.12 * rng.uniform(0.9, 1.15)
    hip = 0.085 * rng.uniform(0.9, 1.2)
    stance = 0.05 * rng.uniform(0.4, 1.2)
    dress = rng.random() < 0.4
    cx = 0.5
    c.ellipse(cx, 0.075, 0.062 * k, 0.066)  # head
    c.poly([(cx - 0.025 * k, 0.13), (cx + 0.025 * k, 0.13), (cx + 0.03 * k, 0.17), (cx - 0.03 * k, 0.17)])
    torso = [(cx - shoulder * k, 0.17), (cx + shoulder * k, 0.17), (cx + hip * k, 0.5), (cx - hip * k, 0.5)]
    c.poly(torso, accent=True)
    c.ellipse(cx - shoulder * k, 0.19, 0.035 * k, 0.025)
    c.ellipse(cx + shoulder * k, 0.19, 0.035 * k, 0.025)
    raised = rng.random() < 0.25
    for side in (-1.0, 1.0):
        sx = cx + side * shoulder * k
        if raised and side > 0:
            c.limb(sx, 0.19, sx + 0.06 * k, 0.07, 0.05 * k, accent=True)
        else:
            c.limb(sx, 0.19, sx + side * 0.04 * k, 0.34, 0.055 * k, accent=True)
            c.limb(sx + side * 0.04 * k, 0.34, sx + side * 0.03 * k, 0.5, 0.045 * k)
        c.limb(cx + side * 0.045 * k, 0.5, cx + side * stance * k, 0.97, 0.062 * k)
        c.ellipse(cx + side * (stance + 0.02) * k, 0.975, 0.04 * k, 0.018)
    if dress:
        c.poly([(cx - hip * k, 0.48), (cx + hip * k, 0.48), (cx + 0.2 * k, 0.74), (cx - 0.2 * k, 0.74)], accent=True)
    return c.figure()


def animal(height: int, rng: np.random.Generator) -> Figure:
    """A four-legged animal in profile (cat, dog, fox...), about 1.5x as long as tall."""
    width = max(int(height * 1.5), 8)
    c = _Canvas(width, height)
    k = height / width
    back = rng.uniform(0.32, 0.4)
    c.ellipse(0.48, back + 0.12, 0.3, 0.16)  # body
    c.ellipse(0.78, back - 0.05, 0.12 * k * 1.4, 0.13)  # head
    for ear in (0.74, 0.82):
        c.poly([(ear - 0.03, back - 0.14), (ear + 0.03, back - 0.14), (ear + 0.01, back - 0.27)])
    c.poly([(0.86, back - 0.04), (0.97, back + 0.0), (0.86, back + 0.04)])  # snout
    for x in (0.26, 0.34, 0.6, 0.68):
        c.limb(x, back + 0.2, x + rng.uniform(-0.02, 0.02), 0.97, 0.055)
    tail_up = rng.uniform(-0.1, 0.15)
    c.limb(0.2, back + 0.06, 0.06, back - tail_up, 0.05, accent=True)
    return c.figure()


def car(height: int, rng: np.random.Generator) -> Figure:
    width = max(int(height * 2.4), 8)
    c = _Canvas(width, height)
    roof = rng.uniform(0.05, 0.15)
    c.poly([(0.02, 0.48), (0.98, 0.5), (0.99, 0.78), (0.01, 0.8)])  # body
    c.poly([(0.24, 0.5), (0.34, roof), (0.68, roof), (0.8, 0.5)])  # cabin
    c.poly([(0.3, 0.46), (0.37, roof + 0.07), (0.5, roof + 0.07), (0.5, 0.46)], accent=True)  # windows
    c.poly([(0.53, 0.46), (0.53, roof + 0.07), (0.66, roof + 0.07), (0.74, 0.46)], accent=True)
    for x in (0.22, 0.78):
        c.ellipse(x, 0.8, 0.085, 0.19)
    return c.figure()


def boat(height: int, rng: np.random.Generator) -> Figure:
    width = max(int(height * 1.1), 8)
    c = _Canvas(width, height)
    c.poly([(0.0, 0.78), (1.0, 0.78), (0.84, 0.98), (0.14, 0.98)])  # hull
    mast = rng.uniform(0.42, 0.55)
    c.limb(mast, 0.02, mast, 0.8, 0.018)
    c.poly([(mast - 0.01, 0.05), (mast - 0.01, 0.74), (0.06, 0.74)], accent=True)  # sail
    c.poly([(mast + 0.02, 0.14), (mast + 0.02, 0.74), (0.92, 0.74)], accent=True)
    return c.figure()


def bird(height: int, rng: np.random.Generator) -> Figure:
    """A gliding bird seen from the front-below, wings spread."""
    width = max(int(height * 2.6), 8)
    c = _Canvas(width, height)
    lift = rng.uniform(0.0, 0.25)
    c.ellipse(0.5, 0.5, 0.05, 0.28)
    for side in (-1.0, 1.0):
        c.poly(
            [
                (0.5, 0.35),
                (0.5 + side * 0.25, 0.25 - lift),
                (0.5 + side * 0.49, 0.45 - lift),
                (0.5 + side * 0.26, 0.45),
                (0.5, 0.6),
            ],
            accent=side > 0,
        )
    c.poly([(0.47, 0.75), (0.53, 0.75), (0.56, 0.98), (0.44, 0.98)])
    return c.figure()


def tower(height: int, rng: np.random.Generator) -> Figure:
    """A castle keep or lighthouse."""
    width = max(int(height * 0.42), 8)
    c = _Canvas(width, height)
    c.poly([(0.2, 0.2), (0.8, 0.2), (0.9, 1.0), (0.1, 1.0)])
    if rng.random() < 0.5:
        for i in range(4):  # battlements
            x = 0.16 + i * 0.2
            c.poly([(x, 0.12), (x + 0.12, 0.12), (x + 0.12, 0.21), (x, 0.21)])
    else:
        c.poly([(0.14, 0.21), (0.5, 0.0), (0.86, 0.21)])  # roof
    for y in (0.35, 0.6):
        c.poly([(0.44, y), (0.56, y), (0.56, y + 0.09), (0.44, y + 0.09)], accent=True)
    return c.figure()


#: Drawing function and height as a fraction of the frame height, per subject kind.
DRAWINGS: dict[str, tuple[Callable[[int, np.random.Generator], Figure], float]] = {
    "person": (person, 0.5),
    "animal": (animal, 0.26),
    "car": (car, 0.2),
    "boat": (boat, 0.3),
    "bird": (bird, 0.14),
    "tower": (tower, 0.55),
}
