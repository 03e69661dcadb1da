"""Tiny weights folders for the neural engine tests, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

from tests.generation.neural.tiny_weights import build_tiny_models


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``CINEFUSE_MODELS_DIR`` holding every tiny folder and the ``inflate`` LoRA."""
    root = tmp_path_factory.mktemp("models")
    build_tiny_models(root)
    return root
