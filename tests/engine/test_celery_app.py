"""Celery as transport (``engine.celery_app``) against real brokers (RabbitMQ and Redis on
127.0.0.1; skipped with a reason when one is down): the message carries only the job id,
on the queue of the job's model; dispatching never blocks, even with the broker gone; the
re-dispatch sweep publishes again only what the queue lacks; the task body runs a job
once, refuses a redelivered or spent one, and hands its message back on shutdown.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from tests.conftest import FakeClock
from tests.engine.test_runner import Harness
from tests.factories import new_job
from tests.integration.cluster import AMQP_URL, REDIS_URL, clean_broker

from cinefuse.engine.celery_app import (
    TASK_NAME,
    VISIBILITY_MARGIN,
    CeleryDispatcher,
    make_celery,
    queue_name,
    register_job_task,
    served_models,
)
from cinefuse.errors import InferenceError
from cinefuse.generation.base import Engine
from cinefuse.generation.preview import PreviewEngine
from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.store import JobStore
from cinefuse.jobs.tables import jobs

# serial: it drains the real broker queues the distributed tests use.
pytestmark = [pytest.mark.services, pytest.mark.serial]
UNREACHABLE = "amqp://guest:guest@127.0.0.1:1//"


@pytest.fixture(params=["amqp", "redis"])
def broker(request: pytest.FixtureRequest) -> str:
    url = AMQP_URL if request.param == "amqp" else REDIS_URL
    clean_broker(url)  # skips when the broker is down
    return url


def take_messages(app: Any, model: str) -> list[Any]:
    """Every message ready on the model's queue, removed from it."""
    messages = []
    with app.connection_for_read() as conn:
        channel = conn.channel()
        while (message := channel.basic_get(queue=queue_name(model), no_ack=True)) is not None:
            messages.append(message)
        with contextlib.suppress(Exception):
            channel.close()
    return messages


def job_ids_of(messages: list[Any]) -> list[str]:
    ids = []
    for message in messages:
        assert message.headers["task"] == TASK_NAME
        args, kwargs, _ = json.loads(message.body)
        assert kwargs == {} and len(args) == 1  # the job id, and nothing else
        ids.append(args[0])
    return ids


def test_queue_names_follow_model_ids() -> None:
    assert queue_name("pixverse:1@3") == "cinefuse.pixverse_1_3"
    assert queue_name("cinefuse:wan2.2-ti2v@1") == "cinefuse.cinefuse_wan2.2-ti2v_1"


def test_delivery_settings() -> None:
    conf = make_celery(AMQP_URL, job_timeout=1800).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 1800 + VISIBILITY_MARGIN
    assert conf.task_ignore_result


def test_each_job_goes_to_its_models_queue_as_a_bare_id(broker: str, repo: JobStore) -> None:
    alpha = repo.keys.ensure(["k"])
    key_id = next(iter(alpha.values()))
    first, second = new_job(key_id), new_job(key_id, model="cinefuse:preview@1")
    repo.jobs.insert([first, second])
    app = make_celery(broker, 60)
    dispatcher = CeleryDispatcher(app, repo, redispatch_after=60)
    dispatcher.start()
    dispatcher.dispatch(first.id)
    dispatcher.dispatch(second.id)
    dispatcher.dispatch("unknown-job")  # skipped: no model to route it by
    dispatcher.stop()
    assert dispatcher.published == 2
    assert job_ids_of(take_messages(app, "pixverse:1@3")) == [first.id]
    assert job_ids_of(take_messages(app, "cinefuse:preview@1")) == [second.id]


def test_dispatch_never_blocks_without_a_broker(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    repo = JobStore(engine)
    key_id = next(iter(repo.keys.ensure(["k"]).values()))
    job = new_job(key_id)
    repo.jobs.insert([job])
    dispatcher = CeleryDispatcher(make_celery(UNREACHABLE, 60), repo, redispatch_after=60)
    dispatcher.start()
    started = time.perf_counter()
    for _ in range(200):
        dispatcher.dispatch(job.id)
    assert time.perf_counter() - started < 0.05
    dispatcher.stop()
    assert dispatcher.published == 0 and dispatcher.dropped >= 1
    assert dispatcher.depth("pixverse:1@3") is None  # unknown: the sweep publishes nothing
    assert dispatcher.redispatch_lost() == 0


def test_the_redispatch_sweep_publishes_what_the_queue_lacks(broker: str, repo: JobStore, clock: FakeClock) -> None:
    key_id = next(iter(repo.keys.ensure(["k"]).values()))
    old = [new_job(key_id, created_at=clock.now - 100 + i) for i in range(3)]
    young = new_job(key_id, created_at=clock.now)
    repo.jobs.insert([*old, young])
    app = make_celery(broker, 60)
    dispatcher = CeleryDispatcher(app, repo, redispatch_after=30, clock=clock)
    dispatcher.publish([old[0].id])  # its message made it; the others' were lost
    assert dispatcher.depth("pixverse:1@3") == 1
    # 4 queued, 1 message: 3 lack one. Which is unknown, but the young job was dispatched
    # within the grace: the 3 stale ones go out again (one of them a harmless duplicate).
    assert dispatcher.redispatch_lost() == 3
    assert sorted(job_ids_of(take_messages(app, "pixverse:1@3"))) == sorted([old[0].id, *(o.id for o in old)])
    # Their dispatch time was recorded: nothing again within the grace.
    assert dispatcher.redispatch_lost() == 0
    clock.advance(31)
    dispatcher.publish([o.id for o in old] + [young.id])  # every job has a message now
    assert dispatcher.redispatch_lost() == 0
    assert len(take_messages(app, "pixverse:1@3")) == 4


class _Unavailable:
    def __call__(self, model_id: str) -> Engine:
        if model_id == "pixverse:1@3":
            return PreviewEngine()
        raise InferenceError(f"{model_id}: no engine here")


def test_a_worker_serves_the_models_it_can_load() -> None:
    assert served_models(_Unavailable()) == ["pixverse:1@3"]
    assert served_models(_Unavailable(), only=["cinefuse:preview@1"]) == []


@pytest.fixture
def harness(repo: JobStore, tmp_path: Path) -> Iterator[Harness]:
    yield Harness(repo, tmp_path, PreviewEngine())


def test_the_task_body_runs_a_job_once(harness: Harness) -> None:
    from celery.exceptions import Reject

    app = make_celery(UNREACHABLE, 60)
    run = register_job_task(app, harness.ctx)
    job = harness.submit()
    assert run(job.id) == "success"
    assert run(job.id) is None  # a redelivered message: the claim refuses it
    assert len(harness.videos()) == 1

    spent = harness.submit()
    with harness.repo.engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == spent.id).values(attempts=3, max_attempts=3))
    assert run(spent.id) is None
    assert harness.view(spent).status == "error"  # ended by the attempt cap, never run

    stopping = harness.submit()
    harness.ctx.stopping = lambda: True  # the worker is shutting down
    with pytest.raises(Reject) as info:
        run(stopping.id)
    assert info.value.requeue  # its message goes back to the queue
    assert harness.view(stopping).status == "queued"
