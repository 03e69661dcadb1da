"""How much of a plane a camera track will see: the canonical box a layer must cover.

Scenery is painted (or an image background padded) over exactly this box, so a zoom out
or a whip pan never runs off the edge of the picture, and a still camera costs no margin.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .camera import CameraTrack, Rig, homography
from .layers import Plane

Box = tuple[int, int, int, int]
#: Canonical box a layer on a plane must cover; the ``float | None`` is a ground horizon.
Extent = Callable[[Plane, float | None], Box]

#: Clip times sampled along the track (paths are smooth; the box gets a margin anyway).
TIME_SAMPLES = 25
#: Points sampled along each edge of the output frame.
EDGE_SAMPLES = 9
#: Extra margin on each side, as a fraction of the frame: room for effect shakes and
#: the interpolation between sampled times.
MARGIN = 0.05
#: Never paint more than this many frame sizes beyond each side (memory bound).
MAX_OVERSCAN = 1.0
#: Homogeneous w below this: the screen point does not see the plane (above a horizon).
W_EPS = 1e-6


def _frame_border(width: int, height: int) -> np.ndarray:
    s = np.linspace(0.0, 1.0, EDGE_SAMPLES)
    xs = np.concatenate([s * width, s * width, np.zeros_like(s), np.full_like(s, width)])
    ys = np.concatenate([np.zeros_like(s), np.full_like(s, height), s * height, s * height])
    return np.stack([xs, ys, np.ones_like(xs)])


def needed_box(track: CameraTrack, plane: Plane, rig: Rig, horizon: float | None = None) -> Box:
    """Canonical box of ``plane`` seen during ``track`` (plus the resting frame).

    ``horizon`` (ground planes): screen points that land above it see sky, not ground.
    """
    w, h = rig.width, rig.height
    border = _frame_border(w, h)
    xs: list[float] = [0.0, float(w)]
    ys: list[float] = [0.0, float(h)]
    for t in np.linspace(0.0, 1.0, TIME_SAMPLES):
        matrix = homography(track.shot(float(t)).pose, plane, w, h, rig.focal)
        q = np.linalg.inv(matrix) @ border
        ok = q[2] > W_EPS
        px, py = q[0, ok] / q[2, ok], q[1, ok] / q[2, ok]
        if horizon is not None:
            keep = py >= horizon
            px, py = px[keep], py[keep]
        xs.extend(px.tolist())
        ys.extend(py.tolist())
    mx, my = MARGIN * w, MARGIN * h
    x0 = max(min(xs) - mx, -MAX_OVERSCAN * w)
    x1 = min(max(xs) + mx, (1.0 + MAX_OVERSCAN) * w)
    y0 = max(min(ys) - my, -MAX_OVERSCAN * h)
    y1 = min(max(ys) + my, (1.0 + MAX_OVERSCAN) * h)
    return int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))
