"""The preview engine: a deterministic, non-neural 2.5D renderer behind the Engine seam.

``generate`` checks the request and plans the clip up front (scene, camera track, effect,
style: see :mod:`.director`), then returns a generator that renders one frame at a time:

    layers -> per-layer homography (camera pose x subject motion x effect) -> composite
    -> effect overlays -> motion blur -> style -> yield

Memory is constant in the clip length: only the scene's layers and one frame's buffers
are held. Same request, same bytes: all randomness comes from generators seeded by the
request's seed and prompt, nothing reads the clock or global RNG state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.registry import Availability, EngineSpec
from cinefuse.media.frames import Frame
from cinefuse.settings import Settings

from .camera import homography, subject_motion
from .director import ClipPlan, check_request, plan_clip
from .layers import Matrix, Plane, Role, translation, u8
from .render import Compositor

#: Optional monocular depth model, under ``CINEFUSE_MODELS_DIR``.
DEPTH_MODEL = Path("depth") / "midas_small.onnx"
#: Exposure of the simulated shutter, as a fraction of the frame interval (180 degrees).
SHUTTER = 0.5
#: Motion blur is skipped below this streak length in pixels (invisible, not free).
MIN_BLUR = 3


class PreviewEngine:
    """``Engine`` implementation; see the module docstring and docs/preview-engine.md.

    ``depth_model``: optional path to a monocular depth network (ONNX, MiDaS-small layout)
    used instead of the cue-based estimate when splitting images into depth layers.
    """

    name = "preview"

    def __init__(self, depth_model: Path | None = None) -> None:
        self._depth_model = depth_model

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        """Plan now (so bad input fails at once), render lazily, one frame per ``next``. A
        remix's control video is not used (the preview renders from the prompt); an edit,
        which needs it, is refused."""
        if request.control_required:
            raise InferenceError(
                "The preview engine has no video-to-video, so it cannot edit a video; use a Wan model"
                " (cinefuse:wan@1) with the VACE weights.",
                parameter="video",
            )
        check_request(request)
        plan = plan_clip(request, self._depth_model)
        return _render_frames(plan, on_step)

    def after_job(self) -> None:
        """Nothing outlives a preview job."""


def _depth_model(settings: Settings) -> Path | None:
    path = settings.weights_dir / DEPTH_MODEL
    return path if path.is_file() else None


def _check(settings: Settings) -> Availability:
    depth = _depth_model(settings)
    return Availability(True, "CPU, no weights" + (f"; depth model {depth}" if depth else ""))


#: The registry's entry (``cinefuse.engines`` in pyproject.toml). Ranked lowest: ``auto``
#: takes it when no neural engine can run.
SPEC = EngineSpec(
    name="preview",
    rank=0,
    check=_check,
    load=lambda settings: PreviewEngine(depth_model=_depth_model(settings)),
)


def _render_frames(plan: ClipPlan, on_step: StepCallback) -> Iterator[Frame]:
    clock = plan.clock
    compositor = Compositor(plan.width, plan.height)
    previous: Frame | None = None
    for index in range(clock.num_frames):
        if previous is not None and clock.content_index(index) != index:
            frame = previous.copy()  # stop-motion hold: the same picture again
        else:
            frame = _render_one(plan, compositor, clock.t(index))
        previous = frame
        on_step(index + 1, clock.num_frames)
        yield frame


def _render_one(plan: ClipPlan, compositor: Compositor, t: float) -> Frame:
    clock, rig = plan.clock, plan.rig
    strength = clock.fidelity(t)
    shot = plan.track.shot(t)
    layers = plan.source.layers_at(t)
    animation = plan.effect.at(t, clock.beat(t), strength) if plan.effect is not None else None
    pose = animation.jolt(shot.pose) if animation is not None else shot.pose
    matrices: list[Matrix] = []
    for index, layer in enumerate(layers):
        matrix = homography(pose, layer.plane, rig.width, rig.height, rig.focal)
        if layer.role is Role.SUBJECT:
            matrix = matrix @ subject_motion(shot.subject_shift, layer.plane.distance, rig)
        if animation is not None:
            matrix = matrix @ animation.matrix(index)
        matrices.append(matrix @ layer.placed())
    if animation is not None:
        layers = animation.repaint(layers)
    frame = compositor.render(layers, matrices)
    if animation is not None:
        placed = [
            matrix @ translation(-layer.origin[0], -layer.origin[1])
            for matrix, layer in zip(matrices, layers, strict=True)
        ]

        def project(index: int, x: float, y: float) -> tuple[float, float]:
            p = placed[index] @ np.array([x, y, 1.0])
            return float(p[0] / p[2]), float(p[1] / p[2])

        frame = animation.overlay(frame, project)
    if plan.motion_blur:
        frame = _motion_blur(frame, plan, t, layers[0].plane)
    if plan.style is not None and strength > 0.0:
        frame = plan.style.apply(frame, strength)
    return frame


def _motion_blur(frame: Frame, plan: ClipPlan, t: float, backdrop: Plane) -> Frame:
    """Streak along the screen motion of the backdrop's centre over the shutter interval."""
    dt = SHUTTER / max(plan.clock.num_frames - 1, 1)
    rig = plan.rig
    centre = np.array([rig.width / 2.0, rig.height / 2.0, 1.0])
    a = homography(plan.track.shot(max(t - dt, 0.0)).pose, backdrop, rig.width, rig.height, rig.focal) @ centre
    b = homography(plan.track.shot(t).pose, backdrop, rig.width, rig.height, rig.focal) @ centre
    dx, dy = b[0] / b[2] - a[0] / a[2], b[1] / b[2] - a[1] / a[2]
    length = round(max(abs(dx), abs(dy)))
    if length < MIN_BLUR:
        return frame
    ksize = (length, 1) if abs(dx) >= abs(dy) else (1, length)
    return u8(cv2.blur(frame, ksize))
