"""``bench/gpu_profiles.py``: the GPU profile table's memory figures come from the published
configs, docs/engines.md carries exactly the script's table, and every row fits its card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the sizes come from the real classes (the 'gpu' extra)")

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "gpu_profiles.py"


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("gpu-profiles") / "rows.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json", str(out)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "largest stage" in done.stdout  # the printed table
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_docs_carry_the_scripts_table() -> None:
    table = subprocess.run(
        [sys.executable, str(BENCH), "--markdown"], capture_output=True, text=True, timeout=300, check=True
    ).stdout.strip()
    assert table.count("\n") == 6
    assert table in (ROOT / "docs" / "engines.md").read_text(), "regenerate: python bench/gpu_profiles.py --markdown"


def test_every_row_fits_its_card_and_the_24_gib_row_runs_a_14b_model(rows: list[dict[str, object]]) -> None:
    assert [row["gib"] for row in rows] == [12, 16, 24, 48, 80]
    for row in rows:
        assert row["fits"], row
        assert float(row["peak_gib"]) <= int(row["gib"])  # type: ignore[arg-type]
    (row_24,) = [row for row in rows if row["gib"] == 24]
    assert any("14B" in folder for folder in row_24["folders"])  # type: ignore[attr-defined]


def test_the_figures_follow_the_parameter_counts(rows: list[dict[str, object]]) -> None:
    """Spot checks against figures known from the model cards: the 14B first+last frame model in
    bfloat16 with its float32 CLIP and VAE is over 30 GiB; TI2V-5B's transformer in int8 is about 5."""
    by_gib = {row["gib"]: row for row in rows}
    assert 30 < float(by_gib[48]["weights_gib"]) < 36  # type: ignore[arg-type]
    assert by_gib[48]["largest_stage"] == "denoise Wan2.1-FLF2V-14B-720P-diffusers"
    # 12 GiB: TI2V-5B in int8 (about 4.7 GiB) with its float32 VAE (2.6 GiB)
    assert 6.5 < float(by_gib[12]["weights_gib"]) < 8  # type: ignore[arg-type]
