"""From the requested clip to a model's native grid and back.

Models generate at sizes and lengths of their own grid: Wan 2.2 TI2V sides in multiples of
32 and 4k+1 frames at 24 fps; Wan 2.1 sides in multiples of 16 and 4k+1 frames at 16 fps;
LTX-Video sides in multiples of 32 and 8k+1 frames. A clip is generated on the smallest
grid that covers the request (each side rounded up, as many frames as the duration takes
at the model's own frame rate), then centre-cropped to the exact requested size and
resampled in time to exactly ``duration x fps`` frames, first and last frames matched. Input
images are cover-resized to the grid, so their centre is where the output's centre is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from cinefuse.media.frames import Frame


@dataclass(frozen=True)
class GridRule:
    """A model family's grid: side multiple, frames = ``frame_step * k + 1``, native fps."""

    side_multiple: int
    frame_step: int
    fps: int
    min_frames: int = 1


WAN22_GRID = GridRule(side_multiple=32, frame_step=4, fps=24)
WAN21_GRID = GridRule(side_multiple=16, frame_step=4, fps=16, min_frames=5)
LTX_GRID = GridRule(side_multiple=32, frame_step=8, fps=24)


@dataclass(frozen=True)
class GridPlan:
    """The native clip (``width`` x ``height`` x ``frames`` at ``fps``) for an output of
    ``out_width`` x ``out_height`` x ``out_frames`` at ``out_fps``."""

    width: int
    height: int
    frames: int
    fps: int
    out_width: int
    out_height: int
    out_frames: int
    out_fps: int

    def source_index(self, out_index: int) -> int:
        """The native frame shown as output frame ``out_index``: nearest in time, with the
        first and last frames of both clips matched, so keyframes land exactly (the native
        clip covers the duration on a grid, so this stretches time by a few percent at most)."""
        if self.out_frames == 1:
            return 0
        return round(out_index * (self.frames - 1) / (self.out_frames - 1))


def plan_grid(rule: GridRule, width: int, height: int, num_frames: int, fps: int) -> GridPlan:
    grid_w = math.ceil(width / rule.side_multiple) * rule.side_multiple
    grid_h = math.ceil(height / rule.side_multiple) * rule.side_multiple
    # The last output frame sits at (num_frames - 1) / fps seconds: cover it.
    needed = max(rule.min_frames, math.ceil((num_frames - 1) * rule.fps / fps) + 1)
    frames = math.ceil((needed - 1) / rule.frame_step) * rule.frame_step + 1
    return GridPlan(grid_w, grid_h, frames, rule.fps, width, height, num_frames, fps)


def cover(image: Frame, width: int, height: int) -> Frame:
    """``image`` scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = np.asarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def crop_center(frame: Frame, width: int, height: int) -> Frame:
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    if w >= width and h >= height:
        top, left = (h - height) // 2, (w - width) // 2
        return np.ascontiguousarray(frame[top : top + height, left : left + width])
    return cover(frame, width, height)


def retime(plan: GridPlan, native: Iterable[Frame]) -> Iterator[Frame]:
    """Exactly ``plan.out_frames`` frames of the output size from the native frames, in
    order, holding at most one native frame: each output frame is the native frame
    nearest its time."""
    wanted = [plan.source_index(i) for i in range(plan.out_frames)]
    position = 0
    for index, frame in enumerate(native):
        while position < len(wanted) and wanted[position] == index:
            yield crop_center(frame, plan.out_width, plan.out_height)
            position += 1
        if position == len(wanted):
            return
    if position < len(wanted):
        raise RuntimeError(f"the model produced too few frames: {position} of {len(wanted)}")
