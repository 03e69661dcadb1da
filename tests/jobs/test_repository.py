"""Job store semantics: claims, fences, leases, attempts, cancellation, conflicts."""

from __future__ import annotations

import uuid

from tests.factories import new_job, success

from cinefuse.jobs.models import LeaseState, NewDelivery
from cinefuse.jobs.store import JobStore, hash_key

LEASE = 30.0


def key(repo: JobStore, name: str = "k1") -> int:
    return repo.keys.ensure([name])[hash_key(name)]


def test_insert_detects_conflicts_per_key_and_within_a_batch(repo: JobStore) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    shared = str(uuid.uuid4())
    assert repo.jobs.insert([new_job(k1, task_uuid=shared), new_job(k2, task_uuid=shared)]) == [True, True]
    assert repo.jobs.insert([new_job(k1, task_uuid=shared)]) == [False]
    again = str(uuid.uuid4())
    assert repo.jobs.insert([new_job(k1, task_uuid=again), new_job(k1, task_uuid=again)]) == [True, False]


def test_other_keys_cannot_see_a_task(repo: JobStore) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    job = new_job(k1, results=2)
    repo.jobs.insert([job])
    view = repo.jobs.view(k1, job.task_uuid)
    assert view is not None and [r.status for r in view.results] == ["pending", "pending"]
    assert repo.jobs.view(k2, job.task_uuid) is None


def test_claim_is_exclusive_and_bumps_the_fence(repo: JobStore) -> None:
    job = new_job(key(repo))
    repo.jobs.insert([job])
    first = repo.leases.claim(job.id, "w1", LEASE)
    assert first is not None and first.fence == 1 and first.attempts == 1 and [r.idx for r in first.pending] == [0]
    assert repo.leases.claim(job.id, "w2", LEASE) is None


def test_zombie_cannot_publish_after_its_lease_was_taken_over(repo: JobStore, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo))
    repo.jobs.insert([job])
    zombie = repo.leases.claim(job.id, "w1", LEASE)
    assert zombie is not None
    clock.advance(LEASE + 1)
    assert repo.leases.requeue_expired() == ([job.id], [])
    assert repo.leases.heartbeat(zombie, LEASE) is LeaseState.LOST  # cut off at once, before anyone re-claims
    heir = repo.leases.claim(job.id, "w2", LEASE)
    assert heir is not None and heir.fence > zombie.fence and heir.attempts == 2
    assert not repo.leases.finish_result(zombie, 0, success("videos/z.mp4"))
    assert repo.leases.finish_result(heir, 0, success("videos/h.mp4"))
    assert repo.leases.complete(heir, "success")
    assert not repo.leases.complete(zombie, "success")
    view = repo.jobs.view(job.key_id, job.task_uuid)
    assert view is not None and view.status == "success"
    assert [(r.status, r.media_key) for r in view.results] == [("success", "videos/h.mp4")]


def test_a_result_is_finished_exactly_once(repo: JobStore) -> None:
    job = new_job(key(repo))
    repo.jobs.insert([job])
    claim = repo.leases.claim(job.id, "w1", LEASE)
    assert claim is not None
    hook = NewDelivery("webhook", "http://127.0.0.1:1/h", "msg_1")
    assert repo.leases.finish_result(claim, 0, success(), [hook])
    assert not repo.leases.finish_result(claim, 0, success(), [hook])
    assert len(repo.outbox.claim_due(10, 30.0)) == 1
    assert repo.outbox.claim_due(10, 30.0) == []  # leased to the first caller


def test_heartbeat_renews_the_lease(repo: JobStore, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo))
    repo.jobs.insert([job])
    claim = repo.leases.claim(job.id, "w1", LEASE)
    assert claim is not None
    for _ in range(5):
        clock.advance(LEASE * 0.6)
        assert repo.leases.heartbeat(claim, LEASE, {0: 40}) is LeaseState.HELD
        assert repo.leases.requeue_expired() == ([], [])
    view = repo.jobs.view(job.key_id, job.task_uuid)
    assert view is not None and view.results[0].progress == 40


def test_attempt_cap_fails_the_job(repo: JobStore, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo), max_attempts=2, results=2)
    repo.jobs.insert([job])
    for attempt in (1, 2):
        claim = repo.leases.claim(job.id, f"w{attempt}", LEASE)
        assert claim is not None and claim.attempts == attempt
        clock.advance(LEASE + 1)
        requeued, failed = repo.leases.requeue_expired()
    assert (requeued, failed) == ([], [job.id])
    view = repo.jobs.view(job.key_id, job.task_uuid)
    assert view is not None and view.status == "error"
    assert {r.error_code for r in view.results} == {"inferenceError"}


def test_cancel_queued_drops_it_and_running_is_flagged(repo: JobStore) -> None:
    k = key(repo)
    queued, running = new_job(k), new_job(k)
    repo.jobs.insert([queued, running])
    claim = repo.leases.claim(running.id, "w1", LEASE)
    assert claim is not None
    assert repo.jobs.request_cancel(k, queued.task_uuid, "stop") == "cancelled"
    assert repo.leases.claim(queued.id, "w1", LEASE) is None
    assert repo.jobs.request_cancel(k, running.task_uuid, "stop") == "running"
    assert repo.leases.heartbeat(claim, LEASE) is LeaseState.CANCEL_REQUESTED
    assert repo.jobs.request_cancel(k, str(uuid.uuid4()), "stop") is None
    assert repo.outbox.counts() == {}  # no webhookURL: nothing to deliver
    view = repo.jobs.view(k, queued.task_uuid)
    assert view is not None and view.results[0].error_code == "taskCancelled"


def test_release_returns_the_job_without_spending_an_attempt(repo: JobStore) -> None:
    job = new_job(key(repo))
    repo.jobs.insert([job])
    claim = repo.leases.claim(job.id, "w1", LEASE)
    assert claim is not None and repo.leases.release(claim)
    again = repo.leases.claim(job.id, "w2", LEASE)
    assert again is not None and again.attempts == 1


def test_queued_counts_per_key(repo: JobStore) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    repo.jobs.insert([new_job(k1), new_job(k1), new_job(k2)])
    assert repo.jobs.queued_counts() == {k1: 2, k2: 1}


def test_cancel_queued_queues_a_webhook_per_result(repo: JobStore) -> None:
    k = key(repo)
    job = new_job(k, results=2, webhookURL="http://127.0.0.1:9/hook")
    repo.jobs.insert([job])
    assert repo.jobs.request_cancel(k, job.task_uuid, "stop") == "cancelled"
    rows = repo.outbox.claim_due(10, LEASE)
    assert sorted((r.kind, r.result_idx, r.url) for r in rows) == [
        ("webhook", 0, "http://127.0.0.1:9/hook"),
        ("webhook", 1, "http://127.0.0.1:9/hook"),
    ]
