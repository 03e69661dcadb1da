"""From a validated task to the engine's requests: the one path both ``run_job`` and
``cinefuse generate`` take.

The output size of a frame-image task follows its frame image (its aspect ratio snapped to
the nearest the model offers, at the task's resolution tier): the first frame's, or the last
frame's when that is the only one. Every other size was fixed by the parser. Result ``i``
uses the task's seed + ``i``; the motion mode is the effective one (the model's silent
fallback to ``normal`` already applied).
"""

from __future__ import annotations

from cinefuse.engine.inputs import TaskImages
from cinefuse.generation.base import GenerationRequest
from cinefuse.media.audio import Soundtrack
from cinefuse.models.capabilities import ModelCapabilities, Size
from cinefuse.models.registry import require_model
from cinefuse.schemas.tasks import VideoInferenceTask
from cinefuse.settings import SoundMode


def output_size(task: VideoInferenceTask, caps: ModelCapabilities, images: TaskImages) -> Size:
    """The exact output ``(width, height)`` of ``task`` (docs/api.md, "Sizes").

    The parser leaves the size open exactly when the task has frame images, so one of them is
    here: a ``ValueError`` means the images handed in are not the task's."""
    if task.width is not None and task.height is not None:
        return task.width, task.height
    # The first frame decides where there is one; a last frame alone decides by itself.
    frame = images.first if images.first is not None else images.last
    if frame is None:
        raise ValueError(f"task {task.task_uuid} has neither a size nor a frame image")
    height, width = frame.shape[:2]
    return caps.size_for_image(task.resolution, width, height)


def generation_request(
    task: VideoInferenceTask, images: TaskImages, seed: int, sound: SoundMode = "off"
) -> GenerationRequest:
    """The engine request for one result of ``task`` with ``seed``; with a soundtrack for
    the engine's sound where ``sound`` (``CINEFUSE_SOUND``) wants it for the task's model."""
    caps = require_model(task.model)
    wanted = sound == "always" or (sound == "auto" and caps.audio)
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
        steps=task.steps,
        guidance=task.guidance,
        control_video=images.control,
        control_required=task.control_required,
        soundtrack=Soundtrack() if wanted else None,
    )
