"""The step bridge: diffusers' step callback -> the engine's ``on_step``, and the agreement
that stops every rank of a context-parallel group at the same step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

from cinefuse.generation.base import GenerationInterrupted
from cinefuse.generation.neural.runtime import StepBridge


def steps(bridge: StepBridge, count: int) -> SimpleNamespace:
    pipe = SimpleNamespace(_interrupt=False)
    for step in range(count):
        if pipe._interrupt:  # what diffusers' loops do: no more steps, no more callbacks
            break
        bridge(pipe, step, None, {})
    return pipe


def test_a_stop_from_on_step_interrupts_the_pipeline_and_is_raised_after_it() -> None:
    seen: list[tuple[int, int]] = []

    def on_step(step: int, total: int) -> None:
        seen.append((step, total))
        if step == 3:
            raise GenerationInterrupted("cancelled")

    bridge = StepBridge(on_step, total=10)
    pipe = steps(bridge, 10)
    assert pipe._interrupt and seen == [(1, 10), (2, 10), (3, 10)]
    with pytest.raises(GenerationInterrupted, match="cancelled"):
        bridge.raise_if_stopped()


def test_the_ranks_agree_a_leader_stop_stops_a_follower_at_the_same_step() -> None:
    votes: list[bool] = []

    def leader_stops_at_step_4(stop: bool) -> bool:  # the all-reduce: any rank's stop counts
        votes.append(stop)
        return stop or len(votes) == 4

    follower = StepBridge(lambda step, total: None, total=10, agree=leader_stops_at_step_4)
    pipe = steps(follower, 10)
    assert pipe._interrupt and follower.steps == 4 and votes == [False] * 4
    with pytest.raises(GenerationInterrupted, match="another rank"):
        follower.raise_if_stopped()


def test_every_rank_votes_each_step_while_none_stops() -> None:
    votes: list[bool] = []
    bridge = StepBridge(lambda step, total: None, total=5, agree=lambda stop: votes.append(stop) or False)
    pipe = steps(bridge, 5)
    assert not pipe._interrupt and votes == [False] * 5
    bridge.raise_if_stopped()  # nothing to raise
