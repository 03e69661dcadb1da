"""The streaming inspector: what it checks (counted at the checker), pass-through, memory,
flags raised from inside the stream, and the encoder leaving no file behind on a flag."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cinefuse.errors import ContentFlagged
from cinefuse.media.frames import Frame
from cinefuse.media.video import encode_frames
from cinefuse.safety.base import FrameInspector, SafetyPolicy, SafetyUnavailable
from cinefuse.safety.memory import ScriptedChecker, marked_frame, marker_of
from cinefuse.settings import SAFETY_BATCH_SIZE


def clip(num_frames: int, height: int = 16, width: int = 16) -> Iterator[Frame]:
    """A fake engine: fresh marked frames, produced lazily."""
    for index in range(num_frames):
        yield marked_frame(index, height, width)


def drain(inspector: FrameInspector, frames: Iterator[Frame]) -> list[Frame]:
    return list(inspector.wrap(frames))


def test_fast_checks_exactly_three_frames_in_one_call() -> None:
    checker = ScriptedChecker()
    inspector = FrameInspector(checker, SafetyPolicy(), "fast", 80)
    assert len(drain(inspector, clip(80))) == 80
    assert checker.calls == [3]
    assert checker.prepared == 3
    assert checker.markers == [0, 40, 79]
    assert inspector.checked_count == 3
    assert inspector.complete and not inspector.flagged
    assert inspector.outcome.checked_count == 3 and not inspector.outcome.flagged


@pytest.mark.parametrize(("num_frames", "calls"), [(80, [8] * 10), (81, [8] * 10 + [1]), (5, [5])])
def test_full_checks_every_frame_in_batches(num_frames: int, calls: list[int]) -> None:
    checker = ScriptedChecker()
    inspector = FrameInspector(checker, SafetyPolicy(), "full", num_frames, batch_size=8)
    drain(inspector, clip(num_frames))
    assert checker.calls == calls
    assert checker.frames_checked == inspector.checked_count == num_frames
    assert checker.markers == list(range(num_frames))


def test_frames_pass_through_unchanged_and_in_order() -> None:
    source = [marked_frame(i) for i in range(20)]
    inspector = FrameInspector(ScriptedChecker(), SafetyPolicy(), "full", 20, batch_size=6)
    out = list(inspector.wrap(iter(source)))
    assert all(a is b for a, b in zip(out, source, strict=True))


def test_checked_copies_are_taken_as_the_frame_passes() -> None:
    """An engine may reuse one buffer; the checker must still see each frame's own pixels."""

    def reusing_engine(n: int) -> Iterator[Frame]:
        buffer = marked_frame(0)
        for index in range(n):
            buffer[:] = marked_frame(index)
            yield buffer

    checker = ScriptedChecker()
    drain(FrameInspector(checker, SafetyPolicy(), "full", 20, batch_size=8), reusing_engine(20))
    assert checker.markers == list(range(20))


