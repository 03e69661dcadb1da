"""``create_app(settings)``: builds the services once and mounts the routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cinefuse.api.auth import KeyRing
from cinefuse.api.health import health_router
from cinefuse.api.media import media_router
from cinefuse.api.metrics import metrics_router
from cinefuse.api.openapi import install_openapi
from cinefuse.api.ratelimit import rate_limiter
from cinefuse.api.rest import ASGIApp, RestEndpoint
from cinefuse.api.swagger import swagger_router
from cinefuse.api.tasks import TaskHandler
from cinefuse.api.ui import ui_router
from cinefuse.api.ws import ws_router
from cinefuse.jobs.dispatch import Dispatcher
from cinefuse.jobs.service import JobService
from cinefuse.jobs.writer import BatchWriter
from cinefuse.keys import configured_keys
from cinefuse.services import build_services
from cinefuse.settings import Settings
from cinefuse.storage.local import LocalMediaStore


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
        services.add(deliverer)
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
    app.include_router(metrics_router(services))
    app.include_router(ui_router())
    app.include_router(ws_router(handler, settings.ws_idle_timeout, settings.max_body_bytes, settings.ws_stall_timeout))
    if isinstance(services.media, LocalMediaStore):
        app.include_router(media_router(services.media))
    # POST /v1 is answered in front of FastAPI (see api/rest.py); the rest is FastAPI's.
    return RestEndpoint(handler, app, settings.max_body_bytes)
