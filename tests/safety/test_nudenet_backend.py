"""The real NudeNet backend: it loads from the wheel with no network and runs on a
generated image. Skipped when the optional 'safety' extra is not installed."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from cinefuse.errors import ContentFlagged
from cinefuse.media.frames import Frame
from cinefuse.media.video import encode_frames
from cinefuse.safety.base import FrameInspector, SafetyPolicy
from cinefuse.safety.nudenet import (
    INPUT_SIZE,
    MODEL_FILE,
    NUDENET_LABELS,
    NudeNetChecker,
    detector_size,
    missing_reason,
    model_path,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nudenet") is None, reason="the optional 'safety' extra (nudenet) is not installed"
)


def synthetic_scene(height: int = 720, width: int = 1280, seed: int = 0) -> Frame:
    """A sky gradient, a ground plane, a sun and a few blocks: an ordinary, clean image."""
    rng = np.random.default_rng(seed)
    frame = np.zeros((height, width, 3), np.uint8)
    sky = np.linspace(0, 1, height * 2 // 3)[:, None]
    frame[: height * 2 // 3] = (np.array([40, 90, 200]) * (1 - sky) + np.array([250, 180, 120]) * sky)[:, None, :]
    frame[height * 2 // 3 :] = (70, 110, 60)
    cv2.circle(frame, (width * 3 // 4, height // 4), height // 10, (255, 230, 150), -1)
    for _ in range(6):
        x, y = int(rng.integers(0, width - 100)), int(rng.integers(height // 2, height - 100))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(frame, (x, y), (x + 90, y + 80), colour, -1)
    return frame


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No network for the duration of the test: any connection attempt fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.fixture(scope="module")
def checker() -> NudeNetChecker:
    return NudeNetChecker(threads=2)


def test_the_model_ships_inside_the_wheel() -> None:
    assert missing_reason() is None
    path = model_path()
    assert path.name == MODEL_FILE and path.parent.name == "nudenet"
    assert path.stat().st_size > 1_000_000


def test_loads_and_runs_offline_on_a_generated_image(offline: None) -> None:
    checker = NudeNetChecker(threads=2)
    frame = synthetic_scene()
    verdicts = checker.check_frames([frame], SafetyPolicy())
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert set(verdict.scores) == set(NUDENET_LABELS)
    assert all(0.0 <= s <= 1.0 for s in verdict.scores.values())
    assert not verdict.flagged


def test_prepare_downscales_and_is_judged_like_the_original(checker: NudeNetChecker) -> None:
    frame = synthetic_scene(seed=3)
    small = checker.prepare(frame)
    assert small.shape == (180, 320, 3)
    assert not np.shares_memory(small, frame)
    assert np.array_equal(checker.scores([small]), checker.scores([frame]))
    tiny = np.full((40, 60, 3), 128, np.uint8)
    assert np.array_equal(checker.prepare(tiny), tiny) and not np.shares_memory(checker.prepare(tiny), tiny)


def test_a_batch_of_mixed_sizes_scores_each_image_as_if_alone(checker: NudeNetChecker) -> None:
    frames = [synthetic_scene(720, 1280, 1), synthetic_scene(1280, 720, 2), synthetic_scene(540, 540, 4)]
    together = checker.scores(frames)
    assert together.shape == (3, len(NUDENET_LABELS))
    for i, frame in enumerate(frames):
        # Padding to the batch's canvas barely moves a score (zero padding, same content).
        assert np.allclose(together[i], checker.scores([frame])[0], atol=0.05)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((720, 1280), (180, 320)), ((1920, 1080), (320, 180)), ((1080, 1440), (240, 320)), ((300, 200), (300, 200))],
)
def test_detector_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert detector_size(*size) == expected
    assert detector_size(*expected) == expected  # idempotent
    assert max(expected) <= max(INPUT_SIZE, *size)


def test_real_backend_inside_the_streaming_inspector(checker: NudeNetChecker, tmp_path: Any) -> None:
    frames = [synthetic_scene(360, 640, seed) for seed in range(10)]
    inspector = FrameInspector(checker, SafetyPolicy(), "full", 10, batch_size=4)
    encoded = encode_frames(inspector.wrap(iter(frames)), tmp_path / "ok.mp4", fmt="MP4", width=640, height=360, fps=16)
    assert encoded.frames == 10 and inspector.checked_count == 10 and not inspector.flagged


def test_real_scores_flag_once_the_threshold_is_below_them(checker: NudeNetChecker) -> None:
    """The policy acts on the real scores: with every class counted and the lowest possible
    threshold, the detector's own faint responses flag the frame."""
    frame = synthetic_scene(seed=5)
    top = float(checker.scores([frame]).max())
    assert top > 0.0
    policy = SafetyPolicy(threshold=top, tolerant_threshold=1.0, classes=frozenset(NUDENET_LABELS))
    inspector = FrameInspector(checker, policy, "fast", 3)
    with pytest.raises(ContentFlagged):
        list(inspector.wrap(iter([frame, frame, frame])))
    assert not checker.check_frames([frame], policy.with_tolerance(True))[0].flagged
