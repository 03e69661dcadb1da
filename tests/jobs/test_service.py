"""The job service (``jobs.service.JobService``) on a real job store and group-commit writer:
a task is dispatched only once its row is readable, a taskUUID is unique per key, the queue
limit sheds load, and view/cancel answer ``taskNotFound`` for UUIDs the key never used.

The dispatcher is a recording test double of the dispatch port (``jobs.dispatch``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import pytest
from tests.factories import video_task

from cinefuse.errors import ConflictTaskUUID, QueueFull, TaskNotFound
from cinefuse.jobs.models import JobView
from cinefuse.jobs.service import CANCELLED_BY_CLIENT, JobService
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.jobs.writer import BatchWriter
from cinefuse.schemas.tasks import VideoInferenceTask

MAX_ATTEMPTS = 4


class RecordingDispatcher:
    """Records each dispatched job id and what the store showed of it at that moment."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.dispatched: list[str] = []
        #: (key id, taskUUID) of the task being created: looked up inside ``dispatch``.
        self.expect: tuple[int, str] | None = None
        self.seen: list[JobView | None] = []
        self.started = self.stopped = False

    def dispatch(self, job_id: str) -> None:
        self.dispatched.append(job_id)
        if self.expect is not None:
            self.seen.append(self.store.jobs.view(*self.expect))

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True


class Service:
    def __init__(self, repo: JobStore, queue_limit: int) -> None:
        self.repo = repo
        self.writer = BatchWriter(repo.jobs)
        self.dispatcher = RecordingDispatcher(repo)
        self.service = JobService(
            repo, self.writer, self.dispatcher, queue_limit=queue_limit, max_attempts=MAX_ATTEMPTS, clock=repo.clock
        )
        ids = repo.keys.ensure(["alpha", "beta"])
        self.alpha, self.beta = ids[hash_key("alpha")], ids[hash_key("beta")]

    def create(self, key_id: int, task: VideoInferenceTask) -> str:
        self.dispatcher.expect = (key_id, task.task_uuid)
        return asyncio.run(self.service.create(key_id, task))


MakeService = Callable[..., Service]


@pytest.fixture
def make_service(repo: JobStore) -> Iterator[MakeService]:
    """Services on the test's store, their writers started; stopped after the test."""
    started: list[Service] = []

    def make(queue_limit: int = 100) -> Service:
        service = Service(repo, queue_limit)
        service.writer.start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.writer.stop()


def test_create_dispatches_the_job_only_once_its_row_is_readable(make_service: MakeService) -> None:
    s = make_service()
    task = video_task(numberResults=2, seed=500)
    job_id = s.create(s.alpha, task)

    assert s.dispatcher.dispatched == [job_id]
    (seen,) = s.dispatcher.seen
    assert seen is not None, "dispatched before the job row was committed"
    assert (seen.job_id, seen.status) == (job_id, "queued")
    assert [(r.idx, r.seed, r.status) for r in seen.results] == [(0, 500, "pending"), (1, 501, "pending")]
    assert len({r.video_uuid for r in seen.results}) == 2
    assert s.service.view(s.alpha, task.task_uuid) == seen
    claim = s.repo.leases.claim(job_id, "worker", 30.0)
    assert claim is not None and claim.task == task


def test_job_ids_are_unique_and_ordered_by_creation(make_service: MakeService) -> None:
    s = make_service()
    ids = [s.create(s.alpha, video_task()) for _ in range(5)]
    assert len(set(ids)) == 5 and all(len(i) == 32 for i in ids)
    assert ids == sorted(ids)  # time ordered: rows append to the primary key index
    assert s.dispatcher.dispatched == ids


def test_a_task_uuid_is_unique_per_key(make_service: MakeService) -> None:
    s = make_service()
    task_uuid = str(uuid.uuid4())
    first = s.create(s.alpha, video_task(taskUUID=task_uuid))

    with pytest.raises(ConflictTaskUUID) as info:
        s.create(s.alpha, video_task(taskUUID=task_uuid, positivePrompt="a different prompt"))
    assert (info.value.code, info.value.parameter) == ("conflictTaskUUID", "taskUUID")
    assert s.dispatcher.dispatched == [first]  # the refused one was not dispatched
    assert s.service.view(s.alpha, task_uuid).job_id == first  # nor written over the first

    other = s.create(s.beta, video_task(taskUUID=task_uuid))  # another key may use it
    assert other != first and s.dispatcher.dispatched == [first, other]
    assert s.service.view(s.beta, task_uuid).job_id == other


def test_the_queue_limit_sheds_load_per_key(make_service: MakeService) -> None:
    s = make_service(queue_limit=2)
    s.service.check_capacity(s.alpha)
    first = s.create(s.alpha, video_task())
    s.create(s.alpha, video_task())

    with pytest.raises(QueueFull):
        s.service.check_capacity(s.alpha)
    refused = video_task()
    with pytest.raises(QueueFull) as info:
        s.create(s.alpha, refused)
    assert info.value.code == "queueFull"
    assert s.repo.jobs.view(s.alpha, refused.task_uuid) is None  # nothing written
    assert len(s.dispatcher.dispatched) == 2

    s.service.check_capacity(s.beta)  # another key has its own limit
    s.create(s.beta, video_task())

    # Once the queue drains (here: a claim) and the counts are refreshed, there is room again.
    assert s.repo.leases.claim(first, "worker", 30.0) is not None
    s.service.refresh_queue_counts()
    s.service.check_capacity(s.alpha)
    s.create(s.alpha, video_task())


