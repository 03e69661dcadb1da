"""What ``cinefuse serve`` says on a GPU machine without neural weights (cli/models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinefuse.cli.models import weights_hint
from cinefuse.settings import Settings


def test_a_gpu_without_weights_is_told_the_one_pull_to_run(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    hint = weights_hint(settings, gpu_gib=23.6)
    assert hint is not None and "`cinefuse models pull --for-gpu 24`" in hint and str(tmp_path / "models") in hint


def test_no_hint_without_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cinefuse.cli.models.visible_gpu_gib", lambda: None)
    assert weights_hint(Settings(data_dir=tmp_path)) is None


def test_no_hint_once_the_weights_are_there(tiny_models_dir: Path, tmp_path: Path) -> None:
    assert weights_hint(Settings(data_dir=tmp_path, models_dir=tiny_models_dir), gpu_gib=24) is None
