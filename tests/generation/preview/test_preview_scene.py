"""Scenes: composed from the prompt and seed, from an image's depth layers, or fused from
reference images; negative prompts take elements out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from preview_helpers import (
    BLUE,
    HEIGHT,
    RED,
    WIDTH,
    YELLOW,
    Frame,
    base_request,
    colour_centre,
    cutout_subject,
    render_frames,
)

from cinefuse.generation.preview import depth as depth_module
from cinefuse.generation.preview.depth import DepthEstimator, foreground
from cinefuse.generation.preview.director import plan_clip
from cinefuse.generation.preview.prompt import read_prompt


def bottom_blueness(frame: Frame) -> float:
    """Blue minus red over the lower third: water reflects the sky, ground does not."""
    lower = frame[2 * HEIGHT // 3 :].astype(np.float32)
    return float((lower[..., 2] - lower[..., 0]).mean())


def test_negative_prompt_removes_the_water() -> None:
    lake = base_request(prompt="a lake at sunset with mountains", num_frames=1)
    with_water = render_frames(lake)[0]
    without = render_frames(replace(lake, negative_prompt="water"))[0]
    inline = render_frames(replace(lake, prompt="a lake at sunset with mountains, no water"))[0]
    assert bottom_blueness(with_water) > bottom_blueness(without) + 30.0
    assert bottom_blueness(with_water) > bottom_blueness(inline) + 30.0
    names = [layer.name for layer in plan_clip(replace(lake, negative_prompt="water")).source.layers_at(0.0)]
    assert "water" not in names and "ground" in names


def test_negative_prompt_removes_subjects_and_changes_the_scene() -> None:
    request = base_request(prompt="a woman walking in a snowy forest", num_frames=1)
    plain = render_frames(request)[0]
    no_person = render_frames(replace(request, negative_prompt="woman, people"))[0]
    assert np.mean(np.abs(plain.astype(np.int16) - no_person)) > 2.0
    layers = plan_clip(replace(request, negative_prompt="woman")).source.layers_at(0.0)
    assert not any(layer.role == "subject" for layer in layers)


def band(frame: Frame, top: float, bottom: float) -> np.ndarray:
    """Mean (R, G, B) of the rows between two fractions of the height."""
    rows = frame[int(top * HEIGHT) : int(bottom * HEIGHT)].reshape(-1, 3).astype(np.float32)
    return np.asarray(rows.mean(axis=0), np.float32)


PALETTE_CHECKS: list[tuple[str, Callable[[Frame], bool]]] = [
    ("a city street at night with neon signs", lambda f: band(f, 0.0, 0.33).mean() < 90),  # dark sky
    ("sunset over the ocean", lambda f: band(f, 0.25, 0.5)[0] > band(f, 0.25, 0.5)[2]),  # warm sky
    ("a snowy mountain in winter", lambda f: band(f, 0.75, 1.0).mean() > 170),  # bright snowfield
    ("desert dunes", lambda f: band(f, 0.75, 1.0)[0] > band(f, 0.75, 1.0)[2] + 40),  # sand
    ("a forest", lambda f: band(f, 0.5, 1.0)[1] > band(f, 0.5, 1.0)[0]),  # green
]


@pytest.mark.parametrize(("prompt", "check"), PALETTE_CHECKS)
def test_palette_follows_the_prompt_words(prompt: str, check: Callable[[Frame], bool]) -> None:
    assert check(render_frames(base_request(prompt=prompt, num_frames=1))[0])


def test_scenes_differ_between_seeds_and_are_stable_for_one() -> None:
    request = base_request(prompt="a fox in a snowy pine forest", num_frames=1)
    a = render_frames(request)[0]
    assert np.array_equal(a, render_frames(request)[0])
    for seed in (1, 2, 3):
        other = render_frames(replace(request, seed=seed))[0]
        assert np.mean(np.abs(a.astype(np.int16) - other)) > 3.0


def test_prompt_reading_and_negation() -> None:
    traits = read_prompt("Two lovers on a BEACH at sunset, without clouds", "trees")
    assert {"water", "sunset"} <= traits.themes
    assert "clouds" not in traits.themes and "forest" not in traits.themes
    assert traits.subjects == ("person",) and traits.pair
    assert read_prompt("a lake, no water").themes.isdisjoint({"water"})
    assert read_prompt("x", None).digest != read_prompt("y", None).digest


def test_foreground_finds_the_subject(photo: Frame) -> None:
    truth = np.zeros((HEIGHT, WIDTH), np.uint8)
    cx, cy = WIDTH // 2, int(HEIGHT * 0.58)
    cv2.ellipse(truth, (cx, cy), (int(WIDTH * 0.07), int(HEIGHT * 0.26)), 0, 0, 360, 1, -1)
    cv2.circle(truth, (cx, cy - int(HEIGHT * 0.31)), int(HEIGHT * 0.075), 1, -1)
    found = foreground(photo)
    mask = found.mask > 0.5
    iou = (mask & (truth > 0)).sum() / (mask | (truth > 0)).sum()
    assert iou > 0.75
    assert found.confidence > 0.3


def test_image_is_split_into_depth_layers_with_parallax(photo: Frame) -> None:
    layers = plan_clip(base_request(first_frame=photo, camera_movement="horizontal_left")).source.layers_at(0.0)
    roles = [layer.role for layer in layers]
    assert roles[0] == "scenery" and layers[0].opaque and "subject" in roles
    # the background plane recedes: its bottom row is nearer than its top row
    background = layers[0].plane
    assert background.depth_at(WIDTH / 2, HEIGHT, WIDTH, HEIGHT, WIDTH) < background.depth_at(
        WIDTH / 2, 0, WIDTH, HEIGHT, WIDTH
    )


def test_depth_network_is_used_when_its_weights_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, photo: Frame
) -> None:
    """Nearness comes from the network (a stand-in with the MiDaS output layout here)."""

    class FakeNet:
        def setInput(self, blob: np.ndarray) -> None:
            assert blob.shape == (1, 3, depth_module.DEPTH_NET_SIDE, depth_module.DEPTH_NET_SIDE)

        def forward(self) -> np.ndarray:
            side = depth_module.DEPTH_NET_SIDE
            return np.tile(np.linspace(1.0, 0.0, side, dtype=np.float32)[None, :], (side, 1))[None]

    weights = tmp_path / "midas_small.onnx"
    weights.write_bytes(b"stand-in")
    monkeypatch.setattr(cv2.dnn, "readNet", lambda path: FakeNet())
    estimator = DepthEstimator(weights)
    assert estimator.uses_model and not DepthEstimator(tmp_path / "missing.onnx").uses_model
    near = estimator.nearness(photo, np.zeros((HEIGHT, WIDTH), np.float32))
    assert near[:, : WIDTH // 8].mean() > 0.8 and near[:, -WIDTH // 8 :].mean() < 0.2  # left is near


def test_references_are_fused_into_one_scene() -> None:
    refs = (cutout_subject(RED, 1), cutout_subject(BLUE, 2), cutout_subject(YELLOW, 3))
    request = base_request(prompt="a meadow at noon", reference_images=refs, num_frames=1)
    frame = render_frames(request)[0]
    centres = [colour_centre(frame, c) for c in (RED, BLUE, YELLOW)]
    assert all(c is not None for c in centres)
    # the studio backdrop was cut away: the scene is the prompt's meadow around them
    assert float(frame[: HEIGHT // 4].mean(axis=(0, 1))[2]) > 150  # blue sky on top
    # the layout depends on the seed
    moved = render_frames(replace(request, seed=request.seed + 1))[0]
    assert [colour_centre(moved, c) for c in (RED, BLUE, YELLOW)] != centres


def landscape(width: int = 400, height: int = 300) -> Frame:
    """A reference with nothing standing out: sky over a field, mild texture."""
    rng = np.random.default_rng(0)
    ys = np.linspace(0.0, 1.0, height)[:, None, None]
    image = (np.array([80, 130, 210]) * (1 - ys) + np.array([210, 215, 225]) * ys) * np.ones((1, width, 1))
    image[int(height * 0.57) :] = np.array([80, 120, 60])
    image += cv2.resize(rng.random((height // 10, width // 10)), (width, height))[..., None] * 40 - 20
    return np.clip(image, 0, 255).astype(np.uint8)


def test_a_reference_without_a_subject_becomes_the_backdrop() -> None:
    request = base_request(prompt="anything", reference_images=(landscape(), cutout_subject(RED, 1)), num_frames=1)
    layers = plan_clip(request).source.layers_at(0.0)
    assert layers[0].name == "background" and layers[0].opaque
    assert colour_centre(render_frames(request)[0], RED) is not None