def test_a_queue_limit_of_zero_means_no_limit(make_service: MakeService) -> None:
    s = make_service(queue_limit=0)
    for _ in range(3):
        s.create(s.alpha, video_task())
    s.service.check_capacity(s.alpha)


def test_view_and_cancel_of_unknown_uuids_are_task_not_found(make_service: MakeService) -> None:
    s = make_service()
    unknown = str(uuid.uuid4())
    for call in (s.service.view, s.service.cancel):
        with pytest.raises(TaskNotFound) as info:
            call(s.alpha, unknown)
        assert (info.value.code, info.value.parameter) == ("taskNotFound", "taskUUID")
    # another key's task is not found either
    task = video_task()
    s.create(s.alpha, task)
    for call in (s.service.view, s.service.cancel):
        with pytest.raises(TaskNotFound):
            call(s.beta, task.task_uuid)
    assert s.service.view(s.alpha, task.task_uuid).status == "queued"  # untouched by beta's cancel


def test_cancel_of_a_queued_task_is_immediate(make_service: MakeService) -> None:
    s = make_service()
    task = video_task(numberResults=2, webhookURL="https://hooks.example.com/h")
    job_id = s.create(s.alpha, task)
    assert s.service.cancel(s.alpha, task.task_uuid) == "cancelled"
    view = s.service.view(s.alpha, task.task_uuid)
    assert view.status == "cancelled"
    assert [(r.status, r.error_code, r.error_message) for r in view.results] == [
        ("error", "taskCancelled", CANCELLED_BY_CLIENT)
    ] * 2
    assert s.repo.leases.claim(job_id, "worker", 30.0) is None  # no worker will run it
    rows = s.repo.outbox.claim_due(10, 60.0)
    assert sorted((d.result_idx, d.kind) for d in rows) == [(0, "webhook"), (1, "webhook")]
    assert s.service.cancel(s.alpha, task.task_uuid) == "cancelled"  # again: same answer


def test_cancel_of_a_running_task_flags_it(make_service: MakeService) -> None:
    s = make_service()
    task = video_task()
    job_id = s.create(s.alpha, task)
    claim = s.repo.leases.claim(job_id, "worker", 30.0)
    assert claim is not None
    assert s.service.cancel(s.alpha, task.task_uuid) == "running"  # stops at its next step
    assert s.service.view(s.alpha, task.task_uuid).results[0].status == "pending"


def test_concurrent_creates_of_one_key_respect_the_queue_limit(make_service: MakeService) -> None:
    s = make_service(queue_limit=2)

    async def burst() -> list[str | BaseException]:
        creates = (s.service.create(s.alpha, video_task()) for _ in range(5))
        return await asyncio.gather(*creates, return_exceptions=True)

    outcomes = asyncio.run(burst())
    accepted = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, QueueFull)]
    assert (len(accepted), len(refused)) == (2, 3)
    assert s.repo.jobs.queued_counts() == {s.alpha: 2}


def test_a_revoked_key_s_unfinished_tasks_are_cancelled_with_their_webhooks(repo: JobStore) -> None:
    """docs/api.md, "Revoked keys": queued tasks end taskCancelled at once (each with the
    webhook call it owes), running ones are flagged to stop, other keys' tasks are untouched."""
    from tests.factories import new_job

    from cinefuse.errors import KEY_REVOKED
    from cinefuse.jobs.models import LeaseState

    key_id = repo.keys.ensure(["revoke-me-key-0123456789"])[hash_key("revoke-me-key-0123456789")]
    other = repo.keys.ensure(["keep-me-key-0123456789"])[hash_key("keep-me-key-0123456789")]
    queued, running, kept = new_job(key_id, webhookURL="https://example.com/hook"), new_job(key_id), new_job(other)
    assert repo.jobs.insert([queued, running, kept]) == [True, True, True]
    running_claim = repo.leases.claim(running.id, "worker-1", 30)
    assert running_claim is not None
    assert repo.jobs.cancel_all_of_key(key_id, KEY_REVOKED) == (1, 1)
    view = repo.jobs.view(key_id, queued.task_uuid)
    assert view is not None and view.status == "cancelled"
    assert [(r.error_code, r.error_message) for r in view.results] == [("taskCancelled", KEY_REVOKED)]
    assert repo.outbox.counts().get("pending", 0) == 1  # the queued task's webhook call
    assert repo.leases.check(running_claim) is LeaseState.CANCEL_REQUESTED
    kept_view = repo.jobs.view(other, kept.task_uuid)
    assert kept_view is not None and kept_view.status == "queued"
