"""``create_app(settings)``: builds the services once and mounts the routers."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cinefuse.api.auth import KeyRing
from cinefuse.api.availability import ModelAvailability, edit_problem, fleet_snapshot, local_snapshot
from cinefuse.api.envelope import EnvelopeLimits
from cinefuse.api.health import health_router
from cinefuse.api.media import media_router
from cinefuse.api.metrics import metrics_router
from cinefuse.api.openapi import install_openapi
from cinefuse.api.ratelimit import rate_limiter
from cinefuse.api.rest import ASGIApp, RestEndpoint
from cinefuse.api.swagger import swagger_router
from cinefuse.api.tasks import TaskHandler
from cinefuse.api.ui import ui_router
from cinefuse.api.videos import ModelNames, VideosFrontDoor, videos_router
from cinefuse.api.ws import ws_router
from cinefuse.engine.presence import live_since
from cinefuse.jobs.dispatch import Dispatcher
from cinefuse.jobs.service import JobService
from cinefuse.jobs.writer import BatchWriter
from cinefuse.keys import configured_keys
from cinefuse.services import Services, build_services
from cinefuse.settings import Settings
from cinefuse.storage.local import LocalMediaStore


def model_availability(settings: Settings, services: Services) -> ModelAvailability:
    """What ``GET /v1/models`` says runs here: this process's engines (embedded), or the
    models the live workers serve (distributed)."""
    if not settings.broker_url:
        return ModelAvailability(lambda: local_snapshot(settings))

    def served() -> set[str] | None:
        since = live_since(time.time(), settings.heartbeat_interval)
        live = [w for w in services.store.workers.live(since) if w.role == "worker"]
        models = {m for w in live for m in w.models}
        return None if not live or "*" in models else models

    return ModelAvailability(lambda: fleet_snapshot(served()))


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings()
    services = build_services(settings)
    keys = KeyRing(services.store.keys, configured_keys(settings)[0])
    writer = BatchWriter(services.store.jobs)
    if services.checkpointer:
        services.checkpointer.pause = writer.lock
    dispatcher: Dispatcher = services.dispatcher(settings.workers)
    jobs = JobService(
        services.store, writer, dispatcher, queue_limit=settings.queue_limit, max_attempts=settings.max_attempts
    )
    jobs.refresh_queue_counts()
    sweeper = services.sweeper()

    def after_sweep() -> None:
        jobs.refresh_queue_counts()
        keys.refresh()

    sweeper.after_sweep = after_sweep
    for loop in (writer, dispatcher, sweeper):
        services.add(loop)
    deliverer = services.deliverer() if settings.deliverer else None
    if deliverer:
        services.add(deliverer, aside=True)
    handler = TaskHandler(
        keys,
        jobs,
        services.inputs,
        services.media.signed_url,
        rate_limit=settings.rate_limit,
        max_tasks=settings.max_tasks_per_request,
        prices=settings.prices,
        limiter=rate_limiter(settings, services.store),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start()
        # Everything built so far lives as long as the process: keep it out of the
        # cyclic GC's generations so collections stay short under load.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(title="cinefuse", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_openapi(app, max_tasks=settings.max_tasks_per_request)  # POST /v1 in /openapi.json and /docs
    app.include_router(swagger_router())  # /docs, without a CDN
    app.include_router(health_router())
    app.include_router(metrics_router(services, keys))
    app.include_router(ui_router(availability=model_availability(settings, services)))
    limits = EnvelopeLimits.from_settings(settings)
    app.include_router(ws_router(handler, settings.ws_idle_timeout, limits, settings.ws_stall_timeout))
    local = not settings.broker_url
    door = VideosFrontDoor(
        keys,
        handler,
        services.store,
        services.media,
        ModelNames.from_settings(settings),
        limits,
        edit_problem=lambda model_id: edit_problem(settings, model_id, local=local),
    )
    app.include_router(videos_router(door))  # the OpenAI-style front door (docs/openai.md)
    if isinstance(services.media, LocalMediaStore):
        app.include_router(media_router(services.media))
    # POST /v1 is answered in front of FastAPI (see api/rest.py); the rest is FastAPI's.
    return RestEndpoint(handler, app, limits)
