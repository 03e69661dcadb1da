"""Effect templates: every one renders; the ones the issue names do what it says.

Measured on the stand-in photo (a saturated red figure) against the same clip without
the effect, so the gentle default camera drift cancels out.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest
from preview_helpers import (
    BLUE,
    HEIGHT,
    RED,
    WIDTH,
    Frame,
    base_request,
    colour_centre,
    cutout_subject,
    render_frames,
)

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview.effects import EFFECTS

Mask = npt.NDArray[np.bool_]
CLIP = 25


def red(frame: Frame) -> Mask:
    """The stand-in figure's saturated red."""
    r, g, b = (frame[..., c].astype(np.int16) for c in range(3))
    return np.asarray((r > 170) & (g < 90) & (b < 110), bool)


def clip(photo: Frame, effect: str | None, **changes: object) -> list[Frame]:
    request: GenerationRequest = base_request(first_frame=photo, num_frames=CLIP, effect=effect)
    return list(render_frames(replace(request, **changes)))  # type: ignore[arg-type]


def rows_of(mask: Mask, top: float, bottom: float) -> Mask:
    """The part of ``mask`` between fractions of its own vertical extent."""
    ys = np.nonzero(mask)[0]
    y0, y1 = ys.min(), ys.max()
    out = np.zeros_like(mask)
    a, b = int(y0 + top * (y1 - y0)), int(y0 + bottom * (y1 - y0))
    out[a:b] = mask[a:b]
    return out


def width_at(mask: Mask, top: float, bottom: float) -> float:
    part = rows_of(mask, top, bottom)
    return float(part.sum(axis=1)[part.any(axis=1)].mean())


@pytest.mark.parametrize("effect", EFFECTS)
def test_every_effect_renders_on_prompt_and_image_scenes(effect: str, photo: Frame) -> None:
    small = photo[::2, ::2].copy()
    for changes in ({}, {"first_frame": small}):
        request = base_request(effect=effect, num_frames=8, width=320, height=180, **changes)
        frames = render_frames(request)
        assert len(frames) == 8 and all(f.shape == (180, 320, 3) for f in frames)
        plain = render_frames(replace(request, effect=None))
        shown = max(float(np.mean(np.abs(f.astype(np.int16) - p))) for f, p in zip(frames, plain, strict=True))
        assert shown > 1.0  # the effect shows


def test_all_20_effects_are_known() -> None:
    assert len(EFFECTS) == 20 and len(set(EFFECTS)) == 20


