"""The distributed profile's processes and probes (docs/deployment.md).

* ``run_worker``: what ``cinefuse worker`` runs. With a broker (``CINEFUSE_BROKER_URL``) its
  job processes are Celery workers, one *spawned* process per GPU (``--gpus``, else one per
  entry of ``CUDA_VISIBLE_DEVICES``; one CPU process for a CPU engine, or
  ``CINEFUSE_WORKER_PROCESSES``), each loading its engines once at start, consuming the
  queues of the models those engines serve, one job at a time. This process never touches
  CUDA and restarts a job process that dies (a job that kills its worker is ended by the
  attempt cap, not by the fleet running out of workers). Without a broker it keeps the
  embedded behaviour: worker threads (or processes) polling the job store. ``--role``
  runs only the deliverer or only the sweeper, so those can run as processes of their own,
  on as many machines as wanted (their claims skip rows another one holds).
* ``probes``: database, broker, bucket and live workers, for ``/readyz`` and ``cinefuse doctor``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cinefuse.engine.presence import Presence, live_since
from cinefuse.generation.base import Engine, GenerationRequest, StepCallback, no_progress
from cinefuse.jobs.store import JobStore
from cinefuse.media.frames import Frame
from cinefuse.settings import Settings
from cinefuse.storage.base import MediaStore
from cinefuse.worker_processes import SupervisedProcesses

log = logging.getLogger(__name__)

Role = Literal["all", "jobs", "deliverer", "sweeper"]
ROLES: tuple[Role, ...] = ("all", "jobs", "deliverer", "sweeper")
#: TEST ONLY (tests/integration/test_distributed.py): a job process exits at once, mid-job,
#: when it starts generating a prompt that contains this variable's value: "a job that
#: kills its worker". Never set it in a deployment.
TEST_EXIT_ON_PROMPT = "CINEFUSE_TEST_EXIT_ON_PROMPT"
TEST_EXIT_CODE = 70
#: A job process that exits with this code is not restarted (it can serve no model here).
NOTHING_TO_SERVE = 3


# ---------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str
    #: A failing required probe makes ``/readyz`` answer 503; the others only inform.
    required: bool = True


def _probe(name: str, check: Callable[[], str], required: bool = True) -> Probe:
    try:
        return Probe(name, True, check(), required)
    except Exception as exc:  # a probe reports, it never raises
        return Probe(name, False, f"{type(exc).__name__}: {exc}", required)


def check_broker(url: str, timeout: float = 3.0) -> str:
    """Connect to the broker once; returns its URL without the password."""
    import kombu

    connection: Any = kombu.Connection(url, connect_timeout=timeout, transport_options={"max_retries": 0})  # type: ignore[attr-defined,no-untyped-call]
    with connection as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
        return str(conn.as_uri())


def workers_detail(store: JobStore, interval: float) -> str:
    """Job workers whose heartbeat is recent; raises when there is none."""
    live = [w for w in store.workers.live(live_since(time.time(), interval)) if w.role == "worker"]
    if not live:
        raise RuntimeError(f"no worker heartbeat in the last {3 * interval:g} s")
    models = sorted({m for w in live for m in w.models})
    return f"{len(live)} live ({', '.join(sorted({w.host for w in live}))}), models: {', '.join(models)}"


def probes(settings: Settings, store: JobStore, media: MediaStore) -> list[Probe]:
    """Database, broker and bucket (required when configured), and live job workers (informative:
    an API server keeps accepting tasks, which queue, while workers are away)."""
    from sqlalchemy import text

    def database() -> str:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return store.engine.url.render_as_string(hide_password=True)

    found = [_probe("database", database)]
    if settings.broker_url:
        broker = settings.broker_url
        found.append(_probe("broker", lambda: check_broker(broker)))
    check_bucket = getattr(media, "check", None)
    if check_bucket is not None:
        found.append(_probe("bucket", check_bucket))
    found.append(_probe("workers", lambda: workers_detail(store, settings.heartbeat_interval), required=False))
    return found


# ---------------------------------------------------------------------------- worker command


def run_worker(
    settings: Settings,
    *,
    role: Role = "all",
    threads: int = 1,
    gpus: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
) -> None:
    """``cinefuse worker``: run the role's loops until SIGINT or SIGTERM."""
    from cinefuse.services import build_services, run_worker_process
    from cinefuse.worker_processes import ProcessWorkerPool, process_devices

    services = build_services(settings)
    roles: list[str] = []
    if role in ("all", "jobs"):
        devices = process_devices(settings, services.gpu_engine or bool(gpus), list(gpus) if gpus else None)
        if settings.broker_url:
            services.add(JobProcesses(settings, devices or [None], models))
        else:
            pool = (
                ProcessWorkerPool(settings, devices, run_worker_process) if devices else services.worker_pool(threads)
            )
            services.add(pool)
            roles.append("worker")
    if role in ("all", "sweeper"):
        if settings.broker_url:
            services.add(services.celery_dispatcher())  # re-dispatches what the sweeper finds
        services.add(services.sweeper())
        roles.append("sweeper")
    if role == "deliverer" or (role == "all" and settings.deliverer):
        services.add(services.deliverer())
        roles.append("deliverer")
    if roles:
        services.add(Presence(services.store, services.runner.owner, roles, ["*"], settings.heartbeat_interval))
    if settings.metrics_port:
        from cinefuse.metrics import serve

        serve(settings.metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    services.start()
    what = ", ".join(roles + (["celery job processes"] if role in ("all", "jobs") and settings.broker_url else []))
    print(f"cinefuse worker {services.runner.owner} running: {what}", flush=True)
    stop.wait()
    services.stop()


class JobProcesses(SupervisedProcesses):
    """Celery job processes, one per entry of ``devices`` (a GPU id, a group of them, or
    None), supervised like worker processes (``SupervisedProcesses``); one that finds no
    model to serve here is not restarted. SIGTERM is Celery's warm shutdown."""

    def __init__(self, settings: Settings, devices: Sequence[str | None], models: Sequence[str] | None) -> None:
        values, served = settings.model_dump(), list(models) if models else None
        super().__init__(
            "job process",
            devices,
            job_process_main,
            lambda index: (values, self.devices[index], served, index),
            daemon=False,
            final={NOTHING_TO_SERVE: "serves no model here"},
        )


def job_process_main(values: dict[str, Any], device: str | None, models: list[str] | None, index: int) -> None:
    """A Celery job process: its device set before anything can touch CUDA, its services
    and engines loaded once, then Celery's worker loop (threads pool of one: the consumer
    keeps the broker connection alive while the job runs) until a SIGTERM."""
    from cinefuse.worker_processes import set_device

    set_device(device)
    from celery.signals import worker_shutting_down

    from cinefuse.engine.celery_app import make_celery, queue_name, register_job_task, served_models
    from cinefuse.generation.neural.parallel import start_group
    from cinefuse.services import build_services

    settings = Settings.model_validate(values)
    assert settings.broker_url is not None
    group = start_group(settings)  # context parallelism: this process leads its GPUs' ranks
    services = build_services(settings)
    ctx = services.runner
    marker = os.environ.get(TEST_EXIT_ON_PROMPT)
    if marker:
        ctx.engine_for = _exiting_on(marker, ctx.engine_for)
    served = served_models(ctx.engine_for, models)
    if not served:
        log.error("no model can run here (engines: see cinefuse doctor)")
        sys.exit(NOTHING_TO_SERVE)
    app = make_celery(settings.broker_url, settings.job_timeout)
    stopping = threading.Event()
    ctx.stopping = stopping.is_set
    register_job_task(app, ctx)
    services.add(Presence(services.store, ctx.owner, ["worker"], served, settings.heartbeat_interval))
    if settings.metrics_port:
        from cinefuse.metrics import serve

        serve(settings.metrics_port + 1 + index)
    services.start()
    log.info("job process %s serving %s", ctx.owner, ", ".join(served))
    try:
        worker = app.Worker(
            hostname=f"cinefuse{index}@{ctx.owner}",
            pool="threads",
            concurrency=1,
            queues=[queue_name(m) for m in served],
            loglevel="INFO",
            quiet=True,
            without_mingle=True,
            without_gossip=True,
            without_heartbeat=True,
        )

        def shutting_down(**_: object) -> None:
            # The running job gives its lease back at its next step; and Celery's event loop,
            # which may sleep up to 10 s between timers, is woken to see the shutdown now
            # (``call_soon`` from another thread wakes it).
            stopping.set()
            hub = getattr(worker, "hub", None)
            if hub is not None:
                threading.Thread(target=hub.call_soon, args=(_nothing,), daemon=True).start()

        worker_shutting_down.connect(shutting_down, weak=False)
        worker.start()
    finally:
        stopping.set()
        services.stop()
        if group is not None:
            group.close()


def _nothing() -> None:
    pass


def _exiting_on(marker: str, engine_for: Callable[[str], Engine]) -> Callable[[str], Engine]:
    """TEST ONLY (``TEST_EXIT_ON_PROMPT``): engines whose generation ends this process when the
    prompt contains ``marker``."""

    class Exiting:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.name = engine.name

        def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
            if marker in request.prompt:
                log.error("TEST ONLY: %s found in the prompt: exiting", TEST_EXIT_ON_PROMPT)
                os._exit(TEST_EXIT_CODE)
            return self.engine.generate(request, on_step)

        def after_job(self) -> None:
            self.engine.after_job()

    return lambda model_id: Exiting(engine_for(model_id))
