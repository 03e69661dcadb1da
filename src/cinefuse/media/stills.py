"""Still images made from an encoded clip: a thumbnail and a spritesheet.

``/v1/videos/{id}/content?variant=thumbnail|spritesheet`` serves them. Both decode the clip
once, frame by frame, keeping only the frames they use, so memory stays at a few frames
whatever the clip's length.

* ``thumbnail``: the middle frame, as WEBP (the clip's own size).
* ``spritesheet``: ``SPRITE_FRAMES`` evenly spaced frames (the first and the last among
  them), each scaled to ``SPRITE_WIDTH`` pixels wide, in rows of ``SPRITE_COLUMNS``, as JPEG.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
from PIL import Image

from cinefuse.media.probe import probe

SPRITE_FRAMES = 12
SPRITE_COLUMNS = 4
SPRITE_WIDTH = 256
THUMBNAIL_TYPE = "image/webp"
SPRITESHEET_TYPE = "image/jpeg"


def frame_count(path: Path) -> int:
    """Frames actually in the clip (its packets, not the header's claim)."""
    return probe(path).frame_count


def pick_frames(path: Path, wanted: list[int]) -> dict[int, Image.Image]:
    """The frames at the indices ``wanted``, decoded in one pass."""
    chosen: dict[int, Image.Image] = {}
    targets = set(wanted)
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in targets:
                chosen[index] = Image.fromarray(frame.to_ndarray(format="rgb24"))
                if len(chosen) == len(targets):
                    break
    return chosen


def evenly_spaced(total: int, count: int) -> list[int]:
    """``count`` frame indices from 0 to ``total - 1`` inclusive, evenly spaced (fewer when
    the clip has fewer frames)."""
    if total <= 0:
        return []
    if total <= count:
        return list(range(total))
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def thumbnail(path: Path) -> bytes:
    """The clip's middle frame as WEBP; ``ValueError`` for a clip without frames."""
    total = frame_count(path)
    frames = pick_frames(path, [total // 2]) if total else {}
    if not frames:
        raise ValueError(f"{path.name} has no video frames")
    out = io.BytesIO()
    next(iter(frames.values())).save(out, format="WEBP", quality=85)
    return out.getvalue()


def spritesheet(path: Path) -> bytes:
    """Evenly spaced frames of the clip tiled into one JPEG (see the module docstring)."""
    indices = evenly_spaced(frame_count(path), SPRITE_FRAMES)
    frames = pick_frames(path, indices)
    if not frames:
        raise ValueError(f"{path.name} has no video frames")
    first = frames[indices[0]]
    tile_w = SPRITE_WIDTH
    tile_h = max(1, round(first.height * SPRITE_WIDTH / first.width))
    columns = min(SPRITE_COLUMNS, len(indices))
    rows = -(-len(indices) // columns)
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h))
    for position, index in enumerate(indices):
        tile = frames[index].convert("RGB").resize((tile_w, tile_h), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((position % columns) * tile_w, (position // columns) * tile_h))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=85)
    return out.getvalue()


def frames_png(path: Path, count: int) -> list[bytes]:
    """``count`` evenly spaced frames of the clip (the first and the last among them) as PNG;
    ``ValueError`` for a file that is not a readable video."""
    try:
        indices = evenly_spaced(frame_count(path), count)
        frames = pick_frames(path, indices)
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise ValueError(f"not a readable video: {exc}") from exc
    if not frames:
        raise ValueError("the video has no frames")
    pictures = []
    for index in indices:
        out = io.BytesIO()
        frames[index].save(out, format="PNG")
        pictures.append(out.getvalue())
    return pictures
