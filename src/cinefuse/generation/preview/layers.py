"""The layered 2.5D scene: planes in front of a virtual camera, each carrying an image.

Coordinates
-----------
*Canonical screen space* is the output frame as seen by the camera at rest (frame 0 of a
clip without camera motion): pixels, x right, y down, the frame spanning
``[0, width) x [0, height)``. A layer's image is placed in that space at ``origin`` (the
canonical position of its pixel (0, 0)), at one canonical pixel per layer pixel, and may
extend beyond the frame so that camera moves never run out of picture.

Each layer lies on a :class:`Plane` in the camera's frame at rest (``n . X = d``; world
units are arbitrary, the focal length in pixels is the frame width). Fronto-parallel planes
(``n = (0, 0, 1)``, ``d = depth``) are scenery and subjects; a tilted plane through the
horizon is a ground or water surface whose near part moves faster than its far part.

Pixels are premultiplied RGBA ``uint8``: compositing is then ``out = layer + out * (1 - a)``,
and bilinear resampling of premultiplied pixels is exact at soft edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

#: Depth standing in for infinity (sky): far enough that translations move it < 1 px.
SKY_DEPTH = 1.0e5
#: Depth of the main subject plane in world units; other depths are relative to it.
SUBJECT_DEPTH = 4.0


class Role(StrEnum):
    SKY = "sky"  # opaque, farthest; covers the whole frame
    SCENERY = "scenery"  # mountains, skylines, hills, image background layers
    GROUND = "ground"  # tilted ground or water plane
    SUBJECT = "subject"  # what effects animate and follow moves track
    FOREGROUND = "foreground"  # nearest dressing (grass, rocks)


@dataclass(frozen=True)
class Plane:
    """The plane ``normal . X = distance`` in the resting camera's coordinates."""

    normal: tuple[float, float, float]
    distance: float

    @staticmethod
    def fronto(depth: float) -> Plane:
        return Plane((0.0, 0.0, 1.0), depth)

    @staticmethod
    def ground(horizon_y: float, contact_y: float, contact_depth: float, height: int, focal: float) -> Plane:
        """A ground plane whose horizon is at canonical row ``horizon_y`` and whose row
        ``contact_y`` (below it) lies at ``contact_depth`` (e.g. where a subject stands)."""
        cy = height / 2.0
        slope = (horizon_y - cy) / focal
        norm = float(np.hypot(1.0, slope))
        normal = (0.0, 1.0 / norm, -slope / norm)
        distance = contact_depth * (contact_y - horizon_y) / focal / norm
        return Plane(normal, distance)

    @staticmethod
    def through_rows(
        top_y: float, top_depth: float, bottom_y: float, bottom_depth: float, height: int, focal: float
    ) -> Plane:
        """The plane, level from side to side, seen at depth ``top_depth`` on canonical row
        ``top_y`` and ``bottom_depth`` on row ``bottom_y`` (a receding background)."""
        cy = height / 2.0
        a = np.array([0.0, (top_y - cy) / focal * top_depth, top_depth])
        b = np.array([0.0, (bottom_y - cy) / focal * bottom_depth, bottom_depth])
        normal = np.cross(np.array([1.0, 0.0, 0.0]), b - a)
        normal /= np.linalg.norm(normal)
        if float(np.dot(normal, a)) < 0.0:  # orient so that the distance is positive
            normal = -normal
        return Plane((float(normal[0]), float(normal[1]), float(normal[2])), float(np.dot(normal, a)))

    def depth_at(self, x: float, y: float, width: int, height: int, focal: float) -> float:
        """Depth (camera z) of the plane point seen at canonical pixel (x, y)."""
        ray = np.array([(x - width / 2.0) / focal, (y - height / 2.0) / focal, 1.0])
        return float(self.distance / float(np.dot(self.normal, ray)))


