"""From the requested clip to a model's native grid and back.

Models generate at sizes and lengths of their own grid: Wan 2.2 TI2V sides in multiples of
32 and 4k+1 frames at 24 fps; Wan 2.1 sides in multiples of 16 and 4k+1 frames at 16 fps;
LTX-Video sides in multiples of 32 and 8k+1 frames. A clip is generated on the smallest
grid that covers the request (each side rounded up, as many frames as the duration takes
at the model's own frame rate), then centre-cropped to the exact requested size and
resampled in time to exactly ``duration x fps`` frames, first and last frames matched. Input
images are cover-resized to the grid, so their centre is where the output's centre is.

Each model also has a native cap (``GridRule.max_size``, ``max_frames``): the largest
frame and the longest clip it was trained for (Wan 2.2 TI2V-5B: 720p, 121 frames; Wan 2.1
14B: 720p, 81 frames; Wan 2.1 1.3B: 480p, 81 frames; LTX-Video: 720p, 257 frames). A request
above the cap is generated at the cap (the same aspect ratio, each side rounded down to the
grid; the longest clip the model makes) and then scaled up to the exact requested size and
stretched in time to the exact duration. Sending 1080p or 8 s unchanged to a 14B model would
take about 1.5 hours per clip on one H100, and leave the sizes the model knows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from cinefuse.generation.neural.weights import read_config
from cinefuse.media.frames import Frame


@dataclass(frozen=True)
class GridRule:
    """A model's grid: side multiple, frames = ``frame_step * k + 1``, native fps, and its
    native cap: pixels per frame and frames per clip (None: no cap)."""

    side_multiple: int
    frame_step: int
    fps: int
    min_frames: int = 1
    #: The largest frame the model was trained on; a request's area is capped at its area.
    max_size: tuple[int, int] | None = None
    max_frames: int | None = None
    #: The model the cap belongs to, for logs and docs.
    name: str = ""

    @property
    def max_area(self) -> int | None:
        return None if self.max_size is None else self.max_size[0] * self.max_size[1]


#: Wan 2.2 TI2V-5B: trained at 1280x704, 121 frames at 24 fps (its model card); 720p
#: requests round up to 1280x736 and are cropped, so the cap is that grid.
WAN22_GRID = GridRule(32, 4, 24, max_size=(1280, 736), max_frames=121, name="Wan 2.2 TI2V-5B")
#: Wan 2.1 14B (FLF2V-720P, VACE-14B): 1280x720, 81 frames at 16 fps.
WAN21_GRID = GridRule(16, 4, 16, min_frames=5, max_size=(1280, 720), max_frames=81, name="Wan 2.1 14B")
#: Wan 2.1 1.3B (VACE-1.3B): a 480p model, 832x480, 81 frames.
WAN21_480P_GRID = GridRule(16, 4, 16, min_frames=5, max_size=(832, 480), max_frames=81, name="Wan 2.1 1.3B")
#: Wan 2.2 A14B (T2V and I2V, two experts): 1280x720, 81 frames at 16 fps (its model card).
WAN22_A14B_GRID = GridRule(16, 4, 16, min_frames=5, max_size=(1280, 720), max_frames=81, name="Wan 2.2 A14B")
#: LTX-Video 0.9.7/0.9.8: up to 720p (1280x736 on its 32 px grid), 257 frames at 24 fps.
LTX_GRID = GridRule(32, 8, 24, max_size=(1280, 736), max_frames=257, name="LTX-Video")
#: LTX-2: VAE 32x spatial and 8x temporal, 24 fps; its two-stage recipe makes 1080p (1920x1088
#: on the grid); 257 frames (10.7 s) is the cap here, half of the 20 s it was trained up to.
LTX2_GRID = GridRule(32, 8, 24, max_size=(1920, 1088), max_frames=257, name="LTX-2")
#: HunyuanVideo 1.5: VAE 16x spatial and 4x temporal, patch 1 (a 16 px grid), 121 frames at
#: 24 fps (the published ``video_length``); the 720p folders are trained at target size 960
#: (1280x720's area), the 480p ones at 640 (848x480 on the grid).
HUNYUAN15_720P_GRID = GridRule(16, 4, 24, max_size=(1280, 720), max_frames=121, name="HunyuanVideo 1.5 720p")
HUNYUAN15_480P_GRID = GridRule(16, 4, 24, max_size=(848, 480), max_frames=121, name="HunyuanVideo 1.5 480p")
#: A Wan 2.1 transformer this wide or wider is a 14B (720p) model; narrower, the 1.3B.
WAN21_720P_MIN_DIM = 5120


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
    #: How a native frame becomes an output frame: ``crop`` (the grid rounded the size up:
    #: centre-crop) or ``cover`` (another size: scale to cover, then crop the excess).
    fit: str = "crop"

    @property
    def capped(self) -> bool:
        """Generated below the requested size or duration (at the model's cap), then scaled."""
        covers_time = (self.frames - 1) * self.out_fps >= (self.out_frames - 1) * self.fps
        return self.width < self.out_width or self.height < self.out_height or not covers_time

    def source_index(self, out_index: int) -> int:
        """The native frame shown as output frame ``out_index``: nearest in time, with the
        first and last frames of both clips matched, so keyframes land exactly (the native
        clip covers the duration on a grid, so this stretches time by a few percent at most)."""
        if self.out_frames == 1:
            return 0
        return round(out_index * (self.frames - 1) / (self.out_frames - 1))


def plan_grid(rule: GridRule, width: int, height: int, num_frames: int, fps: int) -> GridPlan:
    """The native clip for ``width`` x ``height`` x ``num_frames`` at ``fps``: the smallest
    grid covering it, or the model's cap (module docstring)."""
    side = rule.side_multiple
    grid_w, grid_h = math.ceil(width / side) * side, math.ceil(height / side) * side
    fit = "crop"
    if rule.max_area is not None and grid_w * grid_h > rule.max_area:
        scale = math.sqrt(rule.max_area / (width * height))
        grid_w = max(side, math.floor(width * scale / side) * side)
        grid_h = max(side, math.floor(height * scale / side) * side)
        fit = "cover"
    # The last output frame sits at (num_frames - 1) / fps seconds: cover it.
    needed = max(rule.min_frames, math.ceil((num_frames - 1) * rule.fps / fps) + 1)
    frames = math.ceil((needed - 1) / rule.frame_step) * rule.frame_step + 1
    if rule.max_frames is not None and frames > rule.max_frames:
        frames = (rule.max_frames - 1) // rule.frame_step * rule.frame_step + 1
    return GridPlan(grid_w, grid_h, frames, rule.fps, width, height, num_frames, fps, fit)


def cover(image: Frame, width: int, height: int) -> Frame:
    """``image`` scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = np.asarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def crop_center(frame: Frame, width: int, height: int, fit: str = "crop") -> Frame:
    """``frame`` at exactly ``width`` x ``height``: centre-cropped when it covers that size and
    ``fit`` is ``crop`` (the grid rounded the size up), else scaled to cover it, then cropped
    (a clip generated at the cap, or at another size on purpose)."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    if fit == "crop" and w >= width and h >= height:
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
            yield crop_center(frame, plan.out_width, plan.out_height, plan.fit)
            position += 1
        if position == len(wanted):
            return
    if position < len(wanted):
        raise RuntimeError(f"the model produced too few frames: {position} of {len(wanted)}")


def describe_cap(rule: GridRule) -> str:
    """``rule``'s cap in words, for ``cinefuse doctor``."""
    if rule.max_size is None or rule.max_frames is None:
        return f"{rule.fps} fps, no cap"
    width, height = rule.max_size
    return f"native up to {width}x{height}'s area and {rule.max_frames} frames at {rule.fps} fps"


def native_rule(folder: Path) -> GridRule:
    """The grid and cap of the model in the weights folder ``folder``, from its configs
    (nothing loaded): LTX-Video's VAE, HunyuanVideo 1.5's, Wan 2.2's (48 latent channels),
    Wan 2.2 A14B's (two experts), or Wan 2.1's with a 14B or a 1.3B transformer."""
    vae = read_config(folder, "vae")
    if vae.get("_class_name") == "AutoencoderKLLTX2Video":
        return LTX2_GRID
    if str(vae.get("_class_name", "")).startswith("AutoencoderKLLTX"):
        return LTX_GRID
    if vae.get("_class_name") == "AutoencoderKLHunyuanVideo15":
        return hunyuan_rule(vae, read_config(folder, "transformer"))
    if vae.get("z_dim") == 48:
        return WAN22_GRID
    if has_two_experts(folder):
        return WAN22_A14B_GRID
    transformer = read_config(folder, "transformer")
    dim = int(transformer.get("num_attention_heads", 0)) * int(transformer.get("attention_head_dim", 0))
    return WAN21_GRID if dim >= WAN21_720P_MIN_DIM else WAN21_480P_GRID


def hunyuan_rule(vae: dict[str, object], transformer: dict[str, object]) -> GridRule:
    """HunyuanVideo 1.5's grid from its VAE and transformer configs: 720p or 480p by the
    transformer's ``target_size``, the side and frame step by the compressions and patch."""
    target = transformer.get("target_size", 640)
    rule = HUNYUAN15_720P_GRID if isinstance(target, int) and target >= 960 else HUNYUAN15_480P_GRID

    def number(config: dict[str, object], key: str, default: int) -> int:
        value = config.get(key, default)
        return value if isinstance(value, int) else default

    side = number(vae, "spatial_compression_ratio", 16) * number(transformer, "patch_size", 1)
    step = number(vae, "temporal_compression_ratio", 4) * number(transformer, "patch_size_t", 1)
    return replace(rule, side_multiple=side, frame_step=step)


def has_two_experts(folder: Path) -> bool:
    """A Wan 2.2 A14B folder: ``model_index.json`` names a ``transformer_2`` (the low-noise
    expert) and the boundary between the two."""
    try:
        manifest = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    spec = manifest.get("transformer_2")
    return isinstance(spec, list) and spec[0] is not None and manifest.get("boundary_ratio") is not None


def tokens(rule: GridRule, plan: GridPlan, temporal_compression: int = 4) -> int:
    """Transformer tokens of ``plan`` on a model whose grid side is one token (the VAE's
    spatial compression times the patch size: Wan's 32 or 16 px) and whose VAE compresses
    time ``temporal_compression`` x."""
    side = rule.side_multiple
    return ((plan.frames - 1) // temporal_compression + 1) * (plan.width // side) * (plan.height // side)


def shard_plan(rule: GridRule, plan: GridPlan, world: int) -> GridPlan:
    """``plan`` with its grid grown (a token row or column at a time, the least area first)
    until the token count divides by ``world``: diffusers' context-parallel sharding splits
    the sequence into equal parts and does not pad. The output is cropped as before."""
    side = rule.side_multiple
    best: GridPlan | None = None
    for extra_h in range(world):
        for extra_w in range(world):
            grown = replace(plan, width=plan.width + extra_w * side, height=plan.height + extra_h * side)
            smaller = best is None or grown.width * grown.height < best.width * best.height
            if tokens(rule, grown) % world == 0 and smaller:
                best = grown
    assert best is not None  # extra_h = world - (height/side % world) always divides
    return best
