"""Helpers for the preview engine tests: rendering, optical flow, image metrics.

Claims are measured on rendered frames. Small frames (640x360, the API's smallest 16:9
size) and short clips keep the whole module fast. (Imported by the test modules of this
directory; pytest puts it on sys.path as the directory has no __init__.py.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview import PreviewEngine

Frame = npt.NDArray[np.uint8]
Flow = npt.NDArray[np.float32]

WIDTH, HEIGHT = 640, 360
#: How far the scene of the ``other_photo`` fixture is shifted right (pixels).
SHIFT = WIDTH // 10


def base_request(**changes: Any) -> GenerationRequest:
    request = GenerationRequest(
        prompt="a man standing in a meadow with mountains and a forest",
        width=WIDTH,
        height=HEIGHT,
        fps=16,
        num_frames=17,
        seed=7,
    )
    return replace(request, **changes)


def render_frames(request: GenerationRequest) -> list[Frame]:
    return list(PreviewEngine().generate(request))


def synthetic_photo(width: int, height: int, seed: int = 0) -> Frame:
    """A photo stand-in with texture everywhere (so optical flow can be measured): a sky
    gradient, textured ground, and a saturated textured figure in the middle."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    sky = np.array([70, 120, 200], np.float32) * (1 - ys) + np.array([200, 210, 225], np.float32) * ys
    img = np.ascontiguousarray(np.broadcast_to(sky.reshape(height, 1, 3), (height, width, 3)), dtype=np.float32)
    texture = np.zeros((height, width), np.float32)
    for scale in (4, 8, 16, 32):
        small = rng.random((height // scale + 2, width // scale + 2)).astype(np.float32)
        layer = np.asarray(cv2.resize(small, (width + 2 * scale, height + 2 * scale)), np.float32)
        texture += layer[scale : scale + height, scale : scale + width] / 4.0
    img += (texture[:, :, None] - 0.5) * 70.0
    horizon = int(height * 0.55)
    ground = np.array([90, 130, 60], np.float32) + (texture[horizon:, :, None] - 0.5) * 90.0
    img[horizon:] = ground
    cx, cy = width // 2, int(height * 0.58)
    body = np.zeros((height, width), np.uint8)
    cv2.ellipse(body, (cx, cy), (int(width * 0.07), int(height * 0.26)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.circle(body, (cx, cy - int(height * 0.31)), int(height * 0.075), 255, -1, cv2.LINE_AA)
    alpha = (body.astype(np.float32) / 255.0)[:, :, None]
    figure = np.array([220, 40, 60], np.float32) + (texture[:, :, None] - 0.5) * 60.0
    img = img * (1 - alpha) + figure * alpha
    return np.asarray(np.clip(img, 0, 255), np.uint8)


def dense_flow(a: Frame, b: Frame) -> Flow:
    """Farneback flow a -> b (pixels), as the optical-flow claims are measured."""
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    start = np.zeros((*ga.shape, 2), np.float32)
    flow = cv2.calcOpticalFlowFarneback(ga, gb, start, 0.5, 4, 21, 4, 7, 1.5, cv2.OPTFLOW_FARNEBACK_GAUSSIAN)
    return np.asarray(flow, np.float32)


def radial_flow(
    flow: Flow, mask: npt.NDArray[np.bool_] | None = None, centre: tuple[float, float] | None = None
) -> float:
    """Mean flow component pointing away from ``centre`` (default: frame centre)."""
    h, w = flow.shape[:2]
    cx, cy = centre if centre is not None else (w / 2.0, h / 2.0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    r = np.hypot(dx, dy) + 1e-6
    radial = (flow[:, :, 0] * dx + flow[:, :, 1] * dy) / r
    keep = r > 0.12 * h if mask is None else mask
    return float(radial[keep].mean())


def psnr(a: Frame, b: Frame) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def resized(image: Frame, width: int, height: int) -> Frame:
    return np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def cutout_subject(colour: tuple[int, int, int], seed: int) -> Frame:
    """A reference image: one coloured figure on a plain studio backdrop."""
    noise = np.random.default_rng(seed).integers(-6, 7, (420, 300, 3))
    image = np.asarray(np.clip(235 + noise, 0, 255), np.uint8)
    cv2.ellipse(image, (150, 250), (60, 140), 0, 0, 360, colour, -1, cv2.LINE_AA)
    cv2.circle(image, (150, 80), 45, colour, -1, cv2.LINE_AA)
    return image


def colour_centre(frame: Frame, colour: tuple[int, int, int]) -> tuple[float, float] | None:
    """Centroid of the pixels within 30 levels of ``colour`` (None if there are few)."""
    close = np.abs(frame.astype(np.int16) - np.array(colour)).max(axis=2) < 30
    if close.sum() < 200:
        return None
    ys, xs = np.nonzero(close)
    return float(xs.mean()), float(ys.mean())


#: Colours of the reference figures.
RED, BLUE, YELLOW = (210, 30, 40), (30, 60, 210), (230, 200, 20)
