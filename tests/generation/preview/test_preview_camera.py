"""Camera paths, measured with dense optical flow on the rendered frames.

Conventions: a camera moving or turning left makes the picture move right (+x flow);
moving up makes it move down (+y). The textured stand-in photo is used as the scene
where flow must be measurable everywhere.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from preview_helpers import (
    HEIGHT,
    WIDTH,
    Flow,
    Frame,
    base_request,
    dense_flow,
    radial_flow,
    render_frames,
)

from cinefuse.generation.preview.camera import CAMERA_MOVES

#: Clip length for flow measurements: long enough that neighbouring frames differ by a
#: few pixels (Farneback is accurate there).
FLOW_FRAMES = 33
MID = FLOW_FRAMES // 2

Mask = npt.NDArray[np.bool_]


def region(y0: float, y1: float, x0: float, x1: float) -> Mask:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[int(y0 * HEIGHT) : int(y1 * HEIGHT), int(x0 * WIDTH) : int(x1 * WIDTH)] = True
    return mask


#: The stand-in photo's figure (centre) and its background well above it (far sky).
SUBJECT = region(0.42, 0.75, 0.46, 0.54)
SKY = region(0.02, 0.22, 0.3, 0.7) & ~region(0.0, 0.3, 0.42, 0.58)


def mid_flow(photo: Frame, move: str, **changes: object) -> Flow:
    frames = render_frames(base_request(camera_movement=move, first_frame=photo, num_frames=FLOW_FRAMES, **changes))
    return dense_flow(frames[MID], frames[MID + 1])


def mean(flow: Flow, axis: int, mask: Mask | None = None) -> float:
    values = flow[:, :, axis]
    return float(values[mask].mean() if mask is not None else values.mean())


@pytest.mark.parametrize(("move", "sign"), [("pan_left", 1.0), ("pan_right", -1.0)])
def test_pans_move_the_picture_the_right_way(photo: Frame, move: str, sign: float) -> None:
    flow = mid_flow(photo, move)
    dx, dy = mean(flow, 0), mean(flow, 1)
    assert sign * dx > 0.8
    assert abs(dy) < 0.2 * abs(dx)


def test_pan_on_a_prompt_scene_too() -> None:
    frames = render_frames(base_request(camera_movement="pan_left", num_frames=FLOW_FRAMES))
    flow = dense_flow(frames[MID], frames[MID + 1])
    assert mean(flow, 0) > 0.8


def test_pan_rotates_but_horizontal_move_translates(photo: Frame) -> None:
    """A pan moves near and far alike; a sideways camera move shifts the near more."""
    pan = mid_flow(photo, "pan_left")
    truck = mid_flow(photo, "horizontal_left")
    pan_ratio = mean(pan, 0, SUBJECT) / mean(pan, 0, SKY)
    truck_ratio = mean(truck, 0, SUBJECT) / mean(truck, 0, SKY)
    assert 0.8 < pan_ratio < 1.25
    assert truck_ratio > 1.6
    assert mean(mid_flow(photo, "horizontal_right"), 0) < -0.3


@pytest.mark.parametrize(("move", "sign"), [("vertical_up", 1.0), ("vertical_down", -1.0)])
def test_vertical_moves(photo: Frame, move: str, sign: float) -> None:
    flow = mid_flow(photo, move)
    assert sign * mean(flow, 1) > 0.3
    assert abs(mean(flow, 0)) < 0.2 * abs(mean(flow, 1))


def clip_flow(photo: Frame, move: str) -> float:
    """Mean optical-flow magnitude (pixels per frame) over a whole 5 s clip of ``move``
    on the photo scene: every tenth pair of consecutive frames, every pixel."""
    frames = render_frames(base_request(camera_movement=move, first_frame=photo, num_frames=80))
    pairs = range(0, len(frames) - 1, 10)
    return float(np.mean([np.linalg.norm(dense_flow(frames[i], frames[i + 1]), axis=2).mean() for i in pairs]))


def test_vertical_moves_are_as_strong_as_horizontal_ones(photo: Frame) -> None:
    """Vertical moves travelled 56% of the horizontal distance (the frame's aspect ratio),
    and less going down: a person barely saw them. They now travel the same distance, so
    the picture moves about as much (required: 80%, well above the issue's "half")."""
    flows = {
        move: clip_flow(photo, move) for move in ("horizontal_left", "horizontal_right", "vertical_up", "vertical_down")
    }
    horizontal = (flows["horizontal_left"] + flows["horizontal_right"]) / 2
    assert horizontal > 0.2, flows
    assert flows["vertical_up"] >= 0.8 * horizontal, flows
    assert flows["vertical_down"] >= 0.8 * horizontal, flows


@pytest.mark.parametrize(
    ("move", "sign"),
    [("zoom_in", 1.0), ("smooth_zoom_in", 1.0), ("zoom_out", -1.0), ("super_dolly_out", -1.0)],
)
def test_zooms_diverge_or_converge(photo: Frame, move: str, sign: float) -> None:
    assert sign * radial_flow(mid_flow(photo, move)) > 0.3


@pytest.mark.parametrize(("move", "sign"), [("quickly_zoom_in", 1.0), ("quickly_zoom_out", -1.0)])
def test_quick_zooms_are_fast_early(photo: Frame, move: str, sign: float) -> None:
    slow_move = "zoom_in" if sign > 0 else "zoom_out"
    quick = render_frames(base_request(camera_movement=move, first_frame=photo, num_frames=FLOW_FRAMES))
    slow = render_frames(base_request(camera_movement=slow_move, first_frame=photo, num_frames=FLOW_FRAMES))
    early = FLOW_FRAMES // 5
    quick_r = sign * radial_flow(dense_flow(quick[early], quick[early + 1]))
    slow_r = sign * radial_flow(dense_flow(slow[early], slow[early + 1]))
    assert quick_r > 0.3
    assert quick_r > 1.5 * slow_r


def test_hitchcock_keeps_the_subject_size_while_the_background_stretches(photo: Frame) -> None:
    flow = mid_flow(photo, "hitchcock")
    centre = (WIDTH / 2.0, HEIGHT / 2.0)
    subject_scale = radial_flow(flow, SUBJECT, centre)
    background_scale = radial_flow(flow, SKY, centre)
    assert abs(subject_scale) < 0.1
    assert background_scale > 0.4
    # and it is a real dolly zoom, not a still: over the clip the background grows a lot
    frames = render_frames(base_request(camera_movement="hitchcock", first_frame=photo, num_frames=FLOW_FRAMES))
    assert np.mean(np.abs(frames[0][SUBJECT].astype(int) - frames[-1][SUBJECT])) < 3.0
    assert np.mean(np.abs(frames[0][SKY].astype(int) - frames[-1][SKY])) > 8.0


def test_fix_bg_holds_the_background_still_while_the_subject_moves(photo: Frame) -> None:
    frames = render_frames(base_request(camera_movement="fix_bg", first_frame=photo, num_frames=FLOW_FRAMES))
    flow = dense_flow(frames[MID], frames[MID + 1])
    magnitude = np.hypot(flow[:, :, 0], flow[:, :, 1])
    assert float(np.median(magnitude)) < 0.05
    assert float(np.percentile(magnitude, 99)) > 0.8
    # the top corner the subject does not walk into is untouched, pixel for pixel
    corners = (region(0.0, 0.25, 0.0, 0.2), region(0.0, 0.25, 0.8, 1.0))
    assert any(all(np.array_equal(frames[0][c], f[c]) for f in frames) for c in corners)


@pytest.mark.parametrize(("move", "sign"), [("left_follow", -1.0), ("right_follow", 1.0)])
def test_follow_moves_track_a_moving_subject(photo: Frame, move: str, sign: float) -> None:
    frames = render_frames(base_request(camera_movement=move, first_frame=photo, num_frames=FLOW_FRAMES))
    flow = dense_flow(frames[MID], frames[MID + 1])
    background = mean(flow, 0, SKY)
    assert -sign * background > 0.5  # the camera travels with the subject: scenery streams past
    assert sign * mean(flow, 0, region(0.3, 0.8, 0.4, 0.6)) > 0.2  # the subject leads slightly


def test_fast_motion_mode_moves_faster(photo: Frame) -> None:
    def mean_speed(mode: str) -> float:
        frames = render_frames(base_request(camera_movement="pan_left", first_frame=photo, motion_mode=mode))
        return float(
            np.mean([np.hypot(*dense_flow(a, b).transpose(2, 0, 1)).mean() for a, b in itertools.pairwise(frames)])
        )

    assert mean_speed("fast") > 1.2 * mean_speed("normal")


def test_crane_up_rises_and_tilts_to_keep_the_subject(photo: Frame) -> None:
    flow = mid_flow(photo, "crane_up")
    assert abs(mean(flow, 1, SUBJECT)) < 0.3  # the tilt keeps the subject framed
    assert mean(flow, 1, SKY) < -1.0  # while the scenery slides up past it


def test_camera_rotation_rolls_and_orbits(photo: Frame) -> None:
    flow = mid_flow(photo, "camera_rotation")
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - w / 2.0, ys - h / 2.0
    r = np.hypot(dx, dy) + 1e-6
    tangential = (flow[:, :, 1] * dx - flow[:, :, 0] * dy) / r  # roll: flow turns round the centre
    assert abs(float(tangential[r > 0.3 * h].mean())) > 0.3
    assert abs(mean(flow, 0, SKY)) > 2.0 * abs(mean(flow, 0, SUBJECT))  # orbit: parallax round the subject


def test_whip_pan_is_fast_with_motion_blur(photo: Frame) -> None:
    frames = render_frames(base_request(camera_movement="whip_pan", first_frame=photo, num_frames=FLOW_FRAMES))

    def sideways_detail(frame: Frame) -> float:
        g = frame.astype(np.float32).mean(axis=2)
        return float(np.abs(np.diff(g, axis=1)).mean() / np.abs(np.diff(g, axis=0)).mean())

    detail = [sideways_detail(f) for f in frames]
    assert min(detail) < 0.7 * detail[0]  # horizontal streaks during the whip
    assert detail[-1] > 0.9 * detail[0]  # sharp again once it lands


def test_robo_arm_moves_in_precise_segments(photo: Frame) -> None:
    frames = render_frames(base_request(camera_movement="robo_arm", first_frame=photo, num_frames=FLOW_FRAMES))
    speed = [float(np.hypot(*dense_flow(a, b).transpose(2, 0, 1)).mean()) for a, b in itertools.pairwise(frames)]
    peak = max(speed)
    first_peak = int(np.argmax(speed[: len(speed) // 2]))
    later = speed[first_peak:]
    assert peak > 1.0
    assert min(later[: len(later) * 2 // 3]) < 0.15 * peak  # a dead stop between segments
    assert max(later[len(later) // 3 :]) > 0.5 * peak  # then the next axis moves


def test_auto_camera_picks_a_move_from_the_content(photo: Frame) -> None:
    flow = mid_flow(photo, "auto_camera")
    assert float(np.hypot(flow[:, :, 0], flow[:, :, 1]).mean()) > 0.2


def test_no_camera_movement_still_drifts_gently(photo: Frame) -> None:
    frames = render_frames(base_request(first_frame=photo, num_frames=FLOW_FRAMES))
    speed = float(np.hypot(*dense_flow(frames[MID], frames[MID + 1]).transpose(2, 0, 1)).mean())
    assert 0.05 < speed < 1.5


@pytest.mark.parametrize("move", CAMERA_MOVES)
def test_every_camera_move_renders(move: str, photo: Frame) -> None:
    for changes in ({}, {"first_frame": photo}):
        frames = render_frames(
            base_request(
                camera_movement=move,
                num_frames=6,
                width=320,
                height=180,
                **{k: (v[::2, ::2] if k == "first_frame" else v) for k, v in changes.items()},
            )
        )
        assert len(frames) == 6
        assert all(f.shape == (180, 320, 3) and f.dtype == np.uint8 for f in frames)
        assert not np.array_equal(frames[0], frames[-1])


def test_all_21_moves_are_known() -> None:
    assert len(CAMERA_MOVES) == 21
