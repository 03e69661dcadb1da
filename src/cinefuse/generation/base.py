"""The engine seam: what every generation backend takes and gives.

Contract
--------
``Engine.generate(request, on_step)`` returns an iterator of frames (``media.frames.Frame``)
of shape ``(request.height, request.width, 3)``. Exactly ``request.num_frames`` frames are
yielded, in order; the caller streams them into the encoder, so an engine must never need
to hold the whole clip.

``on_step(step, total)`` is the single progress/cancellation seam (diffusers'
``callback_on_step_end`` + ``interrupt``): engines call it after every unit of work
(a denoising step, or a rendered frame for the preview engine) with ``0 < step <= total``.
The runner's callback may raise :class:`GenerationInterrupted` (task cancelled, or the
worker lost its lease); engines must let it propagate and release their resources.

``after_job()`` is called by the runner when a job has ended and its exceptions are gone:
the moment to give back memory a failure left behind (its traceback held the tensors).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from cinefuse.media.audio import Soundtrack
from cinefuse.media.frames import Frame
from cinefuse.models.capabilities import MotionMode


class GenerationInterrupted(Exception):
    """Raised from ``on_step`` to stop an engine: cancellation or a lost lease."""


class StepCallback(Protocol):
    def __call__(self, step: int, total: int) -> None: ...


def no_progress(step: int, total: int) -> None:
    """A ``StepCallback`` that ignores progress (CLI without a bar, tests)."""


@dataclass(frozen=True)
class GenerationRequest:
    """Everything an engine needs for one result (one seed).

    Sizes are final output sizes in pixels; ``num_frames = duration * fps``.
    ``motion_mode`` is the *effective* mode: docs/api.md's silent fallback to ``normal``
    (8 s or 1080p) has already been applied by the caller. Images are decoded RGB
    ``uint8`` arrays at their own size (EXIF orientation applied); engines resize.
    """

    prompt: str
    width: int
    height: int
    fps: int
    num_frames: int
    seed: int
    negative_prompt: str | None = None
    camera_movement: str | None = None
    effect: str | None = None
    style: str | None = None
    motion_mode: MotionMode = "normal"
    first_frame: Frame | None = None
    last_frame: Frame | None = None
    reference_images: tuple[Frame, ...] = field(default_factory=tuple)
    #: Denoising steps and classifier-free guidance asked for by the client (None: the
    #: engine's recipe). Engines without a denoiser (the preview) have neither.
    steps: int | None = None
    guidance: float | None = None
    #: A clip that steers this one, frame by frame (video to video: the Wan engine's VACE).
    #: ``control_required``: an edit, which an engine without video to video must refuse
    #: (``InferenceError``); otherwise (a remix) such an engine renders without it.
    control_video: tuple[Frame, ...] = field(default_factory=tuple)
    control_required: bool = False
    #: Where an engine that makes sound (LTX-2) puts it, before its first frame; None: the
    #: clip is silent (``CINEFUSE_SOUND``), and such an engine need not decode its audio.
    soundtrack: Soundtrack | None = field(default=None, compare=False)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


class Engine(Protocol):
    """A generation backend. Implementations are safe to call from one thread at a time."""

    name: str

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        """Yield ``request.num_frames`` frames; see the module docstring for the contract."""
        ...

    def after_job(self) -> None:
        """A job ended (whichever way): release what it left; see the module docstring."""
        ...
