"""Cheap scene understanding for images: where the subject is and what is near.

* :func:`foreground` separates the main subject with no learned model: colours that are
  rare on the image border (a background colour model), centre-surround contrast
  (saliency) and a centre prior, thresholded by Otsu's method, cleaned up, feathered.
* :class:`DepthEstimator` gives a *nearness* map (1 near, 0 far): by default from cues
  (lower in the frame is nearer on a ground plane; sharp texture is in focus, hence near;
  the subject is near), or from a monocular depth network (ONNX, MiDaS-small input
  layout) when its weights are present locally.

Everything runs at a small analysis size and is enlarged: these are soft, low-frequency
estimates and cost a few milliseconds per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from .layers import FloatImage, Image, f32, u8

#: Long side of the analysis image.
ANALYSIS_SIDE = 192
#: Width of the border strip whose colours model the background (fraction of the side).
BORDER = 0.07
#: Lab histogram bins per channel for the border colour model.
COLOUR_BINS = 10
#: Feathering of the cut-out edge at output size, in output pixels.
FEATHER = 1.5
#: The cut-out is grown by this fraction of the image height before feathering.
MASK_GROW = 0.005
#: A foreground smaller than this fraction of the image is not trusted (replaced by a
#: centred ellipse: the framing prior of a portrait).
MIN_AREA = 0.015
MAX_AREA = 0.8
#: Boundary refinement: long side of the work image, half-width of the uncertain band
#: round the coarse boundary (fraction of the side), colour bins per Lab channel.
REFINE_SIDE = 480
REFINE_BAND = 0.025
REFINE_BINS = 16
#: Weight factor per frame side (left, right, top) a foreground component touches.
SIDE_PENALTY = 0.25
#: Input size of the optional depth network (MiDaS small takes 256 x 256).
DEPTH_NET_SIDE = 256
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Foreground:
    mask: FloatImage  # soft alpha in [0, 1] at the image's size
    confidence: float  # contrast of the score between inside and outside, ~0..1


def _small(rgb: Image) -> Image:
    h, w = rgb.shape[:2]
    scale = ANALYSIS_SIDE / max(h, w)
    size = (max(round(w * scale), 8), max(round(h * scale), 8))
    return u8(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def _normalise(a: FloatImage) -> FloatImage:
    lo, hi = float(a.min()), float(np.percentile(a, 99.0))
    return f32(np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, 1.0))


def _border_rarity(lab: FloatImage) -> FloatImage:
    """How unlike the border's colours each pixel is (1: colour never seen on the border)."""
    h, w = lab.shape[:2]
    bw, bh = max(int(w * BORDER), 1), max(int(h * BORDER), 1)
    ring = np.ones((h, w), bool)
    ring[bh : h - bh, bw : w - bw] = False
    ranges = np.array([[0.0, 100.0], [-90.0, 90.0], [-90.0, 90.0]], np.float32)
    bins = np.clip(
        ((lab - ranges[:, 0]) / (ranges[:, 1] - ranges[:, 0]) * COLOUR_BINS).astype(np.int32), 0, COLOUR_BINS - 1
    )
    index = (bins[:, :, 0] * COLOUR_BINS + bins[:, :, 1]) * COLOUR_BINS + bins[:, :, 2]
    hist = np.bincount(index[ring], minlength=COLOUR_BINS**3).astype(np.float32)
    # Neighbouring bins share evidence: colours drift slightly across a background.
    cube = cv2.GaussianBlur(hist.reshape(COLOUR_BINS, COLOUR_BINS * COLOUR_BINS), (3, 3), 0)
    hist = f32(cube).reshape(-1) / max(float(cube.max()), 1e-6)
    return f32(1.0 - np.sqrt(hist[index]))


def _centre_prior(h: int, w: int) -> FloatImage:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return f32(np.exp(-(((xs / w - 0.5) / 0.32) ** 2 + ((ys / h - 0.55) / 0.4) ** 2) / 2.0))


def _subject_component(binary: Image, score: Image) -> Image:
    """The component most like a subject: salient, large, and not spanning the frame.

    Subjects may rest on the bottom edge (portraits) but rarely touch the sides or the top;
    a band reaching from side to side (a tree line, a horizon) is scenery.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return binary
    _h, w = binary.shape
    best, best_value = 1, -1.0
    for k in range(1, count):
        x, y, cw, _ch, area = (int(v) for v in stats[k, :5])
        sides = (x == 0) + (x + cw == w) + (y == 0)
        value = float(score[labels == k].mean()) * math.sqrt(area) * SIDE_PENALTY**sides
        if value > best_value:
            best, best_value = k, value
    out = (labels == best).astype(np.uint8) * 255
    # Fill holes: whatever the border cannot reach through background is inside.
    flood = cv2.bitwise_not(out)
    cv2.floodFill(flood, None, (0, 0), 0)  # type: ignore[call-overload]
    return u8(cv2.bitwise_or(out, flood))


def _fallback_ellipse(h: int, w: int) -> Image:
    out = np.zeros((h, w), np.uint8)
    cv2.ellipse(out, (w // 2, int(h * 0.58)), (int(w * 0.2), int(h * 0.36)), 0, 0, 360, 255, -1)
    return out


def foreground(rgb: Image) -> Foreground:
    """Estimate the main subject's soft mask (see the module docstring)."""
    small = _small(rgb)
    h, w = small.shape[:2]
    lab = f32(cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))
    rarity = _border_rarity(lab)
    surround = cv2.GaussianBlur(lab, (0, 0), max(h, w) * 0.18)
    saliency = _normalise(np.linalg.norm(lab - surround, axis=2).astype(np.float32))
    score = (0.6 * rarity + 0.4 * saliency) * (0.3 + 0.7 * _centre_prior(h, w))
    score8 = u8(_normalise(f32(cv2.GaussianBlur(score, (0, 0), 1.5))) * 255.0)
    _, otsu = cv2.threshold(score8, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    opened = cv2.morphologyEx(otsu, cv2.MORPH_OPEN, kernel)
    binary = _subject_component(u8(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel)), score8)
    area = float(np.count_nonzero(binary)) / binary.size
    if not MIN_AREA <= area <= MAX_AREA:
        binary = _fallback_ellipse(h, w)
    inside = binary > 0
    confidence = (
        float(score8[inside].mean() - score8[~inside].mean()) / 255.0 if inside.any() and (~inside).any() else 0.0
    )
    refined = _refine(rgb, binary)
    big = f32(cv2.resize(refined, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR))
    # Re-sharpen the enlarged edge and grow it a little: the cut-out then carries the
    # subject's whole anti-aliased edge (no dark ghost outline left on the background when
    # it moves), at the price of a faint rim of background colour. Then feather.
    big = np.clip((big - 0.5) * 3.0 + 0.5, 0.0, 1.0)
    grow = max(round(rgb.shape[0] * MASK_GROW), 1)
    grown = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return Foreground(f32(cv2.GaussianBlur(grown, (0, 0), FEATHER)), confidence)


