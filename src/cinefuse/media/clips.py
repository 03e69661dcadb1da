"""A stored clip as the frames of a control video: what a remix or an edit of
``/v1/videos`` steers the new clip with (docs/openai.md, "Remix and edits").

``control_frames`` decodes the clip once and keeps ``count`` frames spread evenly over it
(the first and the last among them: the same rule as the neural engines' retiming), each
scaled down to at most ``max_side`` pixels on its longer side. The engine fits them to its
own grid; this only bounds the memory (121 frames of 720p: about 330 MB).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from cinefuse.media.frames import Frame
from cinefuse.media.probe import probe

#: A control video's frames are never kept larger than this (the engines' grids stop at 1280).
MAX_CONTROL_SIDE = 1280


def control_frames(path: Path, count: int, max_side: int = MAX_CONTROL_SIDE) -> tuple[Frame, ...]:
    """``count`` evenly spaced RGB frames of the clip at ``path`` (repeated where the clip has
    fewer). Raises ``ValueError`` for a file PyAV cannot read or a clip without frames."""
    if count <= 0:
        return ()
    try:
        total = probe(path).frame_count
    except Exception as exc:  # PyAV's own errors: not a video
        raise ValueError(f"not a readable video ({type(exc).__name__})") from None
    if total <= 0:
        raise ValueError("the video has no frames")
    wanted = [0] if count == 1 else [round(i * (total - 1) / (count - 1)) for i in range(count)]
    kept: dict[int, Frame] = {}
    targets = set(wanted)
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in targets:
                kept[index] = _bounded(frame.to_ndarray(format="rgb24"), max_side)
                if len(kept) == len(targets):
                    break
    if not kept:
        raise ValueError("the video has no frames")
    last = max(kept)
    return tuple(kept.get(i, kept[last]) for i in wanted)


def _bounded(pixels: np.ndarray, max_side: int) -> Frame:
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
