"""``ScriptedChecker``: the in-memory test double at the safety model boundary.

It implements :class:`~cinefuse.safety.base.SafetyChecker` without a model: a scoring
function gives each frame its per-class scores, and the policy judges them exactly as it
judges the real backend's, so thresholds, tolerance and classes are exercised for real.
It records every call, so tests can count what a mode really checks.

Frames do not carry their index, so tests that flag "frame 40" stamp the index into the
pixels with :func:`marked_frame` and build the double with :meth:`ScriptedChecker.for_indices`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from cinefuse.media.frames import Frame
from cinefuse.safety.base import FrameVerdict, SafetyPolicy, as_rgb_frame

#: The class a scripted flag scores, and the score (above every sane threshold).
SCRIPTED_CLASS = "FEMALE_BREAST_EXPOSED"
SCRIPTED_SCORE = 0.97
#: Marker layout: frame index = R + 256 * G of pixel (0, 0); B is this tag.
_MARKER_TAG = 0xA5
_MARKER_BASE = 256

Scorer = Callable[[Frame], Mapping[str, float]]


def marked_frame(index: int, height: int = 16, width: int = 16, fill: int = 0) -> Frame:
    """A ``(height, width, 3)`` RGB frame filled with ``fill`` whose pixel (0, 0) encodes ``index``."""
    if not 0 <= index < _MARKER_BASE * _MARKER_BASE:
        raise ValueError(f"marker index out of range: {index}")
    frame = np.full((height, width, 3), fill, np.uint8)
    frame[0, 0] = (index % _MARKER_BASE, index // _MARKER_BASE, _MARKER_TAG)
    return frame


def marker_of(frame: Frame) -> int | None:
    """The index stamped by :func:`marked_frame`, or None for an unmarked frame."""
    red, green, tag = (int(v) for v in frame[0, 0])
    return red + _MARKER_BASE * green if tag == _MARKER_TAG else None


class ScriptedChecker:
    """A :class:`~cinefuse.safety.base.SafetyChecker` whose scores come from ``scorer``.

    ``calls`` holds the size of every ``check_frames`` batch, ``markers`` the marker of
    every frame it was shown, in order (frames themselves are not kept, so the double does
    not distort memory measurements), ``shapes`` their shapes, ``policies`` each call's policy.
    """

    name = "scripted"

    def __init__(self, scorer: Scorer | None = None) -> None:
        self.scorer: Scorer = scorer or (lambda frame: {})
        self.calls: list[int] = []
        self.markers: list[int | None] = []
        self.shapes: list[tuple[int, ...]] = []
        self.policies: list[SafetyPolicy] = []
        self.prepared = 0
        self._lock = threading.Lock()

    @classmethod
    def for_indices(
        cls, indices: Iterable[int], *, label: str = SCRIPTED_CLASS, score: float = SCRIPTED_SCORE
    ) -> ScriptedChecker:
        """Scores ``label`` at ``score`` on frames whose marker is in ``indices``, nothing elsewhere."""
        chosen = frozenset(indices)
        return cls(lambda frame: {label: score} if marker_of(frame) in chosen else {})

    @classmethod
    def flagging_all(cls, *, label: str = SCRIPTED_CLASS, score: float = SCRIPTED_SCORE) -> ScriptedChecker:
        """Scores ``label`` at ``score`` on every frame (any engine's output gets flagged)."""
        return cls(lambda frame: {label: score})

    @property
    def frames_checked(self) -> int:
        return sum(self.calls)

    def prepare(self, frame: Frame) -> Frame:
        with self._lock:
            self.prepared += 1
        return as_rgb_frame(frame).copy()

    def check_frames(self, frames: Sequence[Frame], policy: SafetyPolicy) -> list[FrameVerdict]:
        with self._lock:
            self.calls.append(len(frames))
            self.markers.extend(marker_of(frame) for frame in frames)
            self.shapes.extend(frame.shape for frame in frames)
            self.policies.append(policy)
        return [policy.judge(self.scorer(as_rgb_frame(frame))) for frame in frames]
