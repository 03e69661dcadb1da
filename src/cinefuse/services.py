"""Everything a server or worker process holds, built in one place from the settings, and
the background loops (workers, deliverer, sweeper, WAL checkpointer) started and stopped
in one place, whichever command runs them (``cinefuse serve`` or ``cinefuse worker``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from cinefuse.api.results import result_item
from cinefuse.delivery.deliverer import Deliverer, DeliverySettings
from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.engine.inputs import ImageInputs
from cinefuse.engine.local import LocalWorkerPool
from cinefuse.engine.runner import RunnerContext, clean_stale_work_dirs
from cinefuse.engine.sweeper import Sweeper
from cinefuse.generation.registry import engine_provider
from cinefuse.jobs.db import Checkpointer, is_sqlite, make_engine, migrate
from cinefuse.jobs.store import JobStore
from cinefuse.keys import load_or_create_secret, webhook_secrets
from cinefuse.safety.guard import ContentGuard
from cinefuse.settings import Settings
from cinefuse.storage.base import MediaStore
from cinefuse.storage.local import LocalMediaStore

log = logging.getLogger(__name__)


class Loop(Protocol):
    """A background loop: started once, stopped once."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def build_media_store(settings: Settings) -> MediaStore:
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


@dataclass
class Services:
    """The process's parts; ``start``/``stop`` run the background loops added with ``add``
    (in order, stopped in reverse)."""

    settings: Settings
    store: JobStore
    media: MediaStore
    outbound: OutboundClient
    inputs: ImageInputs
    runner: RunnerContext
    checkpointer: Checkpointer | None
    loops: list[Loop] = field(default_factory=list)

    def deliverer(self) -> Deliverer:
        return Deliverer(
            self.store,
            self.media,
            self.outbound,
            partial(result_item, sign=self.media.signed_url),
            DeliverySettings(
                self.settings.webhook_max_tries, self.settings.webhook_backoff, self.settings.delivery_timeout
            ),
            webhook_secret=webhook_secrets(self.settings, self.store.keys).get,
        )

    def sweeper(self) -> Sweeper:
        return Sweeper(self.store, self.media, self.settings.sweep_interval)

    def worker_pool(self, workers: int) -> LocalWorkerPool:
        return LocalWorkerPool(self.runner, workers)

    def add(self, loop: Loop) -> None:
        self.loops.append(loop)

    def start(self) -> None:
        clean_stale_work_dirs(self.runner.work_dir)
        if self.checkpointer:
            self.checkpointer.start()
        for loop in self.loops:
            loop.start()

    def stop(self) -> None:
        for loop in reversed(self.loops):
            loop.stop()
        if self.checkpointer:
            self.checkpointer.stop()


def build_services(settings: Settings) -> Services:
    """Connect to (and migrate) the job store, open the media store, choose the engine.
    Raises ``generation.registry.EngineUnavailable`` when the configured engine cannot run."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.resolved_database_url)
    migrate(db)
    store = JobStore(db)
    media = build_media_store(settings)
    outbound = OutboundClient(OutboundPolicy.from_setting(settings.outbound_allow))
    inputs = ImageInputs(store.images, media, outbound)
    runner = RunnerContext(
        store=store,
        media=media,
        inputs=inputs,
        engine_for=engine_provider(settings),
        prices=settings.prices,
        work_dir=settings.data_dir / "work",
        lease_seconds=settings.lease_seconds,
        job_timeout=settings.job_timeout,
        default_ttl=settings.default_ttl,
        x264_preset=settings.x264_preset,
        safety=ContentGuard.from_settings(settings),
    )
    url = settings.resolved_database_url
    checkpointer = Checkpointer(url) if is_sqlite(url) else None
    return Services(settings, store, media, outbound, inputs, runner, checkpointer)
