"""Compositing: layers warped through their homographies, blended back to front.

This is the per-frame hot loop, so it works on preallocated buffers and only inside each
layer's on-screen bounding box: a subject silhouette costs what its box costs, not a frame.
All pixel work is done by OpenCV (SIMD, multi-threaded, releases the GIL).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .layers import Image, Layer, Matrix, u8

#: Below this on-screen scale a layer is sampled from its half-size copy (avoids aliasing
#: when a zoom or dolly shrinks it: bilinear sampling only looks at 2x2 pixels).
MIP_SCALE = 0.6
#: Half-size copies kept at most (a scene has a handful of static layers).
MIP_CACHE_SIZE = 16
#: Perspective terms smaller than this are treated as zero (warpAffine is ~1.5x cheaper).
AFFINE_EPS = 1e-12
#: Canonical rows below a ground's vanishing line where its screen horizon is measured
#: (exactly on the line, points are at infinity).
HORIZON_NUDGE = 0.5
#: Points with a homogeneous w below this are behind the camera: fall back to the full frame.
W_EPS = 1e-6


def _corners(width: int, height: int) -> np.ndarray:
    return np.array([[0.0, width, 0.0, width], [0.0, 0.0, height, height], [1.0, 1.0, 1.0, 1.0]])


def screen_box(matrix: Matrix, size: tuple[int, int], frame: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer box ``(x0, y0, x1, y1)`` of a layer's image on screen, clipped; None if off."""
    pts = matrix @ _corners(*size)
    fw, fh = frame
    if np.any(pts[2] < W_EPS):
        return 0, 0, fw, fh
    xs, ys = pts[0] / pts[2], pts[1] / pts[2]
    x0 = max(int(np.floor(xs.min())) - 1, 0)
    y0 = max(int(np.floor(ys.min())) - 1, 0)
    x1 = min(int(np.ceil(xs.max())) + 1, fw)
    y1 = min(int(np.ceil(ys.max())) + 1, fh)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def local_scale(matrix: Matrix, size: tuple[int, int]) -> float:
    """Linear magnification of ``matrix`` at the centre of a layer image."""
    cx, cy = size[0] / 2.0, size[1] / 2.0
    p = matrix @ np.array([cx, cy, 1.0])
    w = p[2]
    jac = (matrix[:2, :2] * w - np.outer(p[:2], matrix[2, :2])) / (w * w)
    return float(np.sqrt(abs(np.linalg.det(jac))))


class MipCache:
    """Half-size copies of layer images, made on first use.

    Entries hold their source array, so an id cannot be reused while cached; the cache is
    bounded because repainted (effects) and morphing layers are new arrays every frame.
    """

    def __init__(self) -> None:
        self._halves: dict[int, tuple[Image, Image]] = {}

    def half(self, layer: Layer) -> Image:
        key = id(layer.rgba)
        cached = self._halves.get(key)
        if cached is None or cached[0] is not layer.rgba:
            if len(self._halves) >= MIP_CACHE_SIZE:
                del self._halves[next(iter(self._halves))]  # oldest first
            cached = (layer.rgba, u8(cv2.pyrDown(layer.rgba)))
            self._halves[key] = cached
        return cached[1]


#: Half-size pixel u' sits at full-size pixel 2u' (pyrDown's Gaussian is centred there).
_HALF_TO_FULL = np.diag([2.0, 2.0, 1.0])


