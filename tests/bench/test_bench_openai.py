"""``bench/bench_openai.py`` runs (one round), so the issue's benchmark row cannot rot: both
paths render and download the same 5 s 720p preview clip, and the report carries them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_openai.py"


@pytest.mark.slow
def test_one_round_of_the_openai_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "openai.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert set(report["medians"]) == {"POST /v1/videos", "POST /v1"}
    assert all(seconds > 0 for seconds in report["medians"].values())
    sizes = report["bytes"]
    assert sizes["POST /v1/videos"][0] > 10_000 and sizes["POST /v1"][0] > 10_000
    assert report["ratio"] == pytest.approx(report["medians"]["POST /v1/videos"] / report["medians"]["POST /v1"])
    assert "ratio /v1/videos : /v1" in done.stdout
