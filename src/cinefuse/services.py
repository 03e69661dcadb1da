"""Everything a server or worker process holds, built in one place from the settings, and
the background loops (workers, deliverer, sweeper, WAL checkpointer) started and stopped
in one place, whichever command runs them (``cinefuse serve`` or ``cinefuse worker``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from cinefuse.api.results import result_item
from cinefuse.api.videos.events import video_event
from cinefuse.delivery.deliverer import Deliverer, DeliverySettings
from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.engine.inputs import ImageInputs
from cinefuse.engine.local import LocalWorkerPool
from cinefuse.engine.presence import Presence
from cinefuse.engine.runner import RunnerContext, clean_stale_work_dirs
from cinefuse.engine.sweeper import Sweeper
from cinefuse.generation.registry import choose_engine, engine_provider
from cinefuse.jobs.db import Checkpointer, is_sqlite, make_engine, migrate
from cinefuse.jobs.dispatch import Dispatcher, NullDispatcher
from cinefuse.jobs.store import JobStore
from cinefuse.keys import load_or_create_secret, webhook_secrets
from cinefuse.safety.guard import ContentGuard
from cinefuse.settings import Settings
from cinefuse.storage.base import MediaStore
from cinefuse.storage.local import LocalMediaStore
from cinefuse.worker_processes import ProcessWorkerPool, process_devices, set_device, wait_for_stop

if TYPE_CHECKING:
    from cinefuse.engine.celery_app import CeleryDispatcher

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
    (in order, stopped in reverse; an ``aside`` loop is stopped alongside the others)."""

    settings: Settings
    store: JobStore
    media: MediaStore
    outbound: OutboundClient
    inputs: ImageInputs
    runner: RunnerContext
    checkpointer: Checkpointer | None
    #: The default engine runs on GPUs (its workers want one process per GPU).
    gpu_engine: bool = False
    loops: list[Loop] = field(default_factory=list)
    #: Loops no other loop needs while stopping: stopped on threads of their own.
    aside: list[Loop] = field(default_factory=list)
    _celery: CeleryDispatcher | None = None

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
            render_event=video_event,
        )

    def sweeper(self) -> Sweeper:
        """With a broker, a job whose lease expired is published again at once, and so is a
        queued job whose message may be lost (``CeleryDispatcher.redispatch_lost``)."""
        celery = self.celery_dispatcher() if self.settings.broker_url else None
        return Sweeper(
            self.store,
            self.media,
            self.settings.sweep_interval,
            on_requeue=celery.dispatch if celery else None,
            redispatch=celery.redispatch_lost if celery else None,
        )

    def celery_dispatcher(self) -> CeleryDispatcher:
        """This process's one Celery publisher (the caller adds it to the loops once)."""
        if self._celery is None:
            from cinefuse.engine.celery_app import CeleryDispatcher, make_celery

            assert self.settings.broker_url, "no CINEFUSE_BROKER_URL"
            app = make_celery(self.settings.broker_url, self.settings.job_timeout)
            self._celery = CeleryDispatcher(app, self.store, redispatch_after=self.settings.redispatch_after)
        return self._celery

    def dispatcher(self, workers: int) -> Dispatcher:
        """How an API server hands jobs on: through Celery when a broker is configured (with
        ``workers`` embedded ones polling the store besides), else to its ``workers``
        embedded workers (none: other processes poll the store)."""
        local: Dispatcher | None = None
        if workers > 0:
            local = self.worker_pool(workers)
            self.add(Presence(self.store, self.runner.owner, ["worker"], ["*"], self.settings.heartbeat_interval))
        if not self.settings.broker_url:
            return local or NullDispatcher()
        celery = self.celery_dispatcher()
        return celery if local is None else _Both(celery, local)

    def worker_pool(self, workers: int, *, processes: bool = True) -> Dispatcher:
        """The workers of this process: ``workers`` threads, or, for an engine on GPUs (or
        ``CINEFUSE_WORKER_PROCESSES``), spawned processes (``worker_processes.py``)."""

        devices = process_devices(self.settings, self.gpu_engine) if processes else None
        if devices:
            return ProcessWorkerPool(self.settings, devices, run_worker_process)
        return LocalWorkerPool(self.runner, workers)

    def add(self, loop: Loop, *, aside: bool = False) -> None:
        """Run ``loop`` with the services. ``aside``: no other loop needs it while stopping
        (the deliverer: what it has not sent stays in the outbox), so its stop, which may
        wait out a poll interval, runs alongside the others rather than before them."""
        self.loops.append(loop)
        if aside:
            self.aside.append(loop)

    def start(self) -> None:
        clean_stale_work_dirs(self.runner.work_dir)
        if self.checkpointer:
            self.checkpointer.start()
        for loop in self.loops:
            loop.start()

    def stop(self) -> None:
        # The time this takes is part of a SIGTERM's time to exit (``cinefuse serve`` has a
        # second for it all): loops set aside wind down at the same time as the others.
        aside = [threading.Thread(target=loop.stop, name=f"stop-{type(loop).__name__}") for loop in self.aside]
        for thread in aside:
            thread.start()
        aside_ids = {id(loop) for loop in self.aside}
        for loop in reversed(self.loops):
            if id(loop) not in aside_ids:
                loop.stop()
        for thread in aside:
            thread.join()
        if self.checkpointer:
            self.checkpointer.stop()


class _Both:
    """Two dispatchers as one: Celery's, and embedded workers polling the store."""

    def __init__(self, first: Dispatcher, second: Dispatcher) -> None:
        self.first, self.second = first, second

    def dispatch(self, job_id: str) -> None:
        self.first.dispatch(job_id)
        self.second.dispatch(job_id)

    def start(self) -> None:
        self.first.start()
        self.second.start()

    def stop(self) -> None:
        self.second.stop()
        self.first.stop()


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
        sound=settings.sound,
        safety=ContentGuard.from_settings(settings),
    )
    url = settings.resolved_database_url
    checkpointer = Checkpointer(url) if is_sqlite(url) else None
    gpu_engine = choose_engine(settings).gpu
    return Services(settings, store, media, outbound, inputs, runner, checkpointer, gpu_engine)


def run_worker_process(values: dict[str, Any], device: str | None) -> None:
    """A spawned worker process (``worker_processes.py``): its device first, then the services,
    then jobs on worker threads of its own until a SIGTERM or SIGINT."""
    from cinefuse.generation.neural.parallel import start_group

    set_device(device)
    settings = Settings.model_validate(values)
    group = start_group(settings)  # context parallelism: this process leads its GPUs' ranks
    services = build_services(settings)
    services.add(services.worker_pool(1, processes=False))
    services.start()
    try:
        wait_for_stop()
    finally:
        services.stop()
        if group is not None:
            group.close()
