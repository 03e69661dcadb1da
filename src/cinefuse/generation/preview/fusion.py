"""Reference images fused into one scene (docs/api.md ``inputs.referenceImages``, up to 3).

Each reference's main subject is cut out (:func:`.depth.foreground`) and stood in the
scene on its own plane; where they stand, how big and in which order is a layout drawn
from the seed. The backdrop is composed from the prompt (its own subjects left out: the
references are the subjects), except when one of several references has no clear subject
(low foreground confidence, e.g. a landscape): that one becomes the backdrop (our rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from .coverage import Extent
from .depth import DepthEstimator, foreground
from .imagescene import ImageDraft
from .layers import SUBJECT_DEPTH, Image, Layer, Plane, Role, Scene, crop_to_content, premultiply, u8
from .procedural import Blueprint, plan_scene
from .prompt import SceneTraits

MAX_REFERENCES = 3
#: Below this foreground confidence a reference is treated as a scene, not a subject.
SCENE_CONFIDENCE = 0.2
#: Height of the first (main) subject as a fraction of the frame (seed picks within);
#: the others are scaled by SECONDARY_SCALE.
MAIN_HEIGHT = (0.5, 0.7)
SECONDARY_SCALE = (0.72, 0.95)
#: A cut-out is never wider than this fraction of the frame.
MAX_WIDTH = 0.45
#: Where subjects stand: row as a fraction of the frame height.
CONTACT_ROWS = (0.9, 0.98)
#: Horizontal slots (fractions of the width) for 1, 2 and 3 subjects, and their jitter.
SLOTS: dict[int, tuple[float, ...]] = {1: (0.5,), 2: (0.34, 0.66), 3: (0.2, 0.5, 0.8)}
SLOT_JITTER = 0.05
#: Each further subject stands this much deeper (fraction of the subject depth).
DEPTH_STEP = 0.12
#: Transparent margin round cut-outs (fraction of their height), room for effects.
PAD_FRACTION = 0.2


def cover(image: Image, width: int, height: int) -> Image:
    """Scale to cover ``width x height`` keeping the aspect ratio, then centre-crop."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(int(np.ceil(w * scale)), width), max(int(np.ceil(h * scale)), height))
    big = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(big[y0 : y0 + height, x0 : x0 + width])


def _cutout(image: Image, target_height: int, max_width: int) -> Image:
    """Premultiplied RGBA of the image's subject, trimmed and scaled to ``target_height``."""
    mask = foreground(image).mask
    rgba, _ = crop_to_content(premultiply(image, mask), (0.0, 0.0), 0)
    h, w = rgba.shape[:2]
    scale = min(target_height / h, max_width / w)
    size = (max(round(w * scale), 2), max(round(h * scale), 2))
    return u8(cv2.resize(rgba, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR))


class FusionDraft:
    """Reference images as a scene draft (see :mod:`.director`)."""

    def __init__(
        self,
        references: Sequence[Image],
        traits: SceneTraits,
        rng: np.random.Generator,
        width: int,
        height: int,
        depth: DepthEstimator,
    ) -> None:
        self._size = (width, height)
        confidences = [foreground(ref).confidence for ref in references]
        scene_index = int(np.argmin(confidences))
        self._backdrop: ImageDraft | Blueprint
        if len(references) > 1 and confidences[scene_index] < SCENE_CONFIDENCE:
            self._backdrop = ImageDraft(cover(references[scene_index], width, height), depth)
            subjects = [ref for i, ref in enumerate(references) if i != scene_index]
        else:
            self._backdrop = plan_scene(replace(traits, subjects=(), pair=False), rng, width, height, False)
            subjects = list(references)
        self._subjects = self._layout(subjects, rng)

    def _layout(self, images: Sequence[Image], rng: np.random.Generator) -> list[Layer]:
        w, h = self._size
        slots = list(SLOTS[len(images)])
        order = rng.permutation(len(slots))
        main_height = float(rng.uniform(*MAIN_HEIGHT)) * h
        layers: list[Layer] = []
        for rank, image in enumerate(images):
            height = main_height * (1.0 if rank == 0 else float(rng.uniform(*SECONDARY_SCALE)))
            rgba = _cutout(image, int(height), int(MAX_WIDTH * w))
            x = (slots[order[rank]] + float(rng.uniform(-SLOT_JITTER, SLOT_JITTER))) * w
            contact = float(rng.uniform(*CONTACT_ROWS)) * h
            pad = int(rgba.shape[0] * PAD_FRACTION)
            rgba = u8(cv2.copyMakeBorder(rgba, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0)))
            origin = (x - rgba.shape[1] / 2.0, contact - rgba.shape[0] + pad)
            plane = Plane.fronto(SUBJECT_DEPTH * (1.0 + DEPTH_STEP * rank))
            layers.append(Layer(rgba, origin, plane, Role.SUBJECT, f"reference-{rank}"))
        return sorted(layers, key=lambda layer: -layer.plane.distance)  # far ones first

    def subject_scene(self) -> Scene:
        return Scene(list(self._subjects), *self._size)

    def ground(self) -> Plane | None:
        return self._backdrop.ground()

    def realise(self, extent: Extent) -> Scene:
        backdrop = self._backdrop.realise(extent)
        # The backdrop's own subject is scenery here: effects animate the references.
        behind = [replace_role(layer) for layer in backdrop.layers if layer.role is not Role.FOREGROUND]
        front = [layer for layer in backdrop.layers if layer.role is Role.FOREGROUND]
        return Scene(behind + self._subjects + front, *self._size)


def replace_role(layer: Layer) -> Layer:
    if layer.role is not Role.SUBJECT:
        return layer
    return Layer(layer.rgba, layer.origin, layer.plane, Role.SCENERY, layer.name, layer.opaque)
