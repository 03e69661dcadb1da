"""From a requested clip to a model's native grid (``grid.py``): rounding, each model's cap,
token counts that divide across a context-parallel group, and back to the exact output."""

from __future__ import annotations

import numpy as np
import pytest

from cinefuse.generation.neural.grid import (
    LTX_GRID,
    WAN21_480P_GRID,
    WAN21_GRID,
    WAN22_GRID,
    GridRule,
    plan_grid,
    retime,
    shard_plan,
    tokens,
)


def test_a_request_within_the_cap_rounds_up_and_is_cropped() -> None:
    plan = plan_grid(WAN22_GRID, 1280, 720, 120, 24)  # 720p 5 s at 24 fps
    assert (plan.width, plan.height, plan.frames, plan.fit) == (1280, 736, 121, "crop")
    assert not plan.capped


@pytest.mark.parametrize(
    ("rule", "area", "frames"),
    [
        (WAN22_GRID, 1280 * 736, 121),
        (WAN21_GRID, 1280 * 720, 81),
        (WAN21_480P_GRID, 832 * 480, 81),
        (LTX_GRID, 1280 * 736, 257),
    ],
    ids=lambda value: value.name if isinstance(value, GridRule) else "",
)
def test_1080p_for_8_seconds_is_generated_at_the_model_s_cap(rule: GridRule, area: int, frames: int) -> None:
    """The review's finding 7: 1920x1088x81 on a 14B model is about 1.5 h per clip on one
    H100, past the job limit, and off the sizes the model was trained on."""
    plan = plan_grid(rule, 1920, 1080, 8 * 24, 24)
    assert plan.width * plan.height <= area and plan.frames <= frames
    assert plan.width % rule.side_multiple == 0 and plan.height % rule.side_multiple == 0
    assert abs(plan.width / plan.height - 16 / 9) < 0.06  # the aspect ratio kept
    assert plan.capped and plan.fit == "cover"
    if rule.max_frames is not None and 8 * rule.fps + 1 > rule.max_frames:
        assert plan.frames == rule.max_frames  # the longest clip the model makes, stretched to 8 s


def test_a_capped_clip_comes_out_at_exactly_the_requested_size_and_length() -> None:
    plan = plan_grid(WAN21_480P_GRID, 960, 540, 40, 16)  # 540p on a 480p model
    assert (plan.width, plan.height) == (832, 464) and plan.fit == "cover"
    native = [np.full((plan.height, plan.width, 3), i, np.uint8) for i in range(plan.frames)]
    out = list(retime(plan, native))
    assert len(out) == 40 and all(frame.shape == (540, 960, 3) for frame in out)
    assert out[0][0, 0, 0] == 0 and out[-1][0, 0, 0] == plan.frames - 1  # first and last frames matched


def test_durations_beyond_the_model_s_longest_clip_stretch_its_frames() -> None:
    plan = plan_grid(WAN22_GRID, 640, 360, 8 * 16, 16)  # 8 s at 16 fps on TI2V (121 frames at most)
    assert plan.frames == 121 and plan.capped
    assert [plan.source_index(i) for i in (0, 64, 127)] == [0, 60, 120]


@pytest.mark.parametrize("world", [2, 4, 8])
@pytest.mark.parametrize(
    ("rule", "width", "height", "frames"),
    [(WAN22_GRID, 720, 720, 121), (WAN22_GRID, 960, 720, 121), (WAN21_GRID, 720, 720, 81), (WAN22_GRID, 360, 360, 16)],
)
def test_a_sharded_clip_s_tokens_divide_by_the_group(
    rule: GridRule, width: int, height: int, frames: int, world: int
) -> None:
    """The review's finding 5: 720x720 on TI2V is 23 x 23 tokens x 31 latent frames, odd, and
    diffusers' sharder asserts an even split: the group crash-looped."""
    plan = plan_grid(rule, width, height, frames, 24)
    sharded = shard_plan(rule, plan, world)
    assert tokens(rule, sharded) % world == 0
    assert sharded.width >= plan.width and sharded.height >= plan.height
    assert (sharded.width - plan.width) // rule.side_multiple < world
    assert (sharded.height - plan.height) // rule.side_multiple < world
    if tokens(rule, plan) % world == 0:
        assert sharded == plan  # nothing grows that need not


def test_the_odd_720p_square_is_one_token_row_taller_on_two_gpus() -> None:
    plan = plan_grid(WAN22_GRID, 720, 720, 121, 24)
    assert tokens(WAN22_GRID, plan) == 31 * 23 * 23
    sharded = shard_plan(WAN22_GRID, plan, 2)
    assert (sharded.width, sharded.height) in ((736, 768), (768, 736))
    out = list(retime(sharded, [np.zeros((sharded.height, sharded.width, 3), np.uint8)] * sharded.frames))
    assert out[0].shape == (720, 720, 3)


def test_doctor_says_each_model_s_cap() -> None:
    from cinefuse.generation.neural.grid import describe_cap

    assert describe_cap(WAN21_GRID) == "native up to 1280x720's area and 81 frames at 16 fps"
