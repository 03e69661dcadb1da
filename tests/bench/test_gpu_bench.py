"""``bench/gpu_bench.py --tiny`` runs on the CPU, so the GPU benchmark cannot rot: every engine
(the 5B, both 14B models, LTX-Video, Wan 2.2 A14B, HunyuanVideo 1.5, LTX-2 full and distilled) and
every speed option that applies to it
completes through the production speed code, and the JSON report carries the figures the table
prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu_bench.py"
OPTIONS = {"baseline", "attention", "first_block", "mag", "taylorseer", "pab", "distill", "vae_tiling"}


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
    assert report["tiny"] is True and report["random_weights"] is True
    engines = ("ti2v", "flf2v", "vace", "ltx", "a14b", "hunyuan", "ltx2", "ltx2-distilled")
    caches = {"first_block", "mag", "taylorseer", "pab"}  # off for LTX-2, which runs its own distilled recipe
    skipped = {("ltx", "distill")} | {(e, o) for e in ("ltx2", "ltx2-distilled") for o in {*caches, "distill"}}
    expected = {(e, o) for e in engines for o in OPTIONS} - skipped
    assert {(row["engine"], row["option"]) for row in report["rows"]} == expected
    for row in report["rows"]:
        assert row["step_seconds"] > 0 and row["decode_seconds"] > 0 and row["encode_seconds"] > 0, row
        assert row["notes"][0] == f"decoded {row['frames']} frames", row
        assert row["projected_clip_seconds"] > row["decode_seconds"], row
    by = {(row["engine"], row["option"]): row for row in report["rows"]}
    assert "random weights" in " ".join(by[("ti2v", "first_block")]["notes"])
    assert by[("ti2v", "distill")]["notes"][1].startswith("random rank-64 LoRA")
    # LTX-2: the full recipe guides (30 steps projected), the distilled one runs its 8 sigmas in one pass.
    assert "guidance 3, 30 steps projected" in by[("ltx2", "baseline")]["notes"]
    assert "guidance 1, 8 steps projected" in by[("ltx2-distilled", "baseline")]["notes"]
    assert report["host_ram_1080p_decode"]["peak_rss_mib"] >= report["host_ram_1080p_decode"]["baseline_rss_mib"]
    assert "s/step" in done.stdout


@pytest.mark.slow
def test_compiling_runs_last_on_the_built_model(tmp_path: Path) -> None:
    out = tmp_path / "gpu_bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--engines", "ti2v", "--options", "compile,baseline",
         "--compile-backend", "eager", "--json", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [row["option"] for row in rows] == ["baseline", "compile"]
