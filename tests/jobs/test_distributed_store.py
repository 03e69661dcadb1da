"""The job store's parts for the distributed profile (migration 0004): the queue cap counted
in the submitting transaction, a claim that ends a job whose attempts are spent, the
re-dispatch sweep's bookkeeping, worker heartbeats, the shared rate limit; and, on
PostgreSQL with several engines as several processes, that everything meant to run on
many machines at once does: migrations, key registration, the cap, the rate limit, two
deliverers' claims and two sweepers' requeues.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text, update
from tests.conftest import FakeClock, _fresh_postgres
from tests.factories import new_job, success

from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.models import deliveries_for
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.jobs.tables import jobs, results

T = TypeVar("T")


def key(repo: JobStore, name: str = "alpha") -> int:
    return repo.keys.ensure([name])[hash_key(name)]


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` in threads released together; returns their results in order."""
    barrier = threading.Barrier(count)
    out: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            out[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return out


# ---------------------------------------------------------------------------- both databases


def test_admit_enforces_the_queue_cap_per_key(repo: JobStore) -> None:
    alpha, beta = key(repo, "alpha"), key(repo, "beta")
    batch = [new_job(alpha) for _ in range(5)] + [new_job(beta) for _ in range(2)]
    assert repo.jobs.admit(batch, queue_limit=3) == ["inserted"] * 3 + ["queue_full"] * 2 + ["inserted"] * 2
    again = new_job(alpha, task_uuid=batch[0].task_uuid)
    assert repo.jobs.admit([again, new_job(alpha)], queue_limit=3) == ["conflict", "queue_full"]
    assert repo.jobs.queued_count(alpha) == 3
    assert repo.leases.claim(batch[0].id, "worker", 30.0) is not None  # running jobs do not count
    assert repo.jobs.admit([new_job(alpha), new_job(alpha)], queue_limit=3) == ["inserted", "queue_full"]
    assert repo.jobs.admit([new_job(alpha)], queue_limit=0) == ["inserted"]  # 0: no cap


def test_a_claim_ends_a_job_whose_attempts_are_spent(repo: JobStore) -> None:
    job = new_job(key(repo), results=2, max_attempts=2, webhookURL="https://hooks.example.com/h")
    repo.jobs.insert([job])
    with repo.engine.begin() as conn:  # as if its worker had been lost twice
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(attempts=2))
    assert repo.leases.claim(job.id, "worker", 30.0) is None  # a redelivered message: not run
    view = repo.jobs.view(job.key_id, job.task_uuid)
    assert view is not None and view.status == "error"
    assert [(r.status, r.error_code) for r in view.results] == [("error", "inferenceError")] * 2
    assert sorted(d.result_idx for d in repo.outbox.claim_due(10, 60.0)) == [0, 1]  # each owes its webhook
    assert repo.leases.claim(job.id, "worker", 30.0) is None


def test_claims_record_when_the_attempt_started(repo: JobStore, clock: FakeClock) -> None:
    job = new_job(key(repo), created_at=clock.now)
    repo.jobs.insert([job])
    clock.advance(2.5)
    assert repo.leases.claim(job.id, "worker", 30.0) is not None
    with repo.engine.connect() as conn:
        assert conn.execute(select(jobs.c.claimed_at).where(jobs.c.id == job.id)).scalar_one() == clock.now


def test_redispatch_takes_stale_queued_jobs_once_per_grace(repo: JobStore, clock: FakeClock) -> None:
    alpha = key(repo)
    old, fresh = new_job(alpha, created_at=clock.now - 100), new_job(alpha, created_at=clock.now)
    other = new_job(alpha, created_at=clock.now - 100, model="cinefuse:preview@1")
    repo.jobs.insert([old, fresh, other])
    assert repo.jobs.stale_by_model(clock.now - 50) == {"pixverse:1@3": (2, 1), "cinefuse:preview@1": (1, 1)}
    assert repo.leases.take_for_redispatch("pixverse:1@3", clock.now - 50, 10) == [old.id]
    assert repo.leases.take_for_redispatch("pixverse:1@3", clock.now - 50, 10) == []  # dispatched now
    assert repo.jobs.stale_by_model(clock.now - 50)["pixverse:1@3"] == (2, 0)
    clock.advance(60)
    assert repo.leases.take_for_redispatch("pixverse:1@3", clock.now - 50, 1) == [old.id]  # limit, oldest first
    assert repo.leases.take_for_redispatch("pixverse:1@3", clock.now - 50, 0) == []
    assert repo.jobs.models_of([old.id, other.id, "nope"]) == {old.id: "pixverse:1@3", other.id: "cinefuse:preview@1"}
    assert repo.jobs.queued_by_model() == {"pixverse:1@3": 2, "cinefuse:preview@1": 1}


