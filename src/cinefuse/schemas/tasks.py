"""The wire task types: what a validated task is (docs/api.md, "Task types").

These are produced by :func:`cinefuse.schemas.parser.parse_task` only, so every value in
them has passed its rule: a ``VideoInferenceTask`` can be acted on without re-checking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cinefuse.models.capabilities import ModelCapabilities, MotionMode, OutputFormat

TASK_TYPES = ("authentication", "ping", "imageUpload", "videoInference", "getResponse", "cancelTask")
SEED_MAX = 2_147_483_647
TTL_MIN = 60
#: Our rule: a ttl beyond ten years is certainly a mistake (and would overflow timestamps).
TTL_MAX = 10 * 365 * 86_400
#: The largest inline image payload a task may carry (base64 of a 20 MB file, with room).
MAX_INLINE_IMAGE_CHARS = 40 * 1024 * 1024

SafetyMode = Literal["none", "fast", "full"]
SAFETY_MODES: tuple[SafetyMode, ...] = ("none", "fast", "full")
FramePosition = Literal["first", "last"]
LookupType = Literal["getResponse", "cancelTask"]
#: What a task's webhook carries: the Runware result item (``task``), or an OpenAI-style
#: ``video.completed`` / ``video.failed`` event (``video_event``: tasks of ``/v1/videos``).
WebhookShape = Literal["task", "video_event"]


@dataclass(frozen=True)
class AuthenticationTask:
    api_key: str | None
    connection_session_uuid: str | None
    task_uuid: str | None = None


@dataclass(frozen=True)
class PingTask:
    task_uuid: str | None = None


@dataclass(frozen=True)
class ImageUploadTask:
    task_uuid: str
    image: str


@dataclass(frozen=True)
class TaskLookup:
    """getResponse and cancelTask: both name an earlier task by its UUID."""

    task_type: LookupType
    task_uuid: str


@dataclass(frozen=True)
class ImageInput:
    """An image as given: a UUID of an uploaded image, an http(s) URL, a data URI or bare base64.

    ``parameter`` is its dotted path, for errors found later (decode, fetch).
    """

    value: str
    parameter: str


@dataclass(frozen=True)
class FrameImage:
    image: ImageInput
    position: FramePosition


@dataclass(frozen=True)
class VideoInferenceTask:
    task_uuid: str
    model: str
    positive_prompt: str
    resolution: str
    duration: float
    fps: int
    seed: int
    number_results: int
    output_format: OutputFormat
    output_quality: int
    #: Exact size; ``None`` when it follows a frame image's aspect (the first frame's, else the
    #: last's: decided on decode, ``engine/requests.py``).
    width: int | None
    height: int | None
    negative_prompt: str | None = None
    output_type: str = "URL"
    delivery_method: str = "async"
    webhook_url: str | None = None
    #: Never read from a Runware task: the OpenAI-style front door sets it (docs/openai.md).
    webhook_shape: WebhookShape = "task"
    upload_endpoint: str | None = None
    ttl: int | None = None
    include_cost: bool = False
    safety_mode: SafetyMode = "none"
    safety_check_inputs: bool = False
    safety_tolerance: bool = False
    frame_images: tuple[FrameImage, ...] = ()
    reference_images: tuple[ImageInput, ...] = ()
    camera_movement: str | None = None
    effect: str | None = None
    style: str | None = None
    motion_mode: MotionMode = "normal"
    #: Never read from a Runware task: the OpenAI-style front door sets them (docs/openai.md,
    #: ``extra_body``). Denoising steps and classifier-free guidance for this task instead of
    #: the engine's recipe; the media key of a stored clip that steers this one as a control
    #: video (a remix's source; an edit's, which ``control_required`` makes a must).
    steps: int | None = None
    guidance: float | None = None
    control_video: str | None = None
    control_required: bool = False

    @property
    def num_frames(self) -> int:
        return round(self.duration * self.fps)

    def result_seed(self, index: int) -> int:
        """Seed of result ``index``: ``seed + index``, wrapping inside 0..SEED_MAX."""
        return (self.seed + index) % (SEED_MAX + 1)

    def effective_motion_mode(self, caps: ModelCapabilities) -> MotionMode:
        """``fast`` silently becomes ``normal`` where the model says so (8 s, 1080p)."""
        if self.motion_mode == "fast" and (
            self.duration in caps.fast_mode_excluded_durations or self.resolution in caps.fast_mode_excluded_resolutions
        ):
            return "normal"
        return self.motion_mode


Task = AuthenticationTask | PingTask | ImageUploadTask | TaskLookup | VideoInferenceTask
