"""Celery as the transport of the distributed profile (docs/deployment.md).

A message carries one job id and nothing else; the task body calls ``run_job``. The job
row's lease and fence decide who runs a job, so the broker's guarantees only need to be
"at least once, usually": a redelivered message, a duplicate from the re-dispatch sweep or
a zombie worker never publishes a second result (the claim refuses a job that is not
``queued``, and refuses, by ending it, one whose attempts are spent).

* **Queues per model**: ``cinefuse.<model id>``. A worker consumes the queues of the models
  its engines serve (``served_models``), so it only takes jobs it has loaded the engine for.
* **Delivery**: ``acks_late`` (a message is acknowledged when the job has ended, not when it
  starts), ``reject_on_worker_lost``, a prefetch of one per process, one job at a time.
  Redis' visibility timeout is set above the longest job (``CINEFUSE_JOB_TIMEOUT`` plus
  ``VISIBILITY_MARGIN``); RabbitMQ's ``consumer_timeout`` is a server setting (see
  docs/deployment.md). When either runs out, the message is redelivered and the claim
  refuses it: nothing runs twice.
* **Dispatch** (``CeleryDispatcher``): after the commit, never on the request path: job ids
  go to a background publisher (publisher confirms on RabbitMQ). A message lost there (the
  broker was down, the server died between commit and publish) is found by the re-dispatch
  sweep: queued jobs older than ``CINEFUSE_REDISPATCH_AFTER`` while their model's queue
  holds fewer messages than the model has queued jobs are published again.
* A job whose lease expired is requeued by a sweeper and published again at once
  (``Sweeper.on_requeue``); one given back on shutdown is rejected back to its queue.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from cinefuse.engine.runner import RunnerContext, run_job
from cinefuse.errors import InferenceError
from cinefuse.generation.base import Engine
from cinefuse.jobs.store import JobStore
from cinefuse.metrics import count_redispatch
from cinefuse.models.registry import MODELS

log = logging.getLogger(__name__)

TASK_NAME = "cinefuse.run_job"
QUEUE_PREFIX = "cinefuse."
#: Seconds added to the job timeout for Redis' visibility timeout: encoding, upload and
#: the last database writes happen after the engine's last step.
VISIBILITY_MARGIN = 600.0
#: Job ids one publisher round takes (one model lookup, one producer).
PUBLISH_BATCH = 500
#: How long a task waits before handing back a message it could not look at (the job
#: store unreachable), so a database outage does not spin the broker.
STORE_DOWN_PAUSE = 2.0
_STOP = ""


def queue_name(model_id: str) -> str:
    """The broker queue of a model: ``cinefuse.`` and the id with anything but letters,
    digits, ``_``, ``.`` and ``-`` replaced (``pixverse:1@3`` -> ``cinefuse.pixverse_1_3``)."""
    return QUEUE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)


def make_celery(broker_url: str, job_timeout: float) -> Any:
    """A Celery app configured as this module's docstring says (no result backend)."""
    from celery import Celery

    app = Celery("cinefuse", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_PREFIX + "default",
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            # Redis: a message not acknowledged this long goes back to its queue.
            "visibility_timeout": job_timeout + VISIBILITY_MARGIN,
            # RabbitMQ: a publish returns once the broker has the message.
            "confirm_publish": True,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def served_models(engine_for: Callable[[str], Engine], only: Sequence[str] | None = None) -> list[str]:
    """The model ids this process can run (``only`` narrows them), loading each engine on the
    way: a worker loads its engines once, at start, before it takes any message."""
    served: list[str] = []
    for model_id in MODELS:
        if only and model_id not in only:
            continue
        try:
            engine_for(model_id)
        except InferenceError as exc:
            log.info("not serving %s: %s", model_id, exc.message)
            continue
        served.append(model_id)
    return served


def register_job_task(app: Any, ctx: RunnerContext) -> Any:
    """Register the task that runs jobs in this worker process (``ctx`` built once)."""
    from celery.exceptions import Reject

    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run(job_id: str) -> str | None:
        try:
            status = run_job(ctx, job_id)
        except Exception as exc:  # the job store is unreachable: hand the message back
            log.warning("job %s: could not run it now (%s: %s); message requeued", job_id, type(exc).__name__, exc)
            time.sleep(STORE_DOWN_PAUSE)
            raise Reject(str(exc), requeue=True) from exc
        if status is None and ctx.stopping():
            # Given back to the queue on shutdown (``LeaseRepository.release``): so is its message.
            raise Reject("worker shutting down", requeue=True)
        return status

    return run


class CeleryDispatcher:
    """A ``jobs.dispatch.Dispatcher`` publishing one message per job to its model's queue.

    ``dispatch`` never blocks: ids go to a background thread, which looks up their models
    (one query per batch) and publishes them. ``redispatch_lost`` is the sweeper's hook
    for lost messages (module docstring)."""

    def __init__(
        self, app: Any, store: JobStore, *, redispatch_after: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.store = store
        self.redispatch_after = redispatch_after
        self.clock = clock
        self._pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.published = 0  # counters for tests and benchmarks
        self.dropped = 0

    # ------------------------------------------------------------------ the port

    def dispatch(self, job_id: str) -> None:
        self._pending.put(job_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cinefuse-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Publish what is pending (for a few seconds at most), then end the thread."""
        self._pending.put(_STOP)
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < PUBLISH_BATCH:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            ids = [job_id for job_id in batch if job_id != _STOP]
            if ids:
                try:
                    self.publish(ids)
                except Exception as exc:  # the re-dispatch sweep publishes them later
                    self.dropped += len(ids)
                    log.warning("could not publish %d job(s): %s: %s", len(ids), type(exc).__name__, exc)
            if len(ids) < len(batch):
                return

    # ------------------------------------------------------------------ publishing

    def publish(self, job_ids: Sequence[str], models: dict[str, str] | None = None) -> int:
        """Publish one message per job now, to its model's queue; returns how many. Jobs the
        store does not know are skipped. Raises when the broker cannot be reached."""
        models = models if models is not None else self.store.jobs.models_of(job_ids)
        sent = 0
        with self.app.producer_or_acquire() as producer:
            for job_id in job_ids:
                model = models.get(job_id)
                if model is None:
                    continue
                self.app.send_task(
                    TASK_NAME,
                    args=[job_id],
                    queue=queue_name(model),
                    producer=producer,
                    ignore_result=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
                )
                sent += 1
        self.published += sent
        return sent

    def depth(self, model_id: str) -> int | None:
        """Messages ready in the model's queue (a queue not declared yet holds none), or None
        when the broker cannot be asked."""
        try:
            with self.app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1)
                channel = conn.channel()
                try:
                    _, count, _ = channel.queue_declare(queue=queue_name(model_id), passive=True)
                    return int(count)
                except conn.channel_errors:
                    return 0
                finally:
                    with contextlib.suppress(Exception):  # closed by the broker already (a passive miss)
                        channel.close()
        except Exception as exc:
            log.warning("broker queue depth of %s unknown: %s: %s", model_id, type(exc).__name__, exc)
            return None

    def redispatch_lost(self) -> int:
        """Publish again the queued jobs whose message may be lost: per model, those last
        dispatched more than ``redispatch_after`` ago, at most as many as the model's queue
        lacks messages for its queued jobs. Returns how many were published."""
        older_than = self.clock() - self.redispatch_after
        total = 0
        for model, (queued, stale) in self.store.jobs.stale_by_model(older_than).items():
            if not stale:
                continue
            depth = self.depth(model)
            if depth is None:
                continue
            ids = self.store.leases.take_for_redispatch(model, older_than, min(stale, queued - depth))
            if not ids:
                continue
            try:
                sent = self.publish(ids, {job_id: model for job_id in ids})
            except Exception as exc:
                log.warning("re-dispatch of %d %s job(s) failed: %s: %s", len(ids), model, type(exc).__name__, exc)
                continue
            log.warning("re-dispatched %d queued %s job(s) whose message may have been lost", sent, model)
            total += sent
        count_redispatch(total)
        return total
