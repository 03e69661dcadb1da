"""First + last frame: a flow-guided morph between the two images' layer stacks.

Dense optical flow (OpenCV's DIS, Kroeger et al. 2016: coarse-to-fine, robust to large
displacements where Farneback fails) is measured both ways between the keyframes at a
reduced size. For a clip time with morph weight ``a``, the flows to each keyframe are
approximated from the two measured ones (the linear-motion approximation of Jiang et
al., "Super SloMo", 2018)::

    F(a->0) = -(1 - a) a F(0->1) + a^2 F(1->0)
    F(a->1) = (1 - a)^2 F(0->1) - a (1 - a) F(1->0)

each keyframe's layers are warped along their flow and the two are cross-faded
``(1 - a) : a``. At ``a = 0`` the warp is the identity and the weight of the last frame is
zero, so frame 0 is the first image's layers untouched; at ``a = 1`` likewise for the last
frame: both ends land exactly (up to 8-bit premultiplication).

Each keyframe is split into a background and a subject layer (:mod:`.imagescene`), so
the camera still gets parallax and effects still have a subject to animate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from .coverage import Extent
from .depth import DepthEstimator
from .imagescene import Decomposition, decompose
from .layers import SUBJECT_DEPTH, Image, Layer, Plane, Role, Scene, f32, opaque_rgba, premultiply, u8
from .motion import ease_in_out

Flow = npt.NDArray[np.float32]

#: Long side of the images the flow is measured on (speed; flow is smooth anyway).
FLOW_SIDE = 480
#: DIS quality preset: MEDIUM finds displacements of a fifth of the frame reliably.
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def dense_flow(a: Image, b: Image) -> tuple[Flow, Flow]:
    """Flow a->b and b->a at the images' size (pixels), measured at FLOW_SIDE."""
    h, w = a.shape[:2]
    scale = min(FLOW_SIDE / max(h, w), 1.0)
    size = (max(int(w * scale), 8), max(int(h * scale), 8))
    ga = cv2.cvtColor(cv2.resize(a, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(cv2.resize(b, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    flows = []
    for src, dst in ((ga, gb), (gb, ga)):
        # A fresh solver each way (it keeps state between calls), started from zero flow.
        start = np.zeros((*src.shape, 2), np.float32)
        flow = cv2.DISOpticalFlow.create(FLOW_PRESET).calc(src, dst, start)
        big = f32(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR))
        big[:, :, 0] *= w / size[0]
        big[:, :, 1] *= h / size[1]
        flows.append(big)
    return flows[0], flows[1]


def keyframe_layers(parts: Decomposition, plane: Plane) -> list[Layer]:
    """Full-frame layers (morphing needs both stacks pixel-aligned with the flow); both
    keyframes' backgrounds lie on the first one's ``plane`` so the geometry stays put."""
    return [
        Layer(opaque_rgba(parts.background), (0.0, 0.0), plane, Role.SCENERY, "background", opaque=True),
        Layer(
            premultiply(parts.image, parts.subject), (0.0, 0.0), Plane.fronto(SUBJECT_DEPTH), Role.SUBJECT, "subject"
        ),
    ]


class MorphSource:
    """Scene source whose layers travel from the first keyframe's to the last's.

    Also a scene draft (:mod:`.director`): the camera is aimed at the first keyframe's
    subject; no padding is painted (with both ends pinned the camera goes out and back).
    ``speed`` > 1 (fast motion) completes the morph early and holds the last frame.
    """

    def __init__(self, first: Image, last: Image, depth: DepthEstimator, speed: float = 1.0) -> None:
        h, w = first.shape[:2]
        self._size = (w, h)
        self._speed = speed
        start, end = decompose(first, depth, with_near=False), decompose(last, depth, with_near=False)
        self._stacks = (keyframe_layers(start, start.plane), keyframe_layers(end, start.plane))
        forward, backward = dense_flow(first, last)
        # Per-axis planes: remap takes separate x and y maps.
        self._f01 = (np.ascontiguousarray(forward[:, :, 0]), np.ascontiguousarray(forward[:, :, 1]))
        self._f10 = (np.ascontiguousarray(backward[:, :, 0]), np.ascontiguousarray(backward[:, :, 1]))
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self._grid = (grid_x, grid_y)

    @property
    def template(self) -> Scene:
        return Scene(list(self._stacks[0]), *self._size)

    def subject_scene(self) -> Scene:
        return self.template

    def ground(self) -> Plane | None:
        return None

    def realise(self, extent: Extent) -> Scene:
        return self.template

    def map_scenes(self, change: Callable[[Scene], Scene]) -> None:
        """Apply a scene change (an effect's subject split) to both keyframe stacks alike."""
        self._stacks = (
            change(Scene(list(self._stacks[0]), *self._size)).layers,
            change(Scene(list(self._stacks[1]), *self._size)).layers,
        )

    def weight(self, t: float) -> float:
        return ease_in_out(min(self._speed * t, 1.0))

    def _map(self, c01: float, c10: float) -> tuple[Flow, Flow]:
        """Sampling maps ``grid + c01 F(0->1) + c10 F(1->0)``, per axis."""
        return (
            f32(cv2.add(cv2.addWeighted(self._f01[0], c01, self._f10[0], c10, 0.0), self._grid[0])),
            f32(cv2.add(cv2.addWeighted(self._f01[1], c01, self._f10[1], c10, 0.0), self._grid[1])),
        )

    def layers_at(self, t: float) -> Sequence[Layer]:
        a = self.weight(t)
        if a <= 0.0:
            return self._stacks[0]
        if a >= 1.0:
            return self._stacks[1]
        to_first = self._map(-(1.0 - a) * a, a * a)
        to_last = self._map((1.0 - a) ** 2, -a * (1.0 - a))
        out: list[Layer] = []
        for first, last in zip(self._stacks[0], self._stacks[1], strict=True):
            border = cv2.BORDER_REPLICATE if first.opaque else cv2.BORDER_CONSTANT
            w0 = cv2.remap(first.rgba, *to_first, cv2.INTER_LINEAR, borderMode=border)
            w1 = cv2.remap(last.rgba, *to_last, cv2.INTER_LINEAR, borderMode=border)
            out.append(first.with_pixels(u8(cv2.addWeighted(w0, 1.0 - a, w1, a, 0.0))))
        return out
