"""Contact sheets of the preview engine: a few frames of every camera move, style and effect.

    python bench/contact_sheet.py [--out bench/results] [--width 480] [--frames 4]

Writes PNG grids (one row per variant, frames left to right over the clip) for a person to
look at: contact_camera.png, contact_camera_image.png, contact_styles.png,
contact_effects.png, contact_effects_image.png, contact_scenes.png, contact_inputs.png.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview import PreviewEngine
from cinefuse.generation.preview.camera import CAMERA_MOVES
from cinefuse.generation.preview.effects import EFFECTS
from cinefuse.generation.preview.procedural import shade_figure
from cinefuse.generation.preview.silhouettes import DRAWINGS
from cinefuse.generation.preview.styles import STYLES

Image = npt.NDArray[np.uint8]

#: Clip length used for the sheets (16 frames = 1 s at 16 fps is enough to see motion).
SHEET_FRAMES = 33
LABEL_WIDTH = 170

SCENE_PROMPTS = (
    "a woman walking on a beach at sunset",
    "neon city street at night, cyberpunk",
    "a fox in a snowy pine forest",
    "desert dunes under a blue sky with a car",
    "a lighthouse by the ocean at night with stars",
    "two friends in a meadow with mountains",
    "a lake at sunset with mountains",
    "a lake at sunset with mountains, no water",
)


def sample_frames(request: GenerationRequest, count: int) -> list[Image]:
    """``count`` frames spread over the clip (consumes the stream, keeps only those)."""
    wanted = {round(i * (request.num_frames - 1) / (count - 1)) for i in range(count)}
    return [f for i, f in enumerate(PreviewEngine().generate(request)) if i in wanted]


def row(label: str, frames: Iterable[Image], height: int) -> Image:
    tiles = list(frames)
    strip = np.concatenate(tiles, axis=1)
    pad = np.full((height, LABEL_WIDTH, 3), 24, np.uint8)
    for k, part in enumerate(_wrap(label, 15)):
        cv2.putText(pad, part, (6, 20 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([pad, strip], axis=1)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def sheet(rows: list[Image], path: Path) -> None:
    grid = np.concatenate(rows, axis=0)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f"wrote {path} ({grid.shape[1]}x{grid.shape[0]})")


def photo(width: int, height: int) -> Image:
    """A stand-in photograph: a rendered scene with film grain (no image files needed)."""
    request = GenerationRequest(
        prompt="a fox standing in a snowy pine forest at sunset",
        width=width,
        height=height,
        fps=16,
        num_frames=1,
        seed=11,
    )
    frame = next(iter(PreviewEngine().generate(request))).astype(np.int16)
    grain = np.random.default_rng(0).normal(0.0, 6.0, frame.shape)
    return np.clip(frame + grain, 0, 255).astype(np.uint8)


def studio_shot(kind: str, colour: tuple[float, float, float], seed: int) -> Image:
    """A reference image: one subject against a plain, slightly noisy studio backdrop."""
    draw, _ = DRAWINGS[kind]
    rng = np.random.default_rng(seed)
    figure = draw(360, rng)
    accent = (colour[0] * 0.5, colour[1] * 0.5, colour[2] * 0.5)
    rgb, mask = shade_figure(figure, colour, accent, (255.0, 255.0, 255.0), 0.3, True)
    h, w = mask.shape
    backdrop = np.clip(225.0 + rng.normal(0.0, 4.0, (h + 80, w + 120, 3)), 0, 255)
    backdrop[40 : 40 + h, 60 : 60 + w] = (
        backdrop[40 : 40 + h, 60 : 60 + w] * (1 - mask[..., None]) + rgb * mask[..., None]
    )
    return backdrop.astype(np.uint8)


def build_sheets(out: Path, w: int, h: int, n: int) -> dict[str, Callable[[], None]]:
    base = GenerationRequest(
        prompt="a man standing in a meadow with mountains and a forest",
        width=w,
        height=h,
        fps=16,
        num_frames=SHEET_FRAMES,
        seed=7,
    )
    still = photo(w, h)
    with_image = replace(base, first_frame=still)

    def camera() -> None:
        sheet(
            [row("(default drift)", sample_frames(base, n), h)]
            + [row(m, sample_frames(replace(base, camera_movement=m), n), h) for m in CAMERA_MOVES],
            out / "contact_camera.png",
        )

    def camera_image() -> None:
        sheet(
            [row(m, sample_frames(replace(with_image, camera_movement=m), n), h) for m in CAMERA_MOVES],
            out / "contact_camera_image.png",
        )

    def styles() -> None:
        sheet(
            [row("(none)", sample_frames(base, n), h)]
            + [row(s, sample_frames(replace(base, style=s), n), h) for s in STYLES]
            + [row(f"{s} (image)", sample_frames(replace(with_image, style=s), n), h) for s in STYLES],
            out / "contact_styles.png",
        )

    def effects() -> None:
        sheet([row(e, sample_frames(replace(base, effect=e), n), h) for e in EFFECTS], out / "contact_effects.png")

    def effects_image() -> None:
        sheet(
            [row(e, sample_frames(replace(with_image, effect=e), n), h) for e in EFFECTS],
            out / "contact_effects_image.png",
        )

    def scenes() -> None:
        sheet(
            [
                row(f"{p} / seed {s}", sample_frames(replace(base, prompt=p, seed=s), n), h)
                for p in SCENE_PROMPTS
                for s in (1, 2)
            ],
            out / "contact_scenes.png",
        )

    def inputs() -> None:
        other = sample_frames(replace(base, prompt="neon city street at night", num_frames=1), 2)[0]
        refs = (
            studio_shot("person", (200.0, 40.0, 50.0), 3),
            studio_shot("animal", (150.0, 100.0, 60.0), 4),
            studio_shot("car", (40.0, 80.0, 200.0), 5),
        )
        m = n + 2
        sheet(
            [
                row("first+last morph", sample_frames(replace(base, first_frame=still, last_frame=other), m), h),
                row("last frame only", sample_frames(replace(base, last_frame=still, camera_movement="zoom_in"), m), h),
                row("fusion 3 refs seed 1", sample_frames(replace(base, reference_images=refs, seed=1), m), h),
                row("fusion 3 refs seed 2", sample_frames(replace(base, reference_images=refs, seed=2), m), h),
                row(
                    "fusion + hug seed 3",
                    sample_frames(replace(base, reference_images=refs[:2], seed=3, effect="hug your love"), m),
                    h,
                ),
                row(
                    "fast pan_left", sample_frames(replace(base, camera_movement="pan_left", motion_mode="fast"), m), h
                ),
            ],
            out / "contact_inputs.png",
        )

    return {
        "camera": camera,
        "camera_image": camera_image,
        "styles": styles,
        "effects": effects,
        "effects_image": effects_image,
        "scenes": scenes,
        "inputs": inputs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--width", type=int, default=640, help="frame width (16:9)")
    parser.add_argument("--frames", type=int, default=4, help="frames per row")
    parser.add_argument("--only", nargs="*", help="sheet names (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    w = args.width - args.width % 2
    h = (w * 9 // 16) - (w * 9 // 16) % 2
    sheets = build_sheets(args.out, w, h, args.frames)
    for name in args.only or sheets:
        sheets[name]()


if __name__ == "__main__":
    main()
