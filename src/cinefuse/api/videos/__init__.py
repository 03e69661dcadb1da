"""The OpenAI-style front door, ``/v1/videos`` (docs/openai.md): a second way in to the same
jobs, engines, store, limits and media as ``POST /v1``."""

from cinefuse.api.videos.aliases import ModelNames
from cinefuse.api.videos.door import VideosFrontDoor
from cinefuse.api.videos.router import videos_router

__all__ = ["ModelNames", "VideosFrontDoor", "videos_router"]
