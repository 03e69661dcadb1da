"""Which engines exist, which are usable here, and which one runs a model.

An engine is one module plus one registry line: the module defines an ``EngineSpec`` and
``pyproject.toml`` names it under the ``cinefuse.engines`` entry points (the settings read
the same list to refuse an unknown ``CINEFUSE_ENGINE`` when they are loaded). Each spec
says whether it can run on this machine (``check``: imports, weights, devices), which
``cinefuse doctor`` reports, and builds the engine (``load``) once per worker process.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from cinefuse.errors import InferenceError
from cinefuse.generation.base import Engine
from cinefuse.models.registry import require_model
from cinefuse.settings import AUTO_ENGINE, ENGINE_GROUP, Settings


class EngineUnavailable(RuntimeError):
    """The configured engine cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class Availability:
    ok: bool
    detail: str


@dataclass(frozen=True)
class EngineSpec:
    """How to find out about, and build, one engine.

    ``rank`` orders engines for ``CINEFUSE_ENGINE=auto``: the available engine with the
    highest rank runs the models that do not name an engine of their own.
    """

    name: str
    rank: int
    check: Callable[[Settings], Availability]
    load: Callable[[Settings], Engine]
    #: Runs on a GPU: workers get one spawned process per visible GPU (worker_processes.py).
    gpu: bool = False


def not_installed(*packages: str) -> Availability | None:
    """An engine's check for its Python packages (without importing them): unavailable,
    naming the missing ones and the extra that brings them, or None when all are there."""
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        return Availability(False, f"not installed: {', '.join(missing)} (pip install 'cinefuse[gpu]')")
    return None


def engine_specs() -> dict[str, EngineSpec]:
    """Every registered engine, by name."""
    specs: dict[str, EngineSpec] = {}
    for point in entry_points(group=ENGINE_GROUP):
        spec = point.load()
        if not isinstance(spec, EngineSpec) or spec.name != point.name:
            raise TypeError(f"entry point {point.name} = {point.value} is not the EngineSpec named {point.name!r}")
        specs[spec.name] = spec
    return specs


def choose_engine(settings: Settings) -> EngineSpec:
    """The engine ``settings.engine`` names, or for ``auto`` the best available one.
    Raises ``EngineUnavailable`` (with the engine's own reason) when it cannot run here."""
    specs = engine_specs()
    if settings.engine != AUTO_ENGINE:
        spec = specs[settings.engine]  # the settings refused unknown names already
        health = spec.check(settings)
        if not health.ok:
            raise EngineUnavailable(f"engine {spec.name} cannot run here: {health.detail}")
        return spec
    for spec in sorted(specs.values(), key=lambda s: s.rank, reverse=True):
        if spec.check(settings).ok:
            return spec
    raise EngineUnavailable("no engine can run here (see cinefuse doctor)")


def engine_provider(settings: Settings) -> Callable[[str], Engine]:
    """model id -> engine. The engine of models that name none (``pixverse:1@3``) is chosen
    at once, so a worker that cannot run anything fails at start; a model naming its own
    engine (``cinefuse:ltx-distilled@1``) gets that one or, where it cannot run here, the
    job's ``inferenceError`` saying why (never another engine in its place). Engines load
    on first use and are shared (they run one job at a time per worker thread)."""
    default = choose_engine(settings)
    specs = engine_specs()
    lock = threading.Lock()
    loaded: dict[str, Engine] = {}

    def engine_for(model_id: str) -> Engine:
        named = require_model(model_id).engine
        spec = specs.get(named) if named else default
        if spec is None:
            raise InferenceError(f"Model {model_id} needs engine {named}, which this server does not have.")
        with lock:
            if spec.name not in loaded:
                health = spec.check(settings)
                if not health.ok:
                    raise InferenceError(f"Model {model_id} runs on engine {spec.name}, unusable here: {health.detail}")
                loaded[spec.name] = spec.load(settings)
            return loaded[spec.name]

    return engine_for
