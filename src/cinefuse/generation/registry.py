"""Which engine runs a model on this machine (``CINEFUSE_ENGINE``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from cinefuse.generation.base import Engine

ENGINE_NAMES = ("preview", "wan", "ltx")


#: Optional monocular depth model for the preview engine, under ``CINEFUSE_MODELS_DIR``.
DEPTH_MODEL = Path("depth") / "midas_small.onnx"


def make_engine(name: str, models_dir: Path | None = None) -> Engine:
    """Build an engine by name. ``auto`` picks the best engine whose weights are present;
    today that is always ``preview`` (the neural engines are not built yet). The preview
    engine uses a local depth model when ``models_dir/depth/midas_small.onnx`` exists."""
    if name in ("auto", "preview"):
        from cinefuse.generation.preview import PreviewEngine

        depth = models_dir / DEPTH_MODEL if models_dir else None
        return PreviewEngine(depth_model=depth if depth and depth.is_file() else None)
    raise ValueError(f"engine {name!r} is not available on this build (known: {', '.join(ENGINE_NAMES)})")


def engine_provider(name: str, models_dir: Path | None = None) -> Callable[[str], Engine]:
    """model id -> engine, loaded once on first use and shared (engines are used by one
    job at a time per thread; the preview engine keeps no per-job state)."""
    lock = threading.Lock()
    engines: dict[str, Engine] = {}

    def engine_for(model_id: str) -> Engine:
        with lock:
            if model_id not in engines:
                engines[model_id] = make_engine(name, models_dir)
            return engines[model_id]

    return engine_for
