"""An image as a layered scene: a background plane, near objects and the subject.

* The **subject** is cut out by :func:`.depth.foreground` and stands on its own plane.
* The **background** is not flat: a plane is fitted to the nearness map's vertical trend
  (the ground at the bottom of a photo is near, the horizon far), so its parallax varies
  continuously from bottom to top, as a real landscape's does, without tearing.
* **Near objects** are what the plane cannot explain: non-subject regions much nearer than
  the plane predicts for their row (with a depth network: a branch in the foreground;
  the cue-based estimate rarely finds any) get their own cut-out layer.

What nearer layers hide is filled in the background (inpainting at a small size), so the
camera can look behind them. Fill is only used where nearer layers are (almost) opaque, so
the layers composited at rest reproduce the image: frame 0 of a first-frame clip matches
it (PSNR well above 30 dB).

Outside the picture (zoom outs, pans) the background continues as a mirrored, defocused
and slightly darkened extension, painted only as far as the camera will look.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .coverage import Box, Extent
from .depth import DepthEstimator, foreground
from .layers import (
    SUBJECT_DEPTH,
    FloatImage,
    Image,
    Layer,
    Plane,
    Role,
    Scene,
    crop_to_content,
    f32,
    opaque_rgba,
    premultiply,
    u8,
)

#: Depth of a background without vertical depth trend (a wall, a backdrop).
BACKGROUND_DEPTH = 20.0
#: Depths of the background's bottom and top rows when nearness rises fully towards the
#: bottom (a landscape); intermediate trends interpolate from BACKGROUND_DEPTH. The ratio
#: is kept moderate: a tilted plane shears upright things (trees, walls) under sideways
#: moves, and a photo's uprights are more noticeable than its ground.
GROUND_NEAR_DEPTH = 11.0
GROUND_FAR_DEPTH = 36.0
#: Depth of near-object layers, and how much nearer than the background's fitted trend
#: (in nearness units, 0..1) a region must be to count as one.
NEAR_DEPTH = 6.0
NEAR_RESIDUAL = 0.3
NEAR_SOFTNESS = 0.06
#: Coverage range over which the background switches from the image to the fill (cut-outs
#: are grown past the subject's edge, so below FILL_END the image there is background).
FILL_START, FILL_END = 0.1, 0.6
#: Long side of the inpainting work image, and the inpainting radius there.
INPAINT_SIDE = 256
INPAINT_RADIUS = 6
#: Extension beyond the picture: blur (fraction of height) and darkening at full distance.
EXTENSION_BLUR = 0.04
EXTENSION_DARKEN = 0.12
#: Distance (fraction of height) over which the extension fades to fully defocused.
EXTENSION_FADE = 0.3
#: Transparent margin kept round cut-out layers (fraction of the frame height).
CUTOUT_MARGIN = 0.12
#: Cut-outs continued past the picture edge fade out over this fraction of the height.
CUTOUT_FADE = 0.08


def fit_image(image: Image, width: int, height: int) -> Image:
    """Resize a frame image to the output size (docs/api.md: the output takes the first image's
    aspect ratio, so this is at most a slight stretch)."""
    if image.shape[1] == width and image.shape[0] == height:
        return np.ascontiguousarray(image)
    shrinking = image.shape[1] > width or image.shape[0] > height
    return u8(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR))


def smoothstep(lo: float, hi: float, x: FloatImage) -> FloatImage:
    u = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return f32(u * u * (3.0 - 2.0 * u))


def inpaint(rgb: Image, hole: FloatImage) -> Image:
    """Fill ``hole`` (soft, >0.3 counts) from its surroundings, at a small size."""
    h, w = rgb.shape[:2]
    scale = min(INPAINT_SIDE / max(h, w), 1.0)
    size = (max(int(w * scale), 4), max(int(h * scale), 4))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    hard = u8(cv2.resize(hole, size, interpolation=cv2.INTER_LINEAR) > 0.3) * 255
    mask = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    filled = cv2.GaussianBlur(cv2.inpaint(small, mask, INPAINT_RADIUS, cv2.INPAINT_TELEA), (0, 0), 1.5)
    return u8(cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR))


@dataclass(frozen=True)
class Decomposition:
    """An image's layers at the image's own size."""

    background: Image  # RGB with hidden parts filled
    plane: Plane  # the background's plane
    near: FloatImage  # alpha of near objects (zero when there are none)
    subject: FloatImage  # alpha
    image: Image


def background_plane(near: FloatImage, subject: FloatImage) -> Plane:
    """Plane through the background's depth trend: the least-squares line of mean
    nearness per row (subject excluded) sets how much nearer the bottom row is than the top."""
    h, w = near.shape
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)
    weight = (subject < 0.5).sum(axis=1).astype(np.float32)
    profile = (near * (subject < 0.5)).sum(axis=1) / np.maximum(weight, 1.0)
    # Nothing but subject: there is no trend to read.
    slope = 0.0 if weight.sum() < w else float(np.polyfit(rows, profile, 1, w=np.sqrt(weight))[0])
    tilt = float(np.clip(slope, 0.0, 1.0))
    bottom = BACKGROUND_DEPTH + (GROUND_NEAR_DEPTH - BACKGROUND_DEPTH) * tilt
    top = BACKGROUND_DEPTH + (GROUND_FAR_DEPTH - BACKGROUND_DEPTH) * tilt
    return Plane.through_rows(0.0, top, float(h), bottom, h, float(w))


def _near_objects(near: FloatImage, subject: FloatImage, plane: Plane) -> FloatImage:
    h, w = near.shape
    rows = np.arange(h, dtype=np.float32) + 0.5
    depth = np.array([plane.depth_at(w / 2.0, float(y), w, h, float(w)) for y in rows], np.float32)
    # Nearness the plane predicts per row, on the same 0..1 scale (depth range mapped).
    predicted = np.clip((GROUND_FAR_DEPTH - depth) / (GROUND_FAR_DEPTH - GROUND_NEAR_DEPTH), 0.0, 1.0)
    residual = near - predicted[:, None]
    return smoothstep(NEAR_RESIDUAL - NEAR_SOFTNESS, NEAR_RESIDUAL + NEAR_SOFTNESS, residual) * (1.0 - subject)


def decompose(rgb: Image, depth: DepthEstimator, with_near: bool = True) -> Decomposition:
    subject = foreground(rgb).mask
    nearness = depth.nearness(rgb, subject)
    plane = background_plane(nearness, subject)
    near = _near_objects(nearness, subject, plane) if with_near else np.zeros_like(subject)
    coverage = f32(1.0 - (1.0 - near) * (1.0 - subject))
    fill = smoothstep(FILL_START, FILL_END, coverage)
    background = rgb.copy()
    if float(fill.max()) > 0.0:
        patch = inpaint(rgb, fill)
        f = fill[:, :, None]
        background = np.clip(rgb * (1.0 - f) + patch * f + 0.5, 0, 255).astype(np.uint8)
    return Decomposition(background, plane, near.astype(np.float32), subject, rgb)


def extend_background(rgb: Image, box: Box) -> tuple[Image, tuple[float, float]]:
    """Pad ``rgb`` (placed at the canonical origin) out to ``box``: mirrored, then blurred
    and darkened with distance from the picture so the seam does not draw the eye."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    left, top = max(-x0, 0), max(-y0, 0)
    right, bottom = max(x1 - w, 0), max(y1 - h, 0)
    if not (left or top or right or bottom):
        return rgb, (0.0, 0.0)
    # Reflection needs the pad smaller than the image; beyond that, replicate the edge.
    padded = cv2.copyMakeBorder(
        rgb, min(top, h - 1), min(bottom, h - 1), min(left, w - 1), min(right, w - 1), cv2.BORDER_REFLECT_101
    )
    padded = cv2.copyMakeBorder(
        padded,
        top - min(top, h - 1),
        bottom - min(bottom, h - 1),
        left - min(left, w - 1),
        right - min(right, w - 1),
        cv2.BORDER_REPLICATE,
    )
    ph, pw = padded.shape[:2]
    quarter = (max(pw // 4, 1), max(ph // 4, 1))
    blurred = cv2.resize(
        cv2.GaussianBlur(cv2.resize(padded, quarter, interpolation=cv2.INTER_AREA), (0, 0), EXTENSION_BLUR * h / 4.0),
        (pw, ph),
        interpolation=cv2.INTER_LINEAR,
    )
    xs = np.arange(pw, dtype=np.float32) - left
    ys = np.arange(ph, dtype=np.float32) - top
    dx = np.maximum(np.maximum(-xs, xs - (w - 1)), 0.0)
    dy = np.maximum(np.maximum(-ys, ys - (h - 1)), 0.0)
    dist = np.sqrt(dx[None, :] ** 2 + dy[:, None] ** 2)
    fade = np.clip(dist / (EXTENSION_FADE * h), 0.0, 1.0)[:, :, None]
    out = padded * (1.0 - fade) + blurred * fade * (1.0 - EXTENSION_DARKEN * fade)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), (float(-left), float(-top))


def _pad_cutout(rgba: Image, box: Box) -> tuple[Image, tuple[float, float]]:
    """Continue a cut-out layer past the picture edge by repeating its edge pixels, fading
    out over CUTOUT_FADE of the height (a subject cut by the frame's bottom edge does not
    end in a hard line when the camera rises, nor streak on forever)."""
    h, w = rgba.shape[:2]
    x0, y0, x1, y1 = box
    left, top = max(-x0, 0), max(-y0, 0)
    right, bottom = max(x1 - w, 0), max(y1 - h, 0)
    if not (left or top or right or bottom):
        return rgba, (0.0, 0.0)
    padded = cv2.copyMakeBorder(rgba, top, bottom, left, right, cv2.BORDER_REPLICATE)
    xs = np.arange(padded.shape[1], dtype=np.float32) - left
    ys = np.arange(padded.shape[0], dtype=np.float32) - top
    dx = np.maximum(np.maximum(-xs, xs - (w - 1)), 0.0)
    dy = np.maximum(np.maximum(-ys, ys - (h - 1)), 0.0)
    fade = np.clip(1.0 - np.maximum(dx[None, :], dy[:, None]) / (CUTOUT_FADE * h), 0.0, 1.0)
    out = np.clip(padded * fade[:, :, None] + 0.5, 0, 255).astype(np.uint8)
    return out, (float(-left), float(-top))


def image_layers(parts: Decomposition, extent: Extent | None) -> list[Layer]:
    """Layers of a decomposition; ``extent`` (optional) pads them for the camera's view."""
    near_plane = Plane.fronto(NEAR_DEPTH)
    subject_plane = Plane.fronto(SUBJECT_DEPTH)
    bg_rgb, bg_origin = parts.background, (0.0, 0.0)
    near_rgba = premultiply(parts.image, parts.near)
    subj_rgba = premultiply(parts.image, parts.subject)
    near_origin = subj_origin = (0.0, 0.0)
    if extent is not None:
        bg_rgb, bg_origin = extend_background(parts.background, extent(parts.plane, None))
        near_rgba, near_origin = _pad_cutout(near_rgba, extent(near_plane, None))
        subj_rgba, subj_origin = _pad_cutout(subj_rgba, extent(subject_plane, None))
    # Cut-outs are trimmed to their content (compositing cost follows the box), keeping a
    # transparent margin for effects that push pixels outwards.
    pad = int(CUTOUT_MARGIN * parts.image.shape[0])
    near_rgba, near_origin = crop_to_content(near_rgba, near_origin, pad)
    subj_rgba, subj_origin = crop_to_content(subj_rgba, subj_origin, pad)
    layers = [Layer(opaque_rgba(bg_rgb), bg_origin, parts.plane, Role.SCENERY, "background", opaque=True)]
    if float(parts.near.max()) > 0.0:
        layers.append(Layer(near_rgba, near_origin, near_plane, Role.SCENERY, "near"))
    layers.append(Layer(subj_rgba, subj_origin, subject_plane, Role.SUBJECT, "subject"))
    return layers


class ImageDraft:
    """A first (or last) frame image as a :class:`SceneDraft` (see :mod:`.director`)."""

    def __init__(self, rgb: Image, depth: DepthEstimator) -> None:
        self._parts = decompose(rgb, depth)
        self._size = (rgb.shape[1], rgb.shape[0])

    def subject_scene(self) -> Scene:
        return Scene(image_layers(self._parts, None), *self._size)

    def ground(self) -> Plane | None:
        return None

    def realise(self, extent: Extent) -> Scene:
        return Scene(image_layers(self._parts, extent), *self._size)
