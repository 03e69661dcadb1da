"""Which models this server can run now, and for each other one what makes it run: the
``available`` and ``missing`` fields of ``GET /v1/models``, which the studio's model picker
greys out with (docs/models.md).

* **Embedded** (the workers run in this process): a model naming an engine runs when that
  engine's check passes here (its weights folder present and complete, its packages
  installed); ``pixverse:1@3`` and the preview always run (the best engine present).
* **Distributed** (the workers run elsewhere): the models the live workers say they serve
  (their heartbeats); while no worker has beaten yet, nothing is greyed out.

A missing model's hint is the command that fixes it: ``cinefuse models pull <folder>`` for
weights, the ``pip install`` its engine names for packages. Checks read the weights folders,
so a snapshot is kept for ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cinefuse.generation.registry import EngineUnavailable, choose_engine, engine_specs
from cinefuse.hub.catalogue import catalogue
from cinefuse.models.registry import MODELS
from cinefuse.settings import Settings

#: model id -> None (runs here) or what to do so that it does.
Snapshot = dict[str, str | None]
#: How long a snapshot stands (seconds): pulled weights show within this.
SNAPSHOT_TTL = 10.0


def pull_hint(model_id: str) -> str:
    """The ``cinefuse models pull`` that brings ``model_id``'s main weights folder."""
    entry = next((e for e in catalogue() if model_id in e.model_ids and e.roles and not e.gguf_for), None)
    if entry is None:
        return "its weights are not here (docs/engines.md)"
    return f"run `cinefuse models pull {entry.name}` on the server"


def local_snapshot(settings: Settings) -> Snapshot:
    """The embedded profile's snapshot: each model's engine checked in this process."""
    specs = engine_specs()
    checks = {name: spec.check(settings) for name, spec in specs.items()}
    snapshot: Snapshot = {}
    for model_id, caps in MODELS.items():
        check = checks.get(caps.engine) if caps.engine else None
        if caps.engine is None or (check is not None and check.ok):
            snapshot[model_id] = None
        elif check is not None and check.detail.startswith("not installed"):
            snapshot[model_id] = f"Not installed on this server: {check.detail}."
        else:
            snapshot[model_id] = f"No weights on this server: {pull_hint(model_id)}."
    return snapshot


def fleet_snapshot(served: set[str] | None) -> Snapshot:
    """The distributed profile's snapshot from the models the live workers serve (None: no
    worker has said yet, or one serves any model)."""
    if served is None:
        return dict.fromkeys(MODELS)
    return {
        model_id: None
        if model_id in served or MODELS[model_id].engine is None
        else f"No worker serves it: {pull_hint(model_id)} of a worker, and restart it."
        for model_id in MODELS
    }


class ModelAvailability:
    """A ``Snapshot`` from ``compute``, recomputed at most every ``ttl`` seconds."""

    def __init__(self, compute: Callable[[], Snapshot], ttl: float = SNAPSHOT_TTL) -> None:
        self.compute = compute
        self.ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = 0.0

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = time.monotonic()
            if self._snapshot is None or now - self._taken >= self.ttl:
                self._snapshot, self._taken = self.compute(), now
            return self._snapshot

    @classmethod
    def everything(cls) -> ModelAvailability:
        """Every model available (a router built without a server behind it)."""
        return cls(lambda: dict.fromkeys(MODELS), ttl=float("inf"))


#: The engine that edits videos (video to video: VACE), and the folder that gives it that.
EDITING_ENGINE = "wan"
EDITING_FOLDER = "Wan2.1-VACE-1.3B-diffusers"


def edit_problem(settings: Settings, model_id: str, *, local: bool) -> str | None:
    """Why ``model_id`` cannot edit a video on this server (``POST /v1/videos/edits``), or
    None when it can. ``local``: the workers run here, so their weights are checked too; a
    fleet's workers are only known to run the engine (a worker without the VACE weights
    fails the edit with ``inferenceError`` saying so)."""
    engine = MODELS[model_id].engine
    if engine is None:
        if not local:
            return None
        try:
            engine = choose_engine(settings).name
        except EngineUnavailable as exc:
            return str(exc)
    if engine != EDITING_ENGINE:
        return (
            f"Model {model_id} runs on the {engine} engine, which has no video-to-video, so it cannot edit a video:"
            " name model cinefuse:wan@1 (with the VACE weights on the server)."
        )
    if not local:
        return None
    from cinefuse.generation.neural.weights import find_role

    check = engine_specs()[EDITING_ENGINE].check(settings)
    if not check.ok:
        return f"Edits run on the Wan engine, which cannot run here: {check.detail}."
    if not find_role(settings, "references").ok:
        return (
            "Edits need video-to-video, which the Wan engine does with the VACE weights, and this server has none:"
            f" run `cinefuse models pull {EDITING_FOLDER}` (or the 14B folder) on the server."
        )
    return None
