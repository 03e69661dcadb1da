"""The content-safety seam: checker protocol, policy, frame plan and streaming inspector.

Contract
--------
A :class:`SafetyChecker` is the model boundary. ``check_frames(frames, policy)`` takes
RGB ``uint8`` frames of shape ``(h, w, 3)`` (any size; sizes may differ within one call),
scores each one per class in ``0.0..1.0`` and returns one :class:`FrameVerdict` per frame,
in order, judged by ``policy``. ``prepare(frame)`` returns an *owned* copy, possibly
smaller, that ``check_frames`` judges exactly as it would judge the original: it lets
the :class:`FrameInspector` keep small copies instead of full frames.

Who checks what (docs/api.md 3.2, ``safety.*``)
------------------------------------------
* ``mode`` ``fast``: the first, middle and last frame; ``full``: every frame (batched);
  ``none``: nothing. ``checkContent: true`` arrives here already turned into ``fast``.
* The positive prompt is checked by the prompt filter whenever a mode is on (never the
  negative prompt: "nude, nsfw" is what people put there to *avoid* it).
* Input images are checked whenever a mode is on, or when ``checkInputs`` asks for it.
* ``tolerance`` selects the more permissive threshold.

A flagged result is never stored or delivered: the inspector raises
:class:`~cinefuse.errors.ContentFlagged` (``nsfwContentDetected``) from inside the frame
stream, so the encoder aborts and removes its partial file before the runner could
store it. A check that cannot happen (no backend installed, the engine yielding the
wrong number of frames) fails the task with :class:`SafetyUnavailable`
(``inferenceError``): the server never claims ``NSFWContent: false`` for a check it
did not run.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cinefuse.errors import ContentFlagged, InferenceError
from cinefuse.media.frames import Frame
from cinefuse.schemas.tasks import SafetyMode
from cinefuse.settings import SAFETY_BATCH_SIZE, SAFETY_CLASSES, SAFETY_THRESHOLD, SAFETY_TOLERANT_THRESHOLD

#: Number of frames ``fast`` mode checks on any clip of at least this many frames.
FAST_MODE_FRAMES = 3

FLAGGED_OUTPUT_MESSAGE = "The content safety check flagged the generated video; it was not stored or delivered."
FLAGGED_INPUT_MESSAGE = "The content safety check flagged an input image."


class SafetyUnavailable(InferenceError):
    """A safety check was requested but cannot be performed (``inferenceError``)."""


@dataclass(frozen=True)
class FrameVerdict:
    """One frame's judgement. ``scores``: class name -> confidence in ``0.0..1.0``."""

    flagged: bool
    scores: dict[str, float]


def parse_classes(value: str | Iterable[str]) -> frozenset[str]:
    """Class names from a comma-separated setting (or an iterable); blanks are dropped."""
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(item.strip() for item in items if item.strip())


@dataclass(frozen=True)
class SafetyPolicy:
    """What counts as unsafe: a frame is flagged when any class in ``classes`` scores
    at or above the active threshold (``tolerant_threshold`` when ``tolerance``).

    Thresholds are in ``(0, 1]``, and the tolerant one is never stricter than the normal one.
    """

    threshold: float = SAFETY_THRESHOLD
    tolerant_threshold: float = SAFETY_TOLERANT_THRESHOLD
    classes: frozenset[str] = frozenset(SAFETY_CLASSES)
    tolerance: bool = False

    def __post_init__(self) -> None:
        for name, value in (("threshold", self.threshold), ("tolerant_threshold", self.tolerant_threshold)):
            if not 0.0 < value <= 1.0:
                raise ValueError(f"safety {name} must be in (0, 1], got {value}")
        if self.tolerant_threshold < self.threshold:
            raise ValueError(
                f"safety tolerant_threshold ({self.tolerant_threshold}) is stricter than threshold ({self.threshold})"
            )
        if not self.classes:
            raise ValueError("safety classes must name at least one class")

    @property
    def active_threshold(self) -> float:
        return self.tolerant_threshold if self.tolerance else self.threshold

    def with_tolerance(self, tolerance: bool) -> SafetyPolicy:
        """This policy for a task's ``safety.tolerance``."""
        return SafetyPolicy(self.threshold, self.tolerant_threshold, self.classes, tolerance)

    def judge(self, scores: Mapping[str, float]) -> FrameVerdict:
        """The verdict for one frame's per-class scores (classes not in ``classes`` never flag)."""
        limit = self.active_threshold
        flagged = any(scores.get(name, 0.0) >= limit for name in self.classes)
        return FrameVerdict(flagged, dict(scores))


class SafetyChecker(Protocol):
    """The model boundary (see the module docstring). Safe to share between threads."""

    name: str

    def prepare(self, frame: Frame) -> Frame:
        """An owned copy of ``frame`` (possibly downscaled) judged exactly like ``frame``."""
        ...

    def check_frames(self, frames: Sequence[Frame], policy: SafetyPolicy) -> list[FrameVerdict]:
        """One verdict per frame, in order; one model call per invocation where possible."""
        ...