def test_balloon_belly_swells_over_time(photo: Frame) -> None:
    plain, puffed = clip(photo, None), clip(photo, "balloon belly")
    growth = [width_at(red(p), 0.4, 0.7) / width_at(red(q), 0.4, 0.7) for p, q in zip(puffed, plain, strict=True)]
    assert growth[0] == pytest.approx(1.0, abs=0.05)
    assert growth[CLIP // 2] > 1.1
    assert growth[-1] > growth[CLIP // 2] > growth[CLIP // 4]


def test_muscle_surge_bulges_the_upper_body(photo: Frame) -> None:
    plain, flexed = clip(photo, None)[-1], clip(photo, "muscle surge")[-1]
    assert width_at(red(flexed), 0.25, 0.45) > 1.1 * width_at(red(plain), 0.25, 0.45)


def test_360_microwave_spins_the_subject(photo: Frame) -> None:
    frames = clip(photo, "360 microwave", num_frames=49)  # 3 s: more than a full turn
    widths = [float(red(f).any(axis=0).sum()) for f in frames]
    assert min(widths) < 0.35 * widths[0]  # edge-on
    turned = int(np.argmin(widths))
    assert max(widths[turned:]) > 0.8 * widths[0]  # and round again


def test_boom_drop_hits_with_a_flash_and_a_shake(photo: Frame) -> None:
    frames = clip(photo, "boom drop")
    brightness = [float(f.mean()) for f in frames]
    peak = int(np.argmax(brightness))
    assert brightness[peak] > brightness[0] + 40.0 and 0 < peak < CLIP - 1
    ys = [float(np.nonzero(red(f))[0].mean()) if red(f).any() else 0.0 for f in frames]
    assert ys[peak // 2] < ys[-1] - 10.0  # it came down from above
    after = [
        float(np.abs(a.astype(np.int16) - b).mean())
        for a, b in zip(frames[peak + 1 :], frames[peak + 2 :], strict=False)
    ]
    assert after[0] > 2.0 * after[-1]  # the shake dies down


def test_eye_zoom_pushes_into_the_upper_centre(photo: Frame) -> None:
    frames = clip(photo, "eye zoom challenge")
    start, end = red(frames[0]), red(frames[-1])
    assert end.sum() > 1.6 * start.sum()  # (the grown figure is cropped by the frame)
    ys0 = np.nonzero(start)[0]
    head_row = ys0.min() + 0.1 * (ys0.max() - ys0.min())
    assert abs(np.nonzero(end)[1].mean() - WIDTH / 2) < 0.1 * WIDTH
    assert head_row < HEIGHT / 2  # it was the upper part that was pushed into


def test_mermaid_waves_and_turns_aqua(photo: Frame) -> None:
    plain, fins = clip(photo, None)[-1], clip(photo, "fin-tastic mermaid")[-1]
    figure = red(plain)
    lower, upper = rows_of(figure, 0.65, 1.0), rows_of(figure, 0.0, 0.3)

    def aqua(frame: Frame, mask: Mask) -> float:
        px = frame[mask].astype(np.float32)
        return float((px[:, 1] + px[:, 2] - 2 * px[:, 0]).mean())

    assert aqua(fins, lower) > aqua(plain, lower) + 60.0
    assert aqua(fins, lower) > aqua(fins, upper) + 40.0


def test_skeleton_dance_is_an_x_ray_that_moves_on_the_beat(photo: Frame) -> None:
    plain, bones = clip(photo, None), clip(photo, "skeleton dance")
    figure = red(plain[CLIP // 2])
    px = bones[CLIP // 2][figure].astype(np.float32)
    assert px[:, 2].mean() > px[:, 0].mean() + 30  # the red figure turned cold blue
    heads = [
        float(np.nonzero(np.abs(b.astype(np.int16) - p).sum(axis=2) > 60)[1].mean())
        for b, p in zip(bones[4:], plain[4:], strict=True)
    ]
    swings = np.sign(np.diff(heads))
    assert np.count_nonzero(swings[1:] != swings[:-1]) >= 2  # back and forth


@pytest.mark.parametrize("effect", ["hug your love", "kiss kiss"])
def test_interaction_templates_draw_two_subjects_together(effect: str) -> None:
    refs = (cutout_subject(RED, 1), cutout_subject(BLUE, 2))
    frames = render_frames(base_request(prompt="a park", reference_images=refs, effect=effect, num_frames=CLIP))

    def gap(frame: Frame) -> float:
        a, b = colour_centre(frame, RED), colour_centre(frame, BLUE)
        assert a is not None and b is not None
        return float(abs(a[0] - b[0]))

    assert gap(frames[-1]) < 0.6 * gap(frames[0])


def test_interaction_template_splits_a_single_subject(photo: Frame) -> None:
    plain, hugged = clip(photo, None)[-1], clip(photo, "hug your love")[-1]
    assert red(hugged).any(axis=0).sum() < 0.85 * red(plain).any(axis=0).sum()  # halves closed in


def test_kiss_me_leans_in_blushing(photo: Frame) -> None:
    plain, kissed = clip(photo, None)[-1], clip(photo, "kiss me ai")[-1]
    changed = np.abs(kissed.astype(np.int16) - plain).sum(axis=2) > 40
    assert changed.sum() > 0.02 * changed.size
    pink = kissed[changed].astype(np.float32)
    assert (pink[:, 0] > pink[:, 1] + 40).mean() > 0.5  # pink and red things: hearts, blush


def test_impact_templates_shake(photo: Frame) -> None:
    for effect in ("punch face", "kungfu club"):
        frames = clip(photo, effect)
        plain = clip(photo, None)
        motion = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in itertools.pairwise(frames)]
        calm = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in itertools.pairwise(plain)]
        assert max(motion) > 3.0 * max(calm)


@pytest.mark.parametrize(
    ("effect", "gains"),
    [("pubg winner hit", (1, 1, -2)), ("creepy devil smile", (2, -1, -1)), ("360 microwave", (1, 1, -2))],
)
def test_colour_casts(photo: Frame, effect: str, gains: tuple[int, int, int]) -> None:
    plain, graded = clip(photo, None)[-1].astype(np.float32), clip(photo, effect)[-1].astype(np.float32)

    def cast(frame: npt.NDArray[np.float32]) -> float:
        return float(sum(g * frame[..., c].mean() for c, g in enumerate(gains)))

    assert cast(graded) > cast(plain) + 15.0
