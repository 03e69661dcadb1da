"""Observability routes: ``GET /metrics`` (Prometheus) and ``GET /readyz``.

``/metrics`` serves this process's metrics (``cinefuse.metrics``: job durations, failures,
delivery retries of the work done here) plus gauges read from the job store at each
scrape, the same from every server of a fleet: ``cinefuse_queue_depth{model}`` and
``cinefuse_workers_live{role}``. Served only with ``prometheus-client`` installed (the
``distributed`` extra).

``/readyz`` answers 200 when the database, and the broker and bucket where configured,
answer; 503 otherwise. Live workers are checked too, without failing readiness: tasks
queue while workers are away. Anyone gets the verdict (``{"status": ...}``); the checks
and their details (database URL, broker, worker hosts) go only to a caller with a valid
API key or on this machine, and to the log when readiness changes (docs/api.md,
"Readiness").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from cinefuse.api.auth import KeyRing, bearer_key, is_local
from cinefuse.distributed import Probe, probes
from cinefuse.engine.presence import live_since
from cinefuse.metrics import AVAILABLE
from cinefuse.services import Services

log = logging.getLogger(__name__)


class StoreCollector:
    """Cluster-wide gauges from the job store, read at each scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        store = self.services.store
        depth = GaugeMetricFamily("cinefuse_queue_depth", "Queued jobs per model (the job store).", labels=["model"])
        for model, count in sorted(store.jobs.queued_by_model().items()):
            depth.add_metric([model], count)
        yield depth
        live = GaugeMetricFamily(
            "cinefuse_workers_live", "Processes with a recent heartbeat, by role.", labels=["role"]
        )
        roles: dict[str, int] = {"worker": 0, "sweeper": 0, "deliverer": 0}
        for worker in store.workers.live(live_since(time.time(), self.services.settings.heartbeat_interval)):
            roles[worker.role] = roles.get(worker.role, 0) + 1
        for role, count in sorted(roles.items()):
            live.add_metric([role], count)
        yield live


class ReadinessLog:
    """Logs the failing checks when they change (not at every probe: an orchestrator asks
    every few seconds), and the return to ready."""

    def __init__(self) -> None:
        self._failing: tuple[str, ...] = ()

    def record(self, found: Sequence[Probe]) -> None:
        failing = tuple(f"{p.name}: {p.detail}" for p in found if not p.ok)
        if failing == self._failing:
            return
        if failing:
            log.warning("readiness: failing checks: %s", "; ".join(failing))
        else:
            log.info("readiness: every check passes again")
        self._failing = failing


def may_see_details(request: Request, keys: KeyRing) -> bool:
    """A caller on this machine, or one with a valid API key."""
    return is_local(request.scope) or keys.key_id(bearer_key(request.scope)) is not None


def metrics_router(services: Services, keys: KeyRing) -> APIRouter:
    router = APIRouter()
    readiness = ReadinessLog()

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        found = await asyncio.to_thread(probes, services.settings, services.store, services.media)
        readiness.record(found)
        ready = all(p.ok for p in found if p.required)
        body: dict[str, Any] = {"status": "ready" if ready else "unavailable"}
        if may_see_details(request, keys):
            body["checks"] = {p.name: {"ok": p.ok, "detail": p.detail, "required": p.required} for p in found}
        return Response(orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json")

    if AVAILABLE:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

        cluster = CollectorRegistry(auto_describe=False)
        cluster.register(StoreCollector(services))  # type: ignore[arg-type]

        def scrape() -> bytes:
            return generate_latest(REGISTRY) + generate_latest(cluster)

        @router.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(await asyncio.to_thread(scrape), media_type=CONTENT_TYPE_LATEST)

    return router
