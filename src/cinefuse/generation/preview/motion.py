"""Clip timing: easing curves, motion mode, keyframe envelopes and frame holds.

Every animated quantity in the preview engine is a function of three clocks derived here
from the frame index, so that timing rules live in one place:

* ``t`` in ``[0, 1]``: normalised clip time (frame 0 -> 0, last frame -> 1).
* ``progress``: how far along its path the camera is; ``speed * ease(t)``. ``motion_mode
  == "fast"`` multiplies it by :data:`FAST_SPEED`, so the same path is travelled 1.6 times
  faster and the clip covers more of it (paths are defined beyond 1 for that reason).
* ``beat``: seconds of *motion time* (``speed * seconds``) for rhythmic effects, so a
  dance also runs 1.6 times faster in fast mode.

Keyframes pin the output to given images at frame 0 and/or the last frame; the
``fidelity`` weight (0 at a pinned frame, 1 away from it) scales styles and effects so they
cannot spoil those frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefuse.models.capabilities import MotionMode

#: Motion speed factor of ``motionMode == "fast"`` (docs/api.md: the same motion, faster).
FAST_SPEED = 1.6
#: Fraction of the clip over which styles/effects fade in after (or out before) a keyframe.
KEYFRAME_RAMP = 0.22


def clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def smoothstep(edge0: float, edge1: float, x: float) -> float:
    """Hermite step from 0 at ``edge0`` to 1 at ``edge1`` (clamped)."""
    u = clamp01((x - edge0) / (edge1 - edge0))
    return u * u * (3.0 - 2.0 * u)


def ease_in_out(x: float) -> float:
    """Smootherstep: zero velocity and acceleration at both ends (a dolly operator's move)."""
    u = clamp01(x)
    return u * u * u * (u * (u * 6.0 - 15.0) + 10.0)


def speed_for(mode: MotionMode) -> float:
    return FAST_SPEED if mode == "fast" else 1.0


@dataclass(frozen=True)
class Clock:
    """Maps frame indices to the engine's clocks (see the module docstring).

    ``pin_first``/``pin_last`` say which ends of the clip are keyframes; ``hold`` is how
    many consecutive frames show the same picture (2 for the clay style's stop-motion).
    """

    num_frames: int
    fps: int
    speed: float = 1.0
    pin_first: bool = False
    pin_last: bool = False
    hold: int = 1

    def t(self, index: int) -> float:
        return index / (self.num_frames - 1) if self.num_frames > 1 else 0.0

    def content_index(self, index: int) -> int:
        """The frame whose picture ``index`` shows: holds repeat the first of each group.

        A pinned last frame is always rendered itself, so it can match its keyframe.
        """
        if self.pin_last and index == self.num_frames - 1:
            return index
        return index - index % self.hold

    def progress(self, t: float) -> float:
        return self.speed * ease_in_out(t)

    def beat(self, t: float) -> float:
        """Motion-time seconds at clip time ``t`` (rhythms of effects run on this)."""
        return self.speed * t * (self.num_frames - 1) / self.fps

    def fidelity(self, t: float) -> float:
        """1 away from keyframes, falling smoothly to 0 exactly at a pinned frame."""
        weight = 1.0
        if self.pin_first:
            weight *= smoothstep(0.0, KEYFRAME_RAMP, t)
        if self.pin_last:
            weight *= smoothstep(0.0, KEYFRAME_RAMP, 1.0 - t)
        return weight
