"""Observability routes: ``GET /metrics`` (Prometheus) and ``GET /readyz``.

``/metrics`` serves this process's metrics (``cinefuse.metrics``: job durations, failures,
delivery retries of the work done here) plus gauges read from the job store at each
scrape, the same from every server of a fleet: ``cinefuse_queue_depth{model}`` and
``cinefuse_workers_live{role}``. Served only with ``prometheus-client`` installed (the
``distributed`` extra).

``/readyz`` answers 200 when the database, and the broker and bucket where configured,
answer; 503 naming the failing one otherwise. Live workers are reported too, without
failing readiness: tasks queue while workers are away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Response

from cinefuse.distributed import probes
from cinefuse.engine.presence import live_since
from cinefuse.metrics import AVAILABLE
from cinefuse.services import Services


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


def metrics_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        found = await asyncio.to_thread(probes, services.settings, services.store, services.media)
        ready = all(p.ok for p in found if p.required)
        body = {
            "status": "ready" if ready else "unavailable",
            "checks": {p.name: {"ok": p.ok, "detail": p.detail, "required": p.required} for p in found},
        }
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