@dataclass(eq=False)
class Layer:
    """One premultiplied RGBA image on a plane. ``opaque`` layers are drawn without blending.

    ``horizon`` (ground planes): the canonical row of the plane's vanishing line. Below it
    the layer continues past its image with its edge pixels (a camera close to the ground
    sees further than any painted extent); above it there is no ground to draw.
    Layers are treated as immutable once built: effects that repaint a subject make a new one.
    """

    rgba: Image
    origin: tuple[float, float]
    plane: Plane
    role: Role
    name: str
    opaque: bool = False
    horizon: float | None = None

    @cached_property
    def anchor(self) -> tuple[float, float, float, float]:
        """Canonical box ``(x0, y0, x1, y1)`` of the solid pixels (alpha >= 1/2): what the
        camera aims at and effects measure; soft shadows and feathering are left out."""
        return _visible_box(self.rgba, self.origin)

    def with_pixels(self, rgba: Image) -> Layer:
        """The same layer with repainted pixels (same size and placement)."""
        return Layer(rgba, self.origin, self.plane, self.role, self.name, self.opaque, self.horizon)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgba.shape[1], self.rgba.shape[0]

    def placed(self) -> Matrix:
        """Layer pixel -> canonical screen: a translation by ``origin``."""
        return translation(*self.origin)


#: Alpha from which a pixel counts as part of a layer's solid body (see Layer.anchor).
SOLID_ALPHA = 128


def _visible_box(rgba: Image, origin: tuple[float, float]) -> tuple[float, float, float, float]:
    alpha = rgba[:, :, 3]
    rows = np.flatnonzero(alpha.max(axis=1) >= SOLID_ALPHA)
    cols = np.flatnonzero(alpha.max(axis=0) >= SOLID_ALPHA)
    if rows.size == 0:
        return origin[0], origin[1], origin[0], origin[1]
    return (
        origin[0] + float(cols[0]),
        origin[1] + float(rows[0]),
        origin[0] + float(cols[-1] + 1),
        origin[1] + float(rows[-1] + 1),
    )


@dataclass
class Scene:
    """Layers back to front (index 0 is drawn first) plus the frame they were built for."""

    layers: list[Layer]
    width: int
    height: int

    @property
    def focal(self) -> float:
        return float(self.width)

    def subjects(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if layer.role is Role.SUBJECT]

    def subject_depth(self) -> float:
        """Depth the camera treats as "the subject" (orbits, dolly zoom, follows)."""
        idx = self.subjects()
        if not idx:
            return SUBJECT_DEPTH
        return float(np.mean([self.layer_depth(i) for i in idx]))

    def layer_depth(self, index: int) -> float:
        """Depth of a layer's plane at the centre of its visible box."""
        x0, y0, x1, y1 = self.layers[index].anchor
        return self.layers[index].plane.depth_at((x0 + x1) / 2.0, (y0 + y1) / 2.0, self.width, self.height, self.focal)

    def subject_box(self) -> tuple[float, float, float, float]:
        """Union of the subjects' canonical boxes; the frame centre third without subjects."""
        idx = self.subjects()
        if not idx:
            return self.width / 3.0, self.height / 3.0, 2.0 * self.width / 3.0, 2.0 * self.height / 3.0
        boxes = np.array([self.layers[i].anchor for i in idx])
        return (
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        )


def u8(array: object) -> Image:
    """``array`` as our 8-bit image type, without a copy when it already is one (OpenCV's
    stubs type every result as a generic array)."""
    return np.asarray(array, dtype=np.uint8)


def f32(array: object) -> FloatImage:
    """``array`` as a float32 image, without a copy when it already is one."""
    return np.asarray(array, dtype=np.float32)


def f64(array: object) -> Matrix:
    return np.asarray(array, dtype=np.float64)


def translation(dx: float, dy: float) -> Matrix:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def premultiply(rgb: Image, alpha: FloatImage) -> Image:
    """RGB ``uint8`` + alpha in ``[0, 1]`` -> premultiplied RGBA ``uint8``."""
    a = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    out = np.empty((*rgb.shape[:2], 4), np.uint8)
    out[:, :, :3] = np.rint(rgb.astype(np.float32) * a[:, :, None]).astype(np.uint8)
    out[:, :, 3] = np.rint(a * 255.0).astype(np.uint8)
    return out


def opaque_rgba(rgb: Image) -> Image:
    return u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA))


def crop_to_content(rgba: Image, origin: tuple[float, float], pad: int) -> tuple[Image, tuple[float, float]]:
    """Trim transparent borders, keeping ``pad`` transparent pixels around the content
    (room for effects that push pixels outwards)."""
    alpha = rgba[:, :, 3]
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    cols = np.flatnonzero(alpha.max(axis=0) > 0)
    if rows.size == 0:
        return rgba[:1, :1].copy(), origin
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    cropped = cv2.copyMakeBorder(rgba[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
    return u8(cropped), (origin[0] + x0 - pad, origin[1] + y0 - pad)
