"""Model id -> capabilities: every model this server answers for."""

from __future__ import annotations

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.cinefuse import CINEFUSE_MODELS
from cinefuse.models.pixverse import PIXVERSE_V45

MODELS: dict[str, ModelCapabilities] = {caps.model_id: caps for caps in (PIXVERSE_V45, *CINEFUSE_MODELS)}


def get_model(model_id: str) -> ModelCapabilities | None:
    return MODELS.get(model_id)


def require_model(model_id: str) -> ModelCapabilities:
    """The capabilities of a model id already validated (a stored task's); ``KeyError`` if
    the model was removed from this server since the task was accepted."""
    return MODELS[model_id]
