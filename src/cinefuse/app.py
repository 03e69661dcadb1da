"""``create_app(settings)``: builds every service once and mounts the routers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from cinefuse.api.health import health_router
from cinefuse.api.media import media_router
from cinefuse.api.rest import ASGIApp, RestEndpoint
from cinefuse.api.tasks import TaskHandler
from cinefuse.api.ws import ws_router
from cinefuse.delivery.deliverer import Deliverer, DeliverySettings
from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.engine.dispatcher import Dispatcher, NullDispatcher
from cinefuse.engine.local import LocalWorkerPool
from cinefuse.engine.runner import RunnerContext
from cinefuse.generation.registry import engine_provider
from cinefuse.jobs.db import Checkpointer, is_sqlite, make_engine, migrate
from cinefuse.jobs.repository import JobRepository
from cinefuse.jobs.service import JobService
from cinefuse.jobs.sweeper import Sweeper
from cinefuse.jobs.writer import BatchWriter
from cinefuse.keys import KeyRing, configured_keys, load_or_create_secret, webhook_secrets
from cinefuse.media.inputs import ImageInputs
from cinefuse.safety.guard import ContentGuard
from cinefuse.settings import Settings
from cinefuse.storage.base import MediaStore
from cinefuse.storage.local import LocalMediaStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a server or worker process holds, built in one place."""

    settings: Settings
    repo: JobRepository
    store: MediaStore
    images: ImageInputs
    runner: RunnerContext
    checkpointer: Checkpointer | None
    outbound: OutboundClient

    def deliverer(self) -> Deliverer:
        secrets = webhook_secrets(self.settings, self.repo)
        return Deliverer(
            self.repo,
            self.store,
            self.outbound,
            self.store.signed_url,
            DeliverySettings(
                self.settings.webhook_max_tries, self.settings.webhook_backoff, self.settings.delivery_timeout
            ),
            webhook_secret=secrets.get,
        )


def build_store(settings: Settings) -> MediaStore:
    if settings.s3_bucket:
        from cinefuse.storage.s3 import S3MediaStore

        return S3MediaStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            prefix=settings.s3_prefix,
        )
    return LocalMediaStore(settings.data_dir / "media", settings.base_url, load_or_create_secret(settings))


def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.resolved_database_url)
    migrate(db)
    repo = JobRepository(db)
    store = build_store(settings)
    outbound = OutboundClient(OutboundPolicy.from_setting(settings.outbound_allow))
    images = ImageInputs(repo, store, outbound)
    runner = RunnerContext(
        repo=repo,
        store=store,
        images=images,
        engine_for=engine_provider(settings.engine, settings.models_dir),
        prices=settings.prices,
        work_dir=settings.data_dir / "work",
        lease_seconds=settings.lease_seconds,
        default_ttl=settings.default_ttl,
        x264_preset=settings.x264_preset,
        safety=ContentGuard.from_settings(settings),
    )
    url = settings.resolved_database_url
    checkpointer = Checkpointer(url) if is_sqlite(url) else None
    return Services(settings, repo, store, images, runner, checkpointer, outbound)


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings()
    services = build_services(settings)
    keys = KeyRing(services.repo, configured_keys(settings)[0])
    writer = BatchWriter(services.repo)
    if services.checkpointer:
        services.checkpointer.pause = writer.lock
    dispatcher: Dispatcher = (
        LocalWorkerPool(services.runner, settings.workers) if settings.workers > 0 else NullDispatcher()
    )
    jobs = JobService(
        services.repo,
        writer,
        services.images,
        dispatcher,
        services.store.signed_url,
        queue_limit=settings.queue_limit,
        max_attempts=settings.max_attempts,
    )
    jobs.refresh_queue_counts()
    sweeper = Sweeper(services.repo, services.store, settings.sweep_interval, extra=jobs.refresh_queue_counts)
    handler = TaskHandler(keys, jobs, services.images, rate_limit=settings.rate_limit)
    deliverer = services.deliverer() if settings.deliverer else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.checkpointer:
            services.checkpointer.start()
        dispatcher.start()
        sweeper.start()
        if deliverer:
            deliverer.start()
        # Everything built so far lives as long as the process: keep it out of the
        # cyclic GC's generations so collections stay short under load.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if deliverer:
                deliverer.stop()
            dispatcher.stop()
            sweeper.stop()
            writer.close()
            if services.checkpointer:
                services.checkpointer.stop()

    app = FastAPI(title="cinefuse", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.services = services
    app.state.jobs = jobs
    app.state.sweeper = sweeper
    app.state.deliverer = deliverer
    app.include_router(health_router())
    app.include_router(ws_router(handler, settings.ws_idle_timeout, settings.max_body_bytes))
    if isinstance(services.store, LocalMediaStore):
        app.include_router(media_router(services.store))
    # POST /v1 is answered in front of FastAPI (see api/rest.py); the rest is FastAPI's.
    return RestEndpoint(handler, app, settings.max_body_bytes)
