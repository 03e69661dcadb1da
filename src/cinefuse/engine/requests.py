"""From a validated task to the engine's requests: the one path both ``run_job`` and
``cinefuse generate`` take.

The output size of a frame-image task follows its first image (its aspect ratio snapped to
the nearest the model offers, at the task's resolution tier); every other size was fixed
by the parser. Result ``i`` uses the task's seed + ``i``; the motion mode is the effective
one (the model's silent fallback to ``normal`` already applied).
"""

from __future__ import annotations

from cinefuse.engine.inputs import TaskImages
from cinefuse.generation.base import GenerationRequest
from cinefuse.models.capabilities import ModelCapabilities, Size
from cinefuse.models.registry import require_model
from cinefuse.schemas.tasks import VideoInferenceTask


def output_size(task: VideoInferenceTask, caps: ModelCapabilities, images: TaskImages) -> Size:
    """The exact output ``(width, height)`` of ``task`` (docs/api.md, "Sizes")."""
    if task.width is not None and task.height is not None:
        return task.width, task.height
    if images.first is None:
        raise ValueError(f"task {task.task_uuid} has neither a size nor a first frame image")
    height, width = images.first.shape[:2]
    return caps.size_for_image(task.resolution, width, height)


def generation_request(task: VideoInferenceTask, images: TaskImages, seed: int) -> GenerationRequest:
    """The engine request for one result of ``task`` with ``seed``."""
    caps = require_model(task.model)
    width, height = output_size(task, caps, images)
    return GenerationRequest(
        prompt=task.positive_prompt,
        negative_prompt=task.negative_prompt,
        width=width,
        height=height,
        fps=task.fps,
        num_frames=task.num_frames,
        seed=seed,
        camera_movement=task.camera_movement,
        effect=task.effect,
        style=task.style,
        motion_mode=task.effective_motion_mode(caps),
        first_frame=images.first,
        last_frame=images.last,
        reference_images=images.references,
    )
