"""Which engines exist, which are usable here, and which one runs a model.

An engine is one module plus one registry line: the module defines an ``EngineSpec`` and
``pyproject.toml`` names it under the ``cinefuse.engines`` entry points (the settings read
the same list to refuse an unknown ``CINEFUSE_ENGINE`` when they are loaded). Each spec
says whether it can run on this machine (``check``: imports, weights, devices), which
``cinefuse doctor`` reports, and builds the engine (``load``) once per worker process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from cinefuse.generation.base import Engine
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
    """model id -> engine, chosen at once (so a worker that cannot run fails at start),
    loaded on first use and shared (engines run one job at a time per worker thread)."""
    spec = choose_engine(settings)
    lock = threading.Lock()
    loaded: list[Engine] = []

    def engine_for(model_id: str) -> Engine:
        with lock:
            if not loaded:
                loaded.append(spec.load(settings))
            return loaded[0]

    return engine_for