class Compositor:
    """Renders ``(width, height)`` RGB frames from layers and layer->screen matrices.

    Not thread-safe (buffers are reused); :meth:`render` returns a new array each call, so
    frames already handed out are never overwritten.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._canvas = np.zeros((height, width, 4), np.uint8)
        self._warped = np.empty((height, width, 4), np.uint8)
        self._inverse = np.empty((height, width, 4), np.uint8)
        self._mips = MipCache()

    def render(self, layers: Sequence[Layer], matrices: Sequence[Matrix]) -> Image:
        """Draw ``layers`` (back to front) with ``matrices`` (layer pixel -> output pixel)."""
        self._canvas[:] = 0
        for layer, matrix in zip(layers, matrices, strict=True):
            self._draw(layer, matrix)
        return u8(cv2.cvtColor(self._canvas, cv2.COLOR_RGBA2RGB))

    def _draw(self, layer: Layer, matrix: Matrix) -> None:
        box = screen_box(matrix, layer.size, (self.width, self.height))
        if layer.opaque:
            box = (0, 0, self.width, self.height)  # the backdrop continues past its edges
        elif box is None:
            return
        elif layer.horizon is not None:
            # A ground plane continues sideways and towards the camera, not above its horizon.
            box = (0, horizon_row(layer, matrix, self.width, self.height), self.width, self.height)
        source = layer.rgba
        # Ground planes are left out: their scale varies from near to far across the layer.
        if layer.horizon is None and min(layer.size) > 2 and local_scale(matrix, layer.size) < MIP_SCALE:
            source = self._mips.half(layer)
            matrix = matrix @ _HALF_TO_FULL
        x0, y0, x1, y1 = box
        local = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]]) @ matrix
        target = self._canvas[y0:y1, x0:x1] if layer.opaque else self._warped[y0:y1, x0:x1]
        # Opaque layers are the backdrop: replicate their edge rather than show black.
        border = cv2.BORDER_REPLICATE if layer.opaque or layer.horizon is not None else cv2.BORDER_CONSTANT
        dsize = (x1 - x0, y1 - y0)
        if abs(local[2, 0]) < AFFINE_EPS and abs(local[2, 1]) < AFFINE_EPS:
            cv2.warpAffine(
                source, local[:2] / local[2, 2], dsize, dst=target, flags=cv2.INTER_LINEAR, borderMode=border
            )
        else:
            cv2.warpPerspective(source, local, dsize, dst=target, flags=cv2.INTER_LINEAR, borderMode=border)
        if not layer.opaque:
            blend_premultiplied(self._canvas[y0:y1, x0:x1], target, self._inverse[y0:y1, x0:x1])


def horizon_row(layer: Layer, matrix: Matrix, width: int, height: int) -> int:
    """Top screen row of a ground layer: its vanishing line, where it crosses the frame.

    Screen points above it look at the sky; mapped back onto the plane they land behind
    the camera (homogeneous w < 0), where the warp would paint a mirrored ground.
    """
    assert layer.horizon is not None
    y = layer.horizon + HORIZON_NUDGE - layer.origin[1]
    ends = []
    for x in (-layer.origin[0], width - layer.origin[0]):
        p = matrix @ np.array([x, y, 1.0])
        if p[2] <= W_EPS:
            return 0
        ends.append((p[0] / p[2], p[1] / p[2]))
    (xa, ya), (xb, yb) = ends
    if abs(xb - xa) < 1e-9:
        return 0
    # The screen horizon is a straight line: its highest point in the frame is at an edge.
    slope = (yb - ya) / (xb - xa)
    top = min(ya + slope * (0.0 - xa), ya + slope * (width - xa))
    return int(np.clip(np.floor(top) - 1, 0, height))


def blend_premultiplied(canvas: Image, layer: Image, scratch: Image) -> None:
    """``canvas = layer + canvas * (255 - alpha) / 255`` in place, all ``uint8`` RGBA views.

    ``scratch`` receives ``255 - alpha`` in the colour channels (its alpha channel becomes
    0, so the canvas alpha is not meaningful; frames are read as RGB only).
    """
    cv2.cvtColor(layer[:, :, 3], cv2.COLOR_GRAY2RGBA, dst=scratch)
    cv2.bitwise_not(scratch, dst=scratch)
    cv2.multiply(canvas, scratch, dst=canvas, scale=1.0 / 255.0)
    cv2.add(canvas, layer, dst=canvas)
