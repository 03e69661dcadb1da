"""The GPU profile rows (``gpu_profiles.py``) and how settings take them: a row fills in
quantization and offload together, never over what the operator set."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from cinefuse.gpu_profiles import GPU_PROFILES, named_profile, profile_for
from cinefuse.hub.catalogue import find
from cinefuse.settings import Settings


def roles_of(folders: tuple[str, ...]) -> set[str]:
    entries = [find(name) for name in folders]
    assert all(entries), folders  # every row names catalogue folders
    return {role for entry in entries if entry for role in entry.roles}


@pytest.mark.parametrize(
    ("gib", "row"),
    [
        (8.0, None),
        (11.6, 12),  # an RTX 3060 "12 GB" as CUDA reports it
        (15.6, 16),
        (22.5, 24),  # an L4 "24 GB"
        (23.6, 24),  # an RTX 4090
        (44.4, 48),  # an RTX A6000
        (79.1, 80),  # an H100 80 GB
        (139.8, 80),
    ],
)
def test_a_gpu_gets_the_largest_row_it_reaches(gib: float, row: int | None) -> None:
    profile = profile_for(gib)
    assert (profile.gib if profile else None) == row


def test_rows_grow_with_the_card_and_the_24_gb_row_runs_a_14b_model() -> None:
    sizes = [p.gib for p in GPU_PROFILES]
    assert sizes == sorted(sizes) == [12, 16, 24, 48, 80]
    for smaller, larger in itertools.pairwise(GPU_PROFILES):
        # a larger card serves every role a smaller one does
        assert roles_of(smaller.folders) <= roles_of(larger.folders)
    assert any("14B" in folder for folder in named_profile("24").folders)  # type: ignore[union-attr]


def test_a_row_fills_in_quantization_and_offload_where_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CINEFUSE_QUANTIZATION", "CINEFUSE_TEXT_ENCODER_QUANTIZATION", "CINEFUSE_OFFLOAD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    twelve = settings.with_gpu_profile(profile_for(12))
    assert (twelve.quantization, twelve.text_encoder_quantization, twelve.offload) == ("int8", "int8", "none")
    sixteen = settings.with_gpu_profile(profile_for(16))
    assert (sixteen.quantization, sixteen.text_encoder_quantization, sixteen.offload) == ("none", "int8", "as_needed")


def test_a_row_never_overrides_what_the_operator_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_OFFLOAD", "none")
    settings = Settings()
    assert settings.with_gpu_profile(profile_for(16)) is settings  # not group, not half a row
    assert Settings(quantization="int8").with_gpu_profile(profile_for(24)).offload == "none"


def test_gpu_profile_none_turns_rows_off_and_a_named_row_applies_without_a_gpu() -> None:
    assert Settings(gpu_profile="none").profile_row(24.0) is None
    assert Settings(gpu_profile="auto").profile_row(None) is None  # no GPU: the CPU runs as set
    assert Settings(gpu_profile="12").profile_row(None) == named_profile("12")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quantization": "int8", "offload": "group"}, "group offloading streams plain tensors"),
        ({"quantization": "gguf", "offload": "group_disk"}, "group offloading streams plain tensors"),
        ({"quantization": "int8", "offload": "as_needed"}, "group offloading streams plain tensors"),
        ({"text_encoder_quantization": "nf4", "offload": "model"}, "nf4 weights .bitsandbytes. cannot move"),
        ({"quantization": "gguf", "compile": "full"}, "compile=full cannot trace"),
    ],
)
def test_combinations_that_cannot_work_are_refused_with_the_reason(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_text_encoders_have_no_gguf() -> None:
    with pytest.raises(ValidationError, match="text_encoder_quantization"):
        Settings(text_encoder_quantization="gguf")  # type: ignore[arg-type]
