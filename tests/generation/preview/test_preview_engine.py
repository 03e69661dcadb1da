"""The engine contract (generation/base.py): frames, progress, cancellation, determinism."""

from __future__ import annotations

import types
from dataclasses import replace

import numpy as np
import pytest
from preview_helpers import HEIGHT, WIDTH, base_request, render_frames, synthetic_photo

from cinefuse.generation.base import GenerationInterrupted
from cinefuse.generation.preview import PreviewEngine


def test_engine_name_and_frame_contract() -> None:
    request = base_request(num_frames=9)
    frames = render_frames(request)
    assert PreviewEngine.name == "preview"
    assert len(frames) == 9
    for frame in frames:
        assert frame.shape == (HEIGHT, WIDTH, 3)
        assert frame.dtype == np.uint8
        assert frame.flags.c_contiguous


@pytest.mark.parametrize(("width", "height"), [(360, 640), (480, 360), (360, 360)])
def test_exact_size_for_other_aspect_ratios(width: int, height: int) -> None:
    frames = render_frames(base_request(width=width, height=height, num_frames=3))
    assert [f.shape for f in frames] == [(height, width, 3)] * 3


def test_generate_is_lazy_and_reports_each_frame() -> None:
    steps: list[tuple[int, int]] = []
    frames = PreviewEngine().generate(base_request(num_frames=5), lambda s, t: steps.append((s, t)))
    assert isinstance(frames, types.GeneratorType)
    assert steps == []  # nothing rendered until asked for
    next(frames)
    assert steps == [(1, 5)]
    list(frames)
    assert steps == [(i, 5) for i in range(1, 6)]


def test_interruption_propagates_and_stops_rendering() -> None:
    def cancel_at_three(step: int, total: int) -> None:
        if step == 3:
            raise GenerationInterrupted("cancelled")

    frames = PreviewEngine().generate(base_request(num_frames=10), cancel_at_three)
    got = []
    with pytest.raises(GenerationInterrupted):
        for frame in frames:
            got.append(frame)
    assert len(got) == 2


def test_yielded_frames_are_never_overwritten() -> None:
    frames = PreviewEngine().generate(base_request(num_frames=6, camera_movement="pan_left"))
    first = next(frames)
    snapshot = first.copy()
    list(frames)
    assert np.array_equal(first, snapshot)


@pytest.mark.parametrize(
    "kind",
    ["prompt", "first frame", "first and last", "references"],
)
def test_same_request_gives_byte_identical_frames(kind: str) -> None:
    photo = synthetic_photo(WIDTH, HEIGHT, 0)
    changes: dict[str, object] = {
        "prompt": {"camera_movement": "robo_arm", "style": "comic"},
        "first frame": {"first_frame": photo, "effect": "boom drop"},
        "first and last": {"first_frame": photo, "last_frame": np.ascontiguousarray(photo[:, ::-1])},
        "references": {"reference_images": (photo, np.ascontiguousarray(photo[::-1])), "style": "anime"},
    }[kind]
    request = replace(base_request(num_frames=6), **changes)
    a, b = render_frames(request), render_frames(request)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_different_seeds_and_prompts_give_different_clips() -> None:
    request = base_request(num_frames=2)
    one = render_frames(request)[0]
    other_seed = render_frames(replace(request, seed=8))[0]
    other_prompt = render_frames(replace(request, prompt="a red car in the desert"))[0]
    for other in (other_seed, other_prompt):
        assert np.mean(np.abs(one.astype(np.int16) - other.astype(np.int16))) > 5.0


def test_num_frames_follows_duration_times_fps() -> None:
    request = base_request(fps=24, num_frames=5 * 24, width=160, height=90)
    assert sum(1 for _ in PreviewEngine().generate(request)) == 120


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"camera_movement": "dolly_sideways"}, "camera_movement"),
        ({"effect": "moonwalk"}, "effect"),
        ({"style": "pixel"}, "style"),
        ({"num_frames": 0}, "num_frames"),
        ({"width": 8}, "frame size"),
        ({"first_frame": np.zeros((10, 10), np.uint8)}, "first_frame"),
        ({"reference_images": (np.zeros((8, 8, 3), np.uint8),) * 4}, "reference images"),
    ],
)
def test_bad_requests_fail_up_front(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PreviewEngine().generate(replace(base_request(), **change))
