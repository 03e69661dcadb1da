"""The process's GPU memory budget (``budget.Residency``): which components sit on the
device, stage by stage, under one limit.

The GPU is the edge these tests fake: modules whose ``.to`` records where they were sent
(and can run out of memory), on a device that is not the host, so every move the budget
makes is seen. The books the budget keeps are the real code under test.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

import torch

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.budget import GIB, HOST, Residency

DEVICE = torch.device("meta")  # not the host: every placement is a move


class Component(torch.nn.Module):
    """A component of ``size`` bytes whose moves are recorded instead of made."""

    def __init__(self, name: str, size: int, moves: list[tuple[str, str]], fail_on: str | None = None) -> None:
        super().__init__()
        self.label, self.moves, self.fail_on = name, moves, fail_on
        self.weight = torch.nn.Parameter(torch.empty(size, dtype=torch.uint8), requires_grad=False)

    def to(self, device: torch.device | str, *args: object, **kwargs: object) -> Component:  # type: ignore[override]
        device = torch.device(device)
        self.moves.append((self.label, device.type))
        if device == DEVICE and self.fail_on == "device":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self


def parts(moves: list[tuple[str, str]], **sizes: int) -> dict[str, Component]:
    return {name: Component(name, size, moves) for name, size in sizes.items()}


def test_a_stage_moves_what_it_needs_and_the_least_recently_used_others_leave_past_the_limit() -> None:
    moves: list[tuple[str, str]] = []
    c = parts(moves, text_encoder=40, transformer=50, vae=10, other=30)
    budget = Residency(DEVICE, limit=100)
    budget.use([("text_encoder", c["text_encoder"])], "encode")
    budget.use([("transformer", c["transformer"]), ("vae", c["vae"])], "denoise")
    assert budget.on_device() == ["text_encoder", "transformer", "vae"] and budget.bytes_on_device() == 100
    moves.clear()
    budget.use([("other", c["other"])], "another model")  # 130 > 100: the text encoder (oldest) leaves
    assert moves == [("text_encoder", "cpu"), ("other", "meta")]
    assert budget.on_device() == ["transformer", "vae", "other"]
    moves.clear()
    budget.use([("vae", c["vae"])], "decode")  # already there: nothing moves, it becomes the most recent
    assert moves == [] and budget.on_device()[-1] == "vae"


def test_strict_mode_keeps_only_the_stage_on_the_device_the_decode_included() -> None:
    """CINEFUSE_OFFLOAD=model: one stage's components at a time. The decode stage puts the
    VAE on the device, where diffusers' model offload left it on the host (the review's
    finding 1: a 1280x736x121 decode in fp32 on the CPU)."""
    moves: list[tuple[str, str]] = []
    c = parts(moves, text_encoder=40, transformer=50, vae=10)
    budget = Residency(DEVICE, limit=None, strict=True)
    budget.use([("text_encoder", c["text_encoder"])], "encode")
    budget.use([("transformer", c["transformer"]), ("vae", c["vae"])], "denoise")
    budget.use([("vae", c["vae"])], "decode")
    assert moves == [
        ("text_encoder", "meta"),
        ("text_encoder", "cpu"),
        ("transformer", "meta"),
        ("vae", "meta"),
        ("transformer", "cpu"),
    ]
    assert budget.on_device() == ["vae"]


def test_a_stage_larger_than_the_budget_is_refused_before_anything_moves() -> None:
    moves: list[tuple[str, str]] = []
    c = parts(moves, transformer=80, vae=30)
    budget = Residency(DEVICE, limit=100)
    with pytest.raises(InferenceError, match=r"needs .* GiB of GPU memory at once, more than the budget") as caught:
        budget.use([("transformer", c["transformer"]), ("vae", c["vae"])], "denoise with Wan2.1-VACE-14B-diffusers")
    assert "CINEFUSE_OFFLOAD=group" in str(caught.value) and "VACE-14B" in str(caught.value)
    assert moves == [] and budget.on_device() == []


def test_a_move_that_runs_out_of_memory_is_rolled_back_and_left_off_the_books() -> None:
    moves: list[tuple[str, str]] = []
    budget = Residency(DEVICE, limit=None)
    vae = Component("vae", 10, moves)
    budget.use([("vae", vae)], "decode")
    transformer = Component("transformer", 50, moves, fail_on="device")
    moves.clear()
    with pytest.raises(InferenceError, match="Out of GPU memory moving transformer"):
        budget.use([("transformer", transformer)], "denoise")
    # The part that may have arrived goes back to the host; the books never counted it.
    assert moves == [("transformer", "meta"), ("transformer", "cpu")]
    assert budget.on_device() == ["vae"] and budget.bytes_on_device() == 10


def test_modules_placed_by_group_offloading_are_left_to_their_hooks() -> None:
    moves: list[tuple[str, str]] = []
    c = parts(moves, transformer=500, vae=10)
    budget = Residency(DEVICE, limit=100, strict=True)
    budget.hooked(c["transformer"])
    budget.use([("transformer", c["transformer"]), ("vae", c["vae"])], "denoise")  # 500 B would not fit
    assert moves == [("vae", "meta")] and budget.on_device() == ["vae"]


def test_on_a_cpu_nothing_moves_but_the_books_are_kept() -> None:
    moves: list[tuple[str, str]] = []
    c = parts(moves, a=60, b=60)
    budget = Residency(HOST, limit=100)
    budget.use([("a", c["a"])], "one")
    budget.use([("b", c["b"])], "two")
    assert moves == [] and budget.on_device() == ["b"]


def test_the_refusal_speaks_gibibytes() -> None:
    budget = Residency(DEVICE, limit=20 * GIB)
    with pytest.raises(InferenceError, match=r"needs 32\.0 GiB .* budget of 20\.0 GiB"):
        budget.fits(32 * GIB, "The denoise stage of Wan2.1-FLF2V-14B-720P-diffusers")
