"""The context-parallel group's own rules (``parallel.py``), without a group: the leader's
watch on its followers during a pipeline call."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

pytest.importorskip("torch", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

import torch

from cinefuse.generation.neural.parallel import FOLLOWER_CHECK, ParallelGroup, shardable


def _exit_at_once() -> None:
    pass


def test_the_leader_leaves_the_group_when_a_follower_dies_during_a_pipeline_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review's finding 15: a follower dying inside the call left the leader in an NCCL
    collective until its timeout (10 minutes), its heartbeat renewing the job's lease all the
    while. The leader now checks its followers every ``FOLLOWER_CHECK`` seconds."""
    follower = multiprocessing.get_context("spawn").Process(target=_exit_at_once)
    follower.start()
    follower.join()
    group = ParallelGroup(rank=0, world=2, device=torch.device("cpu"), followers=[follower])
    left = threading.Event()
    monkeypatch.setattr(group, "_abandon", left.set)  # the real one ends the process
    started = time.monotonic()
    with group.lockstep():  # a collective that never returns, as NCCL's would not
        assert left.wait(10 * FOLLOWER_CHECK)
    assert time.monotonic() - started < 5 * FOLLOWER_CHECK


def test_the_watch_ends_with_the_call() -> None:
    group = ParallelGroup(rank=0, world=2, device=torch.device("cpu"))
    before = threading.active_count()
    with group.lockstep():
        pass
    assert threading.active_count() == before


def test_only_the_wan_transformers_shard() -> None:
    assert shardable("WanTransformer3DModel")
    assert not shardable("WanVACETransformer3DModel") and not shardable("LTXVideoTransformer3DModel")
