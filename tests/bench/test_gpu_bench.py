"""``bench/gpu_bench.py --tiny`` runs on the CPU, so the GPU benchmark cannot rot: every engine
and speed option completes and the JSON report carries the figures the table prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu_bench.py"


def test_the_tiny_gpu_benchmark_runs_every_engine_and_option(tmp_path: Path) -> None:
    out = tmp_path / "gpu_bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--host-ram", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["tiny"] is True
    options = {"baseline", "attention", "first_block_cache", "taylorseer", "pab", "distill", "vae_tiling"}
    assert {(row["engine"], row["option"]) for row in report["rows"]} == {
        (engine, option) for engine in ("wan", "ltx") for option in options
    }
    for row in report["rows"]:
        assert row["step_seconds"] > 0 and row["decode_seconds"] > 0, row
        assert row["notes"][0] == f"decoded {row['frames']} frames", row
    assert report["host_ram_1080p_decode"]["peak_rss_mib"] >= report["host_ram_1080p_decode"]["baseline_rss_mib"]
    assert "s/step" in done.stdout
