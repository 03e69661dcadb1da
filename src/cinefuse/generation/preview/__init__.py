"""The preview engine: a deterministic, non-neural 2.5D cinematic renderer (CPU, no weights).

See :mod:`.engine` for the frame loop and docs/preview-engine.md for what it renders.
"""

from .engine import PreviewEngine

__all__ = ["PreviewEngine"]