def frames_to_check(mode: SafetyMode, num_frames: int) -> list[int]:
    """Indices (ascending, distinct) of the frames a mode checks in a clip of ``num_frames``.

    ``fast``: first, middle (``num_frames // 2``) and last, so exactly 3 when
    ``num_frames >= 3`` (fewer for shorter clips: the same frame is never checked twice);
    ``full``: every frame; ``none``: none.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if mode == "none":
        return []
    if mode == "fast":
        return sorted({0, num_frames // 2, num_frames - 1})
    return list(range(num_frames))


def should_check_inputs(mode: SafetyMode, check_inputs: bool) -> bool:
    """Input images are checked when a mode is on, or when ``safety.checkInputs`` is set."""
    return mode != "none" or check_inputs


@dataclass(frozen=True)
class SafetyOutcome:
    """What an inspector checked. ``flagged_index`` is the first flagged frame, if any."""

    mode: SafetyMode
    checked_count: int
    flagged_index: int | None = None
    flagged_verdict: FrameVerdict | None = None

    @property
    def flagged(self) -> bool:
        return self.flagged_index is not None


class FrameInspector:
    """Wraps an engine's frame stream and checks the frames ``mode`` asks for as they pass.

    Frames pass through unchanged (same objects, same order) to the consumer (the encoder).
    The frames to check are copied through ``checker.prepare`` when they pass and checked
    whenever ``batch_size`` copies are pending, and once more when the stream ends, so at
    most ``batch_size`` copies are ever held (``fast`` mode: one call of 3 frames at the end).

    Raised *from the wrapped iterator* (so the encoder aborts and deletes its partial file):

    * :class:`~cinefuse.errors.ContentFlagged` at the first flagged batch (``full`` mode
      stops generating early) or at the end;
    * :class:`SafetyUnavailable` at the end when a mode is on and the stream did not hold
      exactly ``num_frames`` frames (the check would not cover the clip).

    After the stream was consumed to the end without raising, ``complete`` is true and
    ``outcome`` unflagged: the result may be published with ``NSFWContent: false``.
    """

    def __init__(
        self,
        checker: SafetyChecker,
        policy: SafetyPolicy,
        mode: SafetyMode,
        num_frames: int,
        batch_size: int = SAFETY_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.checker, self.policy, self.mode = checker, policy, mode
        self.num_frames, self.batch_size = num_frames, batch_size
        self.checked_count = 0
        self.flagged_index: int | None = None
        self.complete = False
        self._plan = frozenset(frames_to_check(mode, num_frames))
        self._pending: list[tuple[int, Frame]] = []
        self._flagged_verdict: FrameVerdict | None = None
        self._started = False

    @property
    def flagged(self) -> bool:
        return self.flagged_index is not None

    @property
    def pending_count(self) -> int:
        """Frame copies held right now (never more than ``batch_size``)."""
        return len(self._pending)

    @property
    def outcome(self) -> SafetyOutcome:
        return SafetyOutcome(self.mode, self.checked_count, self.flagged_index, self._flagged_verdict)

    def wrap(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """The pass-through stream; an inspector wraps exactly one stream."""
        if self._started:
            raise RuntimeError("a FrameInspector wraps exactly one frame stream")
        self._started = True
        return self._stream(frames)

    def _stream(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        source = iter(frames)
        seen = 0
        try:
            for frame in source:
                if seen in self._plan:
                    self._pending.append((seen, self.checker.prepare(frame)))
                    if len(self._pending) >= self.batch_size:
                        self._check_pending()
                seen += 1
                yield frame
        finally:
            # Stopping early (a flag, or the consumer gave up): let the engine release its
            # resources now rather than whenever its generator is collected.
            if isinstance(source, Generator):
                source.close()
        if self._plan and seen != self.num_frames:
            self._pending.clear()
            raise SafetyUnavailable(
                f"Content safety check incomplete: the engine produced {seen} frames, expected {self.num_frames}."
            )
        self._check_pending()
        self.complete = True

    def _check_pending(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        verdicts = self.checker.check_frames([copy for _, copy in batch], self.policy)
        if len(verdicts) != len(batch):
            raise RuntimeError(f"safety checker {self.checker.name} returned {len(verdicts)} verdicts for {len(batch)}")
        self.checked_count += len(batch)
        for (index, _), verdict in zip(batch, verdicts, strict=True):
            if verdict.flagged:
                self.flagged_index, self._flagged_verdict = index, verdict
                raise ContentFlagged(FLAGGED_OUTPUT_MESSAGE)


def check_images(checker: SafetyChecker, policy: SafetyPolicy, images: Mapping[str, Frame]) -> None:
    """Check input images (``parameter path -> RGB pixels``) in one batch.

    Raises :class:`~cinefuse.errors.ContentFlagged` naming the first flagged image's parameter.
    """
    if not images:
        return
    names = list(images)
    verdicts = checker.check_frames([images[name] for name in names], policy)
    for name, verdict in zip(names, verdicts, strict=True):
        if verdict.flagged:
            raise ContentFlagged(FLAGGED_INPUT_MESSAGE, parameter=name)


def as_rgb_frame(frame: Frame) -> Frame:
    """``frame`` checked against the frame contract (``(h, w, 3)`` ``uint8``), unchanged."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 (h, w, 3) frame, got {frame.dtype} {frame.shape}")
    return frame
