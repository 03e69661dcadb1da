"""Job store semantics: claims, fences, leases, attempts, cancellation, conflicts."""

from __future__ import annotations

import uuid

from cinefuse.jobs.models import NewDelivery, NewJob, NewResult
from cinefuse.jobs.repository import JobRepository, hash_key

LEASE = 30.0


def no_webhook(record: dict[str, object]) -> None:
    return None


def new_job(key_id: int, *, results: int = 1, task_uuid: str | None = None, max_attempts: int = 3) -> NewJob:
    return NewJob(
        id=uuid.uuid4().hex,
        key_id=key_id,
        task_uuid=task_uuid or str(uuid.uuid4()),
        model="pixverse:1@3",
        request={"positive_prompt": "x"},
        results=tuple(NewResult(i, str(uuid.uuid4()), 100 + i) for i in range(results)),
        created_at=0.0,
        max_attempts=max_attempts,
    )


def key(repo: JobRepository, name: str = "k1") -> int:
    return repo.ensure_keys([name])[hash_key(name)]


def test_insert_detects_conflicts_per_key_and_within_a_batch(repo: JobRepository) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    shared = str(uuid.uuid4())
    assert repo.insert_jobs([new_job(k1, task_uuid=shared), new_job(k2, task_uuid=shared)]) == [True, True]
    assert repo.insert_jobs([new_job(k1, task_uuid=shared)]) == [False]
    again = str(uuid.uuid4())
    assert repo.insert_jobs([new_job(k1, task_uuid=again), new_job(k1, task_uuid=again)]) == [True, False]


def test_other_keys_cannot_see_a_task(repo: JobRepository) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    job = new_job(k1, results=2)
    repo.insert_jobs([job])
    view = repo.job_view(k1, job.task_uuid)
    assert view is not None and [r.status for r in view.results] == ["pending", "pending"]
    assert repo.job_view(k2, job.task_uuid) is None


def test_claim_is_exclusive_and_bumps_the_fence(repo: JobRepository) -> None:
    job = new_job(key(repo))
    repo.insert_jobs([job])
    first = repo.claim(job.id, "w1", LEASE)
    assert first is not None and first.fence == 1 and first.attempts == 1 and first.pending == (0,)
    assert repo.claim(job.id, "w2", LEASE) is None


def test_zombie_cannot_publish_after_its_lease_was_taken_over(repo: JobRepository, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo))
    repo.insert_jobs([job])
    zombie = repo.claim(job.id, "w1", LEASE)
    assert zombie is not None
    clock.advance(LEASE + 1)
    assert repo.requeue_expired() == ([job.id], [])
    assert repo.heartbeat(zombie, LEASE) == "lost"  # cut off at once, before anyone re-claims
    heir = repo.claim(job.id, "w2", LEASE)
    assert heir is not None and heir.fence > zombie.fence and heir.attempts == 2
    assert not repo.finish_result(zombie, 0, values={"status": "success", "media_key": "videos/z.mp4"})
    assert repo.finish_result(heir, 0, values={"status": "success", "media_key": "videos/h.mp4"})
    assert repo.complete(heir, "success")
    assert not repo.complete(zombie, "success")
    view = repo.job_view(job.key_id, job.task_uuid)
    assert view is not None and view.status == "success"
    assert [(r.status, r.media_key) for r in view.results] == [("success", "videos/h.mp4")]


def test_a_result_is_finished_exactly_once(repo: JobRepository) -> None:
    job = new_job(key(repo))
    repo.insert_jobs([job])
    claim = repo.claim(job.id, "w1", LEASE)
    assert claim is not None
    hook = NewDelivery("webhook", "http://127.0.0.1:1/h", "msg_1")
    assert repo.finish_result(claim, 0, values={"status": "success"}, deliveries=[hook])
    assert not repo.finish_result(claim, 0, values={"status": "success"}, deliveries=[hook])
    assert len(repo.claim_deliveries(10, 30.0)) == 1
    assert repo.claim_deliveries(10, 30.0) == []  # leased to the first caller


def test_heartbeat_renews_the_lease(repo: JobRepository, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo))
    repo.insert_jobs([job])
    claim = repo.claim(job.id, "w1", LEASE)
    assert claim is not None
    for _ in range(5):
        clock.advance(LEASE * 0.6)
        assert repo.heartbeat(claim, LEASE, {0: 40}) == "ok"
        assert repo.requeue_expired() == ([], [])
    view = repo.job_view(job.key_id, job.task_uuid)
    assert view is not None and view.results[0].progress == 40


def test_attempt_cap_fails_the_job(repo: JobRepository, clock) -> None:  # type: ignore[no-untyped-def]
    job = new_job(key(repo), max_attempts=2, results=2)
    repo.insert_jobs([job])
    for attempt in (1, 2):
        claim = repo.claim(job.id, f"w{attempt}", LEASE)
        assert claim is not None and claim.attempts == attempt
        clock.advance(LEASE + 1)
        requeued, failed = repo.requeue_expired()
    assert (requeued, failed) == ([], [job.id])
    view = repo.job_view(job.key_id, job.task_uuid)
    assert view is not None and view.status == "error"
    assert {r.error_code for r in view.results} == {"inferenceError"}


def test_cancel_queued_drops_it_and_running_is_flagged(repo: JobRepository) -> None:
    k = key(repo)
    queued, running = new_job(k), new_job(k)
    repo.insert_jobs([queued, running])
    claim = repo.claim(running.id, "w1", LEASE)
    assert claim is not None
    assert repo.request_cancel(k, queued.task_uuid, "stop", no_webhook) == "cancelled"
    assert repo.claim(queued.id, "w1", LEASE) is None
    assert repo.request_cancel(k, running.task_uuid, "stop", no_webhook) == "running"
    assert repo.heartbeat(claim, LEASE) == "cancel"
    assert repo.request_cancel(k, str(uuid.uuid4()), "stop", no_webhook) is None
    view = repo.job_view(k, queued.task_uuid)
    assert view is not None and view.results[0].error_code == "taskCancelled"


def test_release_returns_the_job_without_spending_an_attempt(repo: JobRepository) -> None:
    job = new_job(key(repo))
    repo.insert_jobs([job])
    claim = repo.claim(job.id, "w1", LEASE)
    assert claim is not None and repo.release(claim)
    again = repo.claim(job.id, "w2", LEASE)
    assert again is not None and again.attempts == 1


def test_queued_counts_per_key(repo: JobRepository) -> None:
    k1, k2 = key(repo, "a"), key(repo, "b")
    repo.insert_jobs([new_job(k1), new_job(k1), new_job(k2)])
    assert repo.queued_counts() == {k1: 2, k2: 1}


def test_cancel_queued_queues_a_webhook_per_result(repo: JobRepository) -> None:
    k = key(repo)
    job = new_job(k, results=2)
    repo.insert_jobs([job])
    assert repo.request_cancel(k, job.task_uuid, "stop", lambda record: "http://127.0.0.1:9/hook") == "cancelled"
    rows = repo.claim_deliveries(10, LEASE)
    assert sorted((r.kind, r.result_idx, r.url) for r in rows) == [
        ("webhook", 0, "http://127.0.0.1:9/hook"),
        ("webhook", 1, "http://127.0.0.1:9/hook"),
    ]
