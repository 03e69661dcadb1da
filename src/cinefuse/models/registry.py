"""Model id -> capabilities. cinefuse may register more models later (API.md 3.2)."""

from __future__ import annotations

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.pixverse import PIXVERSE_V45

MODELS: dict[str, ModelCapabilities] = {PIXVERSE_V45.model_id: PIXVERSE_V45}


def get_model(model_id: str) -> ModelCapabilities | None:
    return MODELS.get(model_id)
