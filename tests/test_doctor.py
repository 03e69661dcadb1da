"""``cinefuse doctor``'s quantization line: the GPU profile row it leads to, and a backend
that cannot run on this device reported with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinefuse.doctor import report
from cinefuse.settings import Settings

pytest.importorskip("torch", reason="the quantization line needs the 'gpu' extra")


def quantization_line(settings: Settings) -> tuple[bool, str]:
    (check,) = [c for c in report(settings) if c[0] == "quantization"]
    return check[1], check[2]


def test_a_named_profile_is_reported_with_what_it_sets(tmp_path: Path) -> None:
    ok, detail = quantization_line(Settings(data_dir=tmp_path, gpu_profile="12", device="cpu"))
    assert ok, detail
    assert detail == "GPU profile 12 GiB: transformers int8, text encoders int8, offload none on cpu"


def test_fp8_on_the_cpu_is_reported_with_the_reason(tmp_path: Path) -> None:
    ok, detail = quantization_line(Settings(data_dir=tmp_path, quantization="fp8", device="cpu"))
    assert not ok and "compute capability 8.9" in detail and "use int8" in detail
