"""Which frames a mode checks, and how the policy turns scores into verdicts."""

from __future__ import annotations

import pytest

from cinefuse.safety.base import (
    FAST_MODE_FRAMES,
    SafetyPolicy,
    frames_to_check,
    parse_classes,
    should_check_inputs,
)
from cinefuse.settings import SAFETY_CLASSES, SAFETY_THRESHOLD, SAFETY_TOLERANT_THRESHOLD

EXPOSED = "FEMALE_BREAST_EXPOSED"


@pytest.mark.parametrize("num_frames", [3, 4, 80, 81, 120, 128, 192])
def test_fast_checks_exactly_first_middle_last(num_frames: int) -> None:
    plan = frames_to_check("fast", num_frames)
    assert len(plan) == FAST_MODE_FRAMES
    assert plan == [0, num_frames // 2, num_frames - 1]


@pytest.mark.parametrize(("num_frames", "expected"), [(1, [0]), (2, [0, 1])])
def test_fast_on_tiny_clips_never_checks_a_frame_twice(num_frames: int, expected: list[int]) -> None:
    assert frames_to_check("fast", num_frames) == expected


@pytest.mark.parametrize("num_frames", [1, 80, 192])
def test_full_checks_every_frame_and_none_checks_nothing(num_frames: int) -> None:
    assert frames_to_check("full", num_frames) == list(range(num_frames))
    assert frames_to_check("none", num_frames) == []


def test_frames_to_check_refuses_empty_clips() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        frames_to_check("fast", 0)


@pytest.mark.parametrize(
    ("mode", "check_inputs", "expected"),
    [("none", False, False), ("none", True, True), ("fast", False, True), ("full", True, True)],
)
def test_inputs_are_checked_when_a_mode_is_on_or_asked_for(mode: str, check_inputs: bool, expected: bool) -> None:
    assert should_check_inputs(mode, check_inputs) is expected  # type: ignore[arg-type]


def test_defaults() -> None:
    policy = SafetyPolicy()
    assert policy.threshold == SAFETY_THRESHOLD == 0.6
    assert policy.tolerant_threshold == SAFETY_TOLERANT_THRESHOLD == 0.8
    assert policy.classes == frozenset(SAFETY_CLASSES)
    assert policy.active_threshold == SAFETY_THRESHOLD


@pytest.mark.parametrize(
    ("score", "strict", "tolerant"),
    [(0.59, False, False), (0.6, True, False), (0.7, True, False), (0.8, True, True), (0.99, True, True)],
)
def test_threshold_and_tolerance(score: float, strict: bool, tolerant: bool) -> None:
    policy = SafetyPolicy()
    assert policy.judge({EXPOSED: score}).flagged is strict
    assert policy.with_tolerance(True).judge({EXPOSED: score}).flagged is tolerant
    assert policy.with_tolerance(True).active_threshold == SAFETY_TOLERANT_THRESHOLD


def test_only_the_configured_classes_count() -> None:
    scores = {"FACE_FEMALE": 0.99, "FEET_EXPOSED": 0.95, "BELLY_EXPOSED": 0.9}
    assert not SafetyPolicy().judge(scores).flagged
    feet = SafetyPolicy(classes=parse_classes("FEET_EXPOSED"))
    verdict = feet.judge(scores)
    assert verdict.flagged
    assert verdict.scores == scores
    assert not feet.judge({EXPOSED: 0.99}).flagged


def test_parse_classes_from_the_setting() -> None:
    assert parse_classes(" A, B ,,C ") == frozenset({"A", "B", "C"})
    assert parse_classes(["A", " "]) == frozenset({"A"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.2}, "threshold"),
        ({"threshold": 0.7, "tolerant_threshold": 0.5}, "stricter"),
        ({"classes": frozenset()}, "at least one class"),
    ],
)
def test_policy_refuses_bad_configuration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SafetyPolicy(**kwargs)  # type: ignore[arg-type]