def test_memory_stays_bounded_by_the_batch() -> None:
    height, width, num_frames, batch = 360, 640, 48, SAFETY_BATCH_SIZE
    frame_bytes = height * width * 3
    checker = ScriptedChecker()
    inspector = FrameInspector(checker, SafetyPolicy(), "full", num_frames, batch_size=batch)
    most_pending = 0
    gc.collect()
    tracemalloc.start()
    try:
        for _ in inspector.wrap(clip(num_frames, height, width)):
            most_pending = max(most_pending, inspector.pending_count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert most_pending < batch
    assert checker.frames_checked == num_frames
    # batch copies + the frame in flight + slack; the whole clip would be 48 frames.
    assert peak < (batch + 3) * frame_bytes


def test_a_flagged_frame_raises_from_the_stream_and_stops_generation_early() -> None:
    checker = ScriptedChecker.for_indices({11})
    inspector = FrameInspector(checker, SafetyPolicy(), "full", 80, batch_size=8)
    produced: list[int] = []
    released: list[bool] = []

    def engine() -> Iterator[Frame]:
        try:
            for index in range(80):
                produced.append(index)
                yield marked_frame(index)
        finally:
            released.append(True)

    with pytest.raises(ContentFlagged) as caught:
        drain(inspector, engine())
    assert released == [True]  # the engine was closed at once, not left to the collector
    assert caught.value.code == "nsfwContentDetected"
    assert inspector.flagged and inspector.flagged_index == 11
    assert inspector.outcome.flagged_verdict is not None and inspector.outcome.flagged_verdict.flagged
    assert checker.calls == [8, 8]  # the batch holding frame 11 was the last one checked
    assert len(produced) == 16
    assert not inspector.complete


@pytest.mark.parametrize(("flagged", "caught"), [(0, True), (40, True), (79, True), (1, False), (41, False)])
def test_fast_mode_flags_only_what_it_checks(flagged: int, caught: bool) -> None:
    inspector = FrameInspector(ScriptedChecker.for_indices({flagged}), SafetyPolicy(), "fast", 80)
    if caught:
        with pytest.raises(ContentFlagged):
            drain(inspector, clip(80))
        assert inspector.flagged_index == flagged
    else:
        drain(inspector, clip(80))
        assert not inspector.flagged


def test_the_task_tolerance_reaches_the_verdict() -> None:
    borderline = ScriptedChecker.for_indices({3}, score=0.7)  # between 0.6 and 0.8
    with pytest.raises(ContentFlagged):
        drain(FrameInspector(borderline, SafetyPolicy(), "full", 8), clip(8))
    tolerant = FrameInspector(borderline, SafetyPolicy(tolerance=True), "full", 8)
    drain(tolerant, clip(8))
    assert not tolerant.flagged
    assert borderline.policies[-1].tolerance


@pytest.mark.parametrize(("mode", "produced"), [("fast", 79), ("full", 81), ("full", 10)])
def test_a_short_or_long_stream_is_never_vouched_for(mode: str, produced: int) -> None:
    inspector = FrameInspector(ScriptedChecker(), SafetyPolicy(), mode, 80)  # type: ignore[arg-type]
    with pytest.raises(SafetyUnavailable, match="incomplete") as caught:
        drain(inspector, clip(produced))
    assert caught.value.code == "inferenceError"
    assert not inspector.complete


def test_an_inspector_wraps_one_stream() -> None:
    inspector = FrameInspector(ScriptedChecker(), SafetyPolicy(), "fast", 4)
    drain(inspector, clip(4))
    with pytest.raises(RuntimeError, match="exactly one"):
        inspector.wrap(clip(4))


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        FrameInspector(ScriptedChecker(), SafetyPolicy(), "full", 4, batch_size=0)


def test_markers_round_trip() -> None:
    assert [marker_of(marked_frame(i)) for i in (0, 1, 255, 256, 4000)] == [0, 1, 255, 256, 4000]
    assert marker_of(np.zeros((4, 4, 3), np.uint8)) is None


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_a_flagged_result_leaves_no_file_behind(tmp_path: Path, mode: str) -> None:
    """The streaming design the runner relies on: the flag interrupts the encoder, which
    removes its partial file, so there is nothing to store."""
    out = tmp_path / "result.mp4"
    inspector = FrameInspector(ScriptedChecker.for_indices({0, 16, 31}), SafetyPolicy(), mode, 32)  # type: ignore[arg-type]
    with pytest.raises(ContentFlagged):
        encode_frames(inspector.wrap(clip(32, 64, 64)), out, fmt="MP4", width=64, height=64, fps=16)
    assert list(tmp_path.iterdir()) == []


def test_an_unflagged_result_is_encoded_whole(tmp_path: Path) -> None:
    out = tmp_path / "result.mp4"
    inspector = FrameInspector(ScriptedChecker(), SafetyPolicy(), "full", 32)
    encoded = encode_frames(inspector.wrap(clip(32, 64, 64)), out, fmt="MP4", width=64, height=64, fps=16)
    assert encoded.frames == 32 and out.stat().st_size > 0
    assert inspector.complete and inspector.checked_count == 32
