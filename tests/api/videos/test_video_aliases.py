"""Model names of the OpenAI-style front door (api/videos/aliases.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinefuse.api.videos.aliases import ModelNames, default_aliases
from cinefuse.settings import Settings


def settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path, models_dir=tmp_path / "no-weights", **changes)  # type: ignore[arg-type]


def test_without_weights_sora_2_is_the_preview_and_pro_the_best_engine(tmp_path: Path) -> None:
    assert default_aliases(settings(tmp_path)) == {"sora-2": "cinefuse:preview@1", "sora-2-pro": "pixverse:1@3"}


def test_names_resolve_ids_aliases_and_dated_snapshots(tmp_path: Path) -> None:
    names = ModelNames.from_settings(settings(tmp_path, video_model_aliases={"house": "cinefuse:wan@1"}))
    assert names.resolve("pixverse:1@3") == "pixverse:1@3"
    assert names.resolve("house") == "cinefuse:wan@1"
    assert names.resolve("sora-2-2025-12-08") == "cinefuse:preview@1"
    assert names.resolve("sora-2-pro-2025-10-06") == "pixverse:1@3"
    assert names.resolve("sora-3") is None and names.resolve("house-2025-01-01") is None
    assert names.names()[:3] == ["sora-2", "sora-2-pro", "house"]


def test_the_settings_replace_a_default(tmp_path: Path) -> None:
    names = ModelNames.from_settings(settings(tmp_path, video_model_aliases={"sora-2": "cinefuse:ltx-distilled@1"}))
    assert names.resolve("sora-2") == "cinefuse:ltx-distilled@1"


def test_an_alias_of_an_unknown_model_stops_the_server_saying_which(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'house' points at 'wan:9@9'"):
        ModelNames.from_settings(settings(tmp_path, video_model_aliases={"house": "wan:9@9"}))
