"""Planning a clip: from a GenerationRequest to everything the frame loop needs.

Which scene:

==========================  =================================================================
inputs                      scene
==========================  =================================================================
first and last frame        :class:`.keyframes.MorphSource` (flow-guided morph of both images'
                            depth layers)
one frame image             the image split into depth layers (:mod:`.imagescene`); a lone
                            *last* frame is approached instead of left
reference images (no frame  :mod:`.fusion`: the references' cut-out subjects over a backdrop
images)                     (our rule: frame images win when both are given)
nothing                     :mod:`.procedural`: composed from the prompt and the seed
==========================  =================================================================

The camera rig is aimed at the subjects first, then scenery is painted (or the image
background padded) over exactly what that camera will see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from cinefuse.generation.base import GenerationRequest

from .camera import CAMERA_MOVES, CameraTrack, Rig, build_track
from .coverage import Box, needed_box
from .depth import DepthEstimator
from .effects import EFFECTS, PAIR_EFFECTS, EffectAnimator, build_effect, prepare_scene
from .fusion import MAX_REFERENCES, FusionDraft
from .imagescene import ImageDraft, fit_image
from .keyframes import MorphSource
from .layers import Layer, Plane, Scene
from .motion import Clock, speed_for
from .procedural import plan_scene
from .prompt import SceneTraits, read_prompt
from .styles import STYLES, StyleFilter, hold_frames

#: Smallest frame side the renderer accepts (docs/api.md's smallest is 360).
MIN_SIDE = 16
#: Camera moves that need a subject to exist (they move or track it).
SUBJECT_MOVES = frozenset({"left_follow", "right_follow", "fix_bg", "hitchcock", "camera_rotation"})


class SceneSource(Protocol):
    """Layers to draw at clip time ``t``: fixed for a still scene, morphing between keyframes."""

    def layers_at(self, t: float) -> Sequence[Layer]: ...


class SceneDraft(Protocol):
    """A scene whose subjects are known but whose scenery is painted once the camera is."""

    def subject_scene(self) -> Scene: ...

    def ground(self) -> Plane | None:
        """The scene's ground plane, if it has one (the camera keeps clear of it)."""
        ...

    def realise(self, extent: Extent) -> Scene: ...


class Extent(Protocol):
    def __call__(self, plane: Plane, horizon: float | None) -> Box: ...


@dataclass(frozen=True)
class StaticSource:
    scene: Scene

    def layers_at(self, t: float) -> Sequence[Layer]:
        return self.scene.layers


@dataclass
class ClipPlan:
    width: int
    height: int
    clock: Clock
    rig: Rig
    track: CameraTrack
    source: SceneSource
    effect: EffectAnimator | None
    style: StyleFilter | None
    motion_blur: bool = False  # whip pans streak; slower moves would only smear


def _check_image(image: np.ndarray, what: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be an RGB uint8 array of shape (h, w, 3), got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"{what} is too small: {image.shape[1]}x{image.shape[0]}")


def check_request(request: GenerationRequest) -> None:
    """Reject what the renderer cannot honour, naming the field (API validation comes first;
    this guards direct callers such as the CLI and tests)."""
    if request.width < MIN_SIDE or request.height < MIN_SIDE:
        raise ValueError(f"frame size {request.width}x{request.height} is below {MIN_SIDE} px")
    if request.num_frames < 1 or request.fps < 1:
        raise ValueError(f"num_frames and fps must be positive, got {request.num_frames} and {request.fps}")
    if request.camera_movement is not None and request.camera_movement not in CAMERA_MOVES:
        raise ValueError(f"unknown camera_movement {request.camera_movement!r}")
    if request.effect is not None and request.effect not in EFFECTS:
        raise ValueError(f"unknown effect {request.effect!r}")
    if request.style is not None and request.style not in STYLES:
        raise ValueError(f"unknown style {request.style!r}")
    if len(request.reference_images) > MAX_REFERENCES:
        raise ValueError(f"at most {MAX_REFERENCES} reference images, got {len(request.reference_images)}")
    for name, image in (("first_frame", request.first_frame), ("last_frame", request.last_frame)):
        if image is not None:
            _check_image(image, name)
    for i, image in enumerate(request.reference_images):
        _check_image(image, f"reference_images[{i}]")


def scene_rng(request: GenerationRequest, digest: int) -> np.random.Generator:
    """The clip's only source of randomness: seeded by the seed and the prompts' digest."""
    return np.random.default_rng([request.seed & 0xFFFFFFFF, request.seed >> 32, digest & 0xFFFFFFFF, digest >> 32])


def _draft(
    request: GenerationRequest, traits: SceneTraits, rng: np.random.Generator, clock: Clock, depth: DepthEstimator
) -> SceneDraft:
    """The scene for the request's inputs (see the table in the module docstring)."""
    w, h = request.width, request.height
    first, last = request.first_frame, request.last_frame
    if first is not None and last is not None:
        return MorphSource(fit_image(first, w, h), fit_image(last, w, h), depth, clock.speed)
    if first is not None:
        return ImageDraft(fit_image(first, w, h), depth)
    if last is not None:
        return ImageDraft(fit_image(last, w, h), depth)
    if request.reference_images:
        return FusionDraft(request.reference_images, traits, rng, w, h, depth)
    if request.effect in PAIR_EFFECTS:
        traits = replace(traits, pair=True)  # interaction templates stage two subjects
    need_subject = request.effect is not None or request.camera_movement in SUBJECT_MOVES
    return plan_scene(traits, rng, w, h, need_subject, hero=request.effect is not None)


def plan_clip(request: GenerationRequest, depth_model: Path | None = None) -> ClipPlan:
    """Everything the frame loop needs; all random choices are drawn here, in a fixed order."""
    traits = read_prompt(request.prompt, request.negative_prompt)
    rng = scene_rng(request, traits.digest)
    w, h = request.width, request.height
    clock = Clock(
        request.num_frames,
        request.fps,
        speed_for(request.motion_mode),
        pin_first=request.first_frame is not None,
        pin_last=request.last_frame is not None,
        hold=hold_frames(request.style),
    )
    direction = 1.0 if rng.random() < 0.5 else -1.0
    gentle_pick = int(rng.integers(1 << 16))
    draft = _draft(request, traits, rng, clock, DepthEstimator(depth_model))
    morph = draft if isinstance(draft, MorphSource) else None
    subjects = draft.subject_scene()
    image_scene = request.first_frame is not None or request.last_frame is not None
    rig = Rig.for_scene(subjects, image_scene, direction, draft.ground())
    track = build_track(request.camera_movement, rig, clock, bool(subjects.subjects()), gentle_pick)

    def extent(plane: Plane, horizon: float | None) -> Box:
        return needed_box(track, plane, rig, horizon)

    scene = draft.realise(extent)
    effect: EffectAnimator | None = None
    if request.effect is not None:
        if morph is not None:
            morph.map_scenes(lambda s: prepare_scene(str(request.effect), s))
            scene = morph.template
        else:
            scene = prepare_scene(request.effect, scene)
        effect = build_effect(request.effect, scene, rng)
    source: SceneSource = morph if morph is not None else StaticSource(scene)
    style = StyleFilter(request.style, w, h) if request.style is not None else None
    return ClipPlan(w, h, clock, rig, track, source, effect, style, request.camera_movement == "whip_pan")