def _colour_index(lab: FloatImage) -> npt.NDArray[np.int32]:
    ranges = np.array([[0.0, 100.0], [-90.0, 90.0], [-90.0, 90.0]], np.float32)
    bins = np.clip(
        ((lab - ranges[:, 0]) / (ranges[:, 1] - ranges[:, 0]) * REFINE_BINS).astype(np.int32), 0, REFINE_BINS - 1
    )
    return np.asarray((bins[:, :, 0] * REFINE_BINS + bins[:, :, 1]) * REFINE_BINS + bins[:, :, 2], np.int32)


def _refine(rgb: Image, coarse: Image) -> FloatImage:
    """Sharpen the coarse mask's boundary at REFINE_SIDE with colour models of its sure
    inside and sure outside (thin parts like ears, legs and tails come back)."""
    h, w = rgb.shape[:2]
    scale = min(REFINE_SIDE / max(h, w), 1.0)
    size = (max(round(w * scale), 8), max(round(h * scale), 8))
    work = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR) > 127
    band = max(int(max(size) * REFINE_BAND), 2)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m8 = mask.astype(np.uint8)
    sure_in = cv2.erode(m8, kernel) > 0
    sure_out = cv2.dilate(m8, kernel) == 0
    if not sure_in.any() or not sure_out.any():
        return f32(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0))
    index = _colour_index(f32(cv2.cvtColor(work.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)))
    p_in = np.bincount(index[sure_in], minlength=REFINE_BINS**3).astype(np.float32) / sure_in.sum()
    p_out = np.bincount(index[sure_out], minlength=REFINE_BINS**3).astype(np.float32) / sure_out.sum()
    posterior = f32(cv2.GaussianBlur(f32((p_in[index] + 1e-4) / (p_in[index] + p_out[index] + 2e-4)), (0, 0), 1.0))
    unknown = ~sure_in & ~sure_out
    out = mask.astype(np.float32)
    out[unknown] = (posterior[unknown] > 0.5).astype(np.float32)
    # Keep what touches the subject: colour look-alikes elsewhere in the band are dropped.
    out8 = _subject_component(u8(out * 255), u8(mask * 255))
    return f32(cv2.GaussianBlur(out8.astype(np.float32) / 255.0, (0, 0), 0.7))


class DepthEstimator:
    """Nearness maps for images; uses the network at ``model_path`` when that file exists."""

    def __init__(self, model_path: Path | None = None) -> None:
        self._path = model_path if model_path is not None and model_path.is_file() else None
        self._net: Any = None

    @property
    def uses_model(self) -> bool:
        return self._path is not None

    def nearness(self, rgb: Image, subject: FloatImage) -> FloatImage:
        """1 = near, 0 = far, at the image's size; the subject is always near."""
        small = self._from_model(rgb) if self._path is not None else _from_cues(rgb)
        near = f32(cv2.resize(small, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR))
        return f32(np.maximum(near, subject))

    def _from_model(self, rgb: Image) -> FloatImage:
        if self._net is None:
            self._net = cv2.dnn.readNet(str(self._path))
        x = f32(cv2.resize(rgb, (DEPTH_NET_SIDE, DEPTH_NET_SIDE), interpolation=cv2.INTER_AREA))
        x = f32((x / 255.0 - np.array(_IMAGENET_MEAN, np.float32)) / np.array(_IMAGENET_STD, np.float32))
        self._net.setInput(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
        out = np.asarray(self._net.forward(), np.float32).reshape(DEPTH_NET_SIDE, DEPTH_NET_SIDE)
        # MiDaS predicts inverse relative depth: larger is nearer, which is our convention.
        return _normalise(out)


def _from_cues(rgb: Image) -> FloatImage:
    small = _small(rgb)
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # In-focus texture: local Laplacian energy (defocused backgrounds have little).
    sharp = _normalise(f32(cv2.GaussianBlur(np.abs(cv2.Laplacian(gray, cv2.CV_32F)), (0, 0), max(h, w) * 0.03)))
    vertical = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None] ** 1.3 * np.ones((1, w), np.float32)
    # Position dominates: sharpness also marks detailed far things (a tree line), so it
    # only nudges.
    near = 0.8 * vertical + 0.2 * sharp
    return f32(cv2.GaussianBlur(near, (0, 0), max(h, w) * 0.04))
