"""Clips joined end to end, and the frame an extension starts from.

An extension (``POST /v1/videos/extensions``) renders a new clip whose first frame is the
source clip's last; the video the client gets is the whole: the source, then the new clip
without its first frame (the same picture as the source's last). ``stitch`` decodes both and
encodes one MP4 frame by frame, so memory stays at a few frames whatever the lengths.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from cinefuse.media.probe import probe
from cinefuse.media.video import EncodedVideo, encode_frames

Frame = npt.NDArray[np.uint8]


def _frames(path: Path) -> Iterator[Frame]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def clip_info(path: Path) -> tuple[int, int, float, int]:
    """(width, height, frames per second, frame count) of a clip; ``ValueError`` when it is
    not a video PyAV can decode."""
    try:
        info = probe(path)
    except (av.error.FFmpegError, OSError, IndexError) as exc:  # IndexError: no video stream
        raise ValueError(f"not a readable video: {exc}") from exc
    if info.frame_count == 0 or info.fps <= 0 or info.width <= 0 or info.height <= 0:
        raise ValueError("the video has no frames")
    return info.width, info.height, info.fps, info.frame_count


def last_frame_png(path: Path) -> bytes:
    """The clip's last frame as PNG."""
    last: Frame | None = None
    for last in _frames(path):  # noqa: B007 - only the last one is kept
        pass
    if last is None:
        raise ValueError(f"{path.name} has no video frames")
    out = io.BytesIO()
    Image.fromarray(last).save(out, format="PNG")
    return out.getvalue()


def _fitted(frames: Iterator[Frame], width: int, height: int) -> Iterator[Frame]:
    for frame in frames:
        if frame.shape[1] != width or frame.shape[0] != height:
            frame = np.ascontiguousarray(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
        yield frame


def _resampled(frames: Iterator[Frame], source_fps: float, target_fps: int) -> Iterator[Frame]:
    """``frames`` at ``target_fps``: each output frame is the source frame shown at its time."""
    if abs(source_fps - target_fps) < 1e-6:
        yield from frames
        return
    emitted = 0
    for index, frame in enumerate(frames):
        end = (index + 1) / source_fps  # this frame is on screen until ``end``
        while emitted / target_fps < end:
            yield frame
            emitted += 1


def stitch(prefix: Path, clip: Path, out: Path, *, fps: int, quality: int = 95) -> EncodedVideo:
    """``prefix`` then ``clip`` minus its first frame, as one MP4 at ``clip``'s size and
    ``fps`` (the prefix scaled and resampled to them where they differ)."""
    width, height, _, _ = clip_info(clip)
    _, _, prefix_fps, _ = clip_info(prefix)

    def whole() -> Iterator[Frame]:
        yield from _fitted(_resampled(_frames(prefix), prefix_fps, fps), width, height)
        rest = _frames(clip)
        next(rest, None)
        yield from rest

    return encode_frames(whole(), out, fmt="MP4", width=width, height=height, fps=fps, quality=quality)