def test_worker_heartbeats(repo: JobStore, clock: FakeClock) -> None:
    repo.workers.beat("h:1:a/worker", "worker", "h", 1, ["pixverse:1@3", "cinefuse:preview@1"], clock.now)
    repo.workers.beat("h:2:b/sweeper", "sweeper", "h", 2, [], clock.now)
    clock.advance(10)
    repo.workers.beat("h:1:a/worker", "worker", "h", 1, ["pixverse:1@3"], clock.now - 10)  # renewed
    live = repo.workers.live(clock.now - 5)
    assert [(w.id, w.role, w.models) for w in live] == [
        ("h:1:a/worker", "worker", ("pixverse:1@3", "cinefuse:preview@1"))
    ]
    assert len(repo.workers.live(clock.now - 30)) == 2
    assert repo.workers.prune(clock.now - 5) == 1
    repo.workers.forget("h:1:a/worker")
    assert repo.workers.live(0) == []


# ---------------------------------------------------------------------------- PostgreSQL, many processes


@pytest.fixture
def postgres() -> Iterator[str]:
    url = _fresh_postgres()
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url


def stores(url: str, count: int) -> list[JobStore]:
    """One store per 'process': each its own engine and connection pool."""
    return [JobStore(make_engine(url)) for _ in range(count)]


@pytest.mark.services
def test_servers_starting_together_migrate_once() -> None:
    url = _fresh_postgres()
    engines = [make_engine(url) for _ in range(4)]
    at_once(4, lambda i: migrate(engines[i]))
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0005"]
    at_once(4, lambda i: JobStore(engines[i]).keys.ensure(["shared-key", f"own-{i}"]))  # one row per key
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 5
    for engine in engines:
        engine.dispose()


@pytest.mark.services
def test_many_servers_admit_under_one_queue_cap(postgres: str) -> None:
    fleet = stores(postgres, 4)
    alpha = key(fleet[0])
    outcomes = at_once(4, lambda i: [fleet[i].jobs.admit([new_job(alpha)], queue_limit=7)[0] for _ in range(5)])
    flat = [o for per_server in outcomes for o in per_server]
    assert (flat.count("inserted"), flat.count("queue_full")) == (7, 13)
    assert fleet[0].jobs.queued_count(alpha) == 7


@pytest.mark.services
def test_the_rate_limit_bucket_is_shared(postgres: str) -> None:
    fleet = stores(postgres, 4)
    alpha = key(fleet[0])
    # rate 0.001/s, burst 3: three tokens for everyone together, whoever asks.
    taken = at_once(4, lambda i: [fleet[i].rate_limits.take(alpha, 0.001, 3.0) for _ in range(3)])
    assert sum(t for per_server in taken for t in per_server) == 3
    beta = key(fleet[0], "beta")
    assert fleet[1].rate_limits.take(beta, 0.001, 3.0)  # another key has its own bucket


@pytest.mark.services
def test_two_deliverers_never_claim_the_same_row(postgres: str) -> None:
    fleet = stores(postgres, 2)
    alpha = key(fleet[0])
    for _ in range(40):
        job = new_job(alpha, webhookURL="https://hooks.example.com/h")
        fleet[0].jobs.insert([job])
        claim = fleet[0].leases.claim(job.id, "worker", 30.0)
        assert claim is not None
        deliveries = deliveries_for(claim.task, claim.pending[0].video_uuid, succeeded=True)
        assert fleet[0].leases.finish_result(claim, 0, success(), deliveries)
    claimed = at_once(2, lambda i: [d.id for d in fleet[i].outbox.claim_due(30, 60.0, f"deliverer-{i}")])
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 40


@pytest.mark.services
def test_two_sweepers_requeue_each_expired_job_once(postgres: str) -> None:
    fleet = stores(postgres, 2)
    alpha = key(fleet[0])
    ids = []
    for _ in range(20):
        job = new_job(alpha)
        fleet[0].jobs.insert([job])
        assert fleet[0].leases.claim(job.id, "worker", 30.0) is not None
        ids.append(job.id)
    with fleet[0].engine.begin() as conn:
        conn.execute(update(jobs).values(lease_expires_at=0.0))
    swept = at_once(2, lambda i: fleet[i].leases.requeue_expired()[0])
    assert sorted(swept[0] + swept[1]) == sorted(ids)
    with fleet[0].engine.connect() as conn:
        assert conn.execute(select(jobs.c.fence).where(jobs.c.id == ids[0])).scalar_one() == 2  # bumped once
        assert conn.execute(select(results.c.status).distinct()).scalars().all() == ["pending"]
