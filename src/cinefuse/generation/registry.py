"""Which engine runs a model on this machine (``CINEFUSE_ENGINE``)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cinefuse.generation.base import Engine

ENGINE_NAMES = ("preview", "wan", "ltx")


def make_engine(name: str) -> Engine:
    """Build an engine by name. ``auto`` picks the best engine whose weights are present;
    today that is always ``preview`` (the neural engines are not built yet)."""
    if name in ("auto", "preview"):
        from cinefuse.generation.preview import PreviewEngine

        return PreviewEngine()
    raise ValueError(f"engine {name!r} is not available on this build (known: {', '.join(ENGINE_NAMES)})")


def engine_provider(name: str) -> Callable[[str], Engine]:
    """model id -> engine, loaded once on first use and shared (engines are used by one
    job at a time per thread; the preview engine keeps no per-job state)."""
    lock = threading.Lock()
    engines: dict[str, Engine] = {}

    def engine_for(model_id: str) -> Engine:
        with lock:
            if model_id not in engines:
                engines[model_id] = make_engine(name)
            return engines[model_id]

    return engine_for
