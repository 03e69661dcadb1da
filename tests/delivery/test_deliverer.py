"""The deliverer against real HTTP receivers on 127.0.0.1 (docs/api.md 4.2, 4.3, 4.4).

Real pieces throughout: the SQLite job store and its outbox, an in-memory media store,
the outbound guard (allowing 127.0.0.1 only where a test says so) and ``Deliverer``.
Most tests drive the deliverer by hand with a fake clock (claim what is due, ``deliver``
it, jump the clock to the next due row), so backoff is checked exactly without sleeping;
the threaded loop (``start``/``stop``) is exercised with a real clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import os
import sqlite3
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from tests.conftest import FakeClock
from tests.delivery.receivers import Call, Receiver, Reply, always, fail_first, hang, ok, receiver
from tests.factories import new_job, success

from cinefuse.api.results import job_items, result_item
from cinefuse.delivery import deliverer as deliverer_module
from cinefuse.delivery.deliverer import Deliverer, DeliverySettings
from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.models import NewDelivery, ResultFailure
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.jobs.tables import outbox
from cinefuse.storage.memory import MemoryMediaStore

LOOPBACK = OutboundPolicy.from_setting("127.0.0.1")
LEASE = 30.0
TTL = 3600.0


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def store() -> MemoryMediaStore:
    return MemoryMediaStore()


@pytest.fixture
def live_repo(tmp_path: Path) -> Iterator[JobStore]:
    """A job store on the real clock, for the threaded delivery loop."""
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    migrate(engine)
    yield JobStore(engine)
    engine.dispose()


def key_id(repo: JobStore, name: str = "key-1") -> int:
    return repo.keys.ensure([name])[hash_key(name)]


def make_deliverer(
    repo: JobStore,
    store: MemoryMediaStore,
    *,
    clock: Any = time.time,
    policy: OutboundPolicy = LOOPBACK,
    max_tries: int = 8,
    backoff: float = 1.0,
    timeout: float = 2.0,
    secrets: dict[int, str] | None = None,
) -> Deliverer:
    return Deliverer(
        repo,
        store,
        OutboundClient(policy),
        partial(result_item, sign=store.signed_url),
        DeliverySettings(max_tries, backoff, timeout),
        webhook_secret=(secrets or {}).get,
        clock=clock,
    )


class Job:
    """A job in the store whose results are finished by hand, each with its outbox rows."""

    def __init__(self, repo: JobStore, kid: int, results: int = 1) -> None:
        self.repo = repo
        new = new_job(kid, results=results, seed=1000, created_at=repo.clock())
        assert repo.jobs.insert([new]) == [True]
        claim = repo.leases.claim(new.id, "test-worker", 3600)
        assert claim is not None
        self.new, self.claim = new, claim

    @property
    def task_uuid(self) -> str:
        return self.new.task_uuid

    def video_uuid(self, idx: int) -> str:
        return self.new.results[idx].video_uuid

    def succeed(
        self,
        idx: int,
        store: MemoryMediaStore,
        data: bytes = b"\x00video",
        *,
        webhook: str | None = None,
        upload: str | None = None,
    ) -> str:
        media_key = f"videos/{self.video_uuid(idx)}.mp4"
        store.put_bytes(media_key, data, "video/mp4")
        outcome = success(media_key, expires_at=self.repo.clock() + TTL, size_bytes=len(data), cost=0.1)
        assert self.repo.leases.finish_result(self.claim, idx, outcome, self._rows(idx, webhook, upload))
        return media_key

    def fail(self, idx: int, code: str, message: str, *, webhook: str | None = None) -> None:
        failure = ResultFailure(code, message)
        assert self.repo.leases.finish_result(self.claim, idx, failure, self._rows(idx, webhook, None))

    def _rows(self, idx: int, webhook: str | None, upload: str | None) -> list[NewDelivery]:
        # The same rows the runner writes (jobs/models.py ``deliveries_for``).
        rows = []
        if upload:
            rows.append(NewDelivery("upload", upload, f"upl_{self.video_uuid(idx)}"))
        if webhook:
            rows.append(NewDelivery("webhook", webhook, f"msg_{self.video_uuid(idx)}", blocked=bool(upload)))
        return rows

    def complete(self) -> None:
        assert self.repo.leases.complete(self.claim, "success")

    def wire(self, store: MemoryMediaStore) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(data, errors) as getResponse shows them now."""
        view = self.repo.jobs.view(self.new.key_id, self.task_uuid)
        assert view is not None
        return job_items(self.task_uuid, view, store.signed_url)


def outbox_rows(repo: JobStore) -> dict[str, dict[str, Any]]:
    with repo.engine.connect() as conn:
        return {r.delivery_id: dict(r._mapping) for r in conn.execute(select(outbox))}


def pump(deliverer: Deliverer, repo: JobStore, clock: FakeClock, *, max_rounds: int = 100) -> int:
    """Deliver every due row, jumping the fake clock to the next due one, until nothing is
    pending. Returns the number of ``deliver`` calls."""
    calls = 0

    async def run_due() -> int:
        due = repo.outbox.claim_due(100, LEASE)
        for row in due:
            await deliverer.deliver(row)
        return len(due)

    for _ in range(max_rounds):
        done = asyncio.run(run_due())
        calls += done
        if done:
            continue
        waiting = [r["next_attempt_at"] for r in outbox_rows(repo).values() if r["status"] == "pending"]
        if not waiting:
            return calls
        clock.now = max(clock.now, min(waiting))
    raise AssertionError("deliveries still pending after the round limit")


def body(call: Call) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: str, payload: bytes) -> str:
    """Computed here from the Standard Webhooks spec, independently of cinefuse's signing code."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_standard_webhook(secret: str, call: Call, tolerance: float = 300) -> None:
    msg_id, timestamp = call.header("webhook-id"), call.header("webhook-timestamp")
    header = call.header("webhook-signature")
    assert msg_id and timestamp and header, call.headers
    assert abs(time.time() - int(timestamp)) < tolerance
    expected = standard_webhooks_signature(secret, msg_id, timestamp, call.body)
    offered = [part.split(",", 1) for part in header.split(" ")]
    assert ["v1", expected] in [list(p) for p in offered], (header, expected)


# --- webhooks ---------------------------------------------------------------------------------


def test_receiver_failing_three_times_gets_the_fourth_call_with_the_same_webhook_id(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo))
    with receiver(fail_first(3)) as rec:
        job.succeed(0, store, webhook=rec.url())
        job.complete()
        deliverer = make_deliverer(repo, store, clock=clock)
        assert pump(deliverer, repo, clock) == 4
        calls = rec.snapshot()
    assert [c.method for c in calls] == ["POST"] * 4
    assert {c.header("webhook-id") for c in calls} == {f"msg_{job.video_uuid(0)}"}
    assert len({c.body for c in calls}) == 1  # the same event each time
    row = outbox_rows(repo)[f"msg_{job.video_uuid(0)}"]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 4, None)
    assert (deliverer.sent, deliverer.failed) == (1, 0)


def test_webhook_body_is_the_result_item_exactly_as_get_response_shows_it(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo), results=2)
    with receiver(ok()) as rec:
        job.succeed(0, store, webhook=rec.url())
        job.fail(1, "inferenceError", "The engine gave up.", webhook=rec.url())
        job.complete()
        pump(make_deliverer(repo, store, clock=clock), repo, clock)
        calls = rec.snapshot()
    data, errors = job.wire(store)
    by_id = {c.header("webhook-id"): c for c in calls}
    assert len(calls) == 2 and set(by_id) == {f"msg_{job.video_uuid(0)}", f"msg_{job.video_uuid(1)}"}

    success = by_id[f"msg_{job.video_uuid(0)}"]
    assert success.header("content-type") == "application/json"
    assert body(success) == {"data": [data[0]]}
    item = body(success)["data"][0]
    assert item["taskType"] == "videoInference" and item["taskUUID"] == job.task_uuid
    assert item["status"] == "success" and item["videoUUID"] == job.video_uuid(0) and item["seed"] == 1000
    assert item["videoURL"] == store.signed_url(f"videos/{job.video_uuid(0)}.mp4", int(clock() + TTL))

    failure = by_id[f"msg_{job.video_uuid(1)}"]
    assert body(failure) == {"errors": [errors[0]]}
    assert body(failure)["errors"][0] | {"message": ""} == {
        "taskType": "videoInference",
        "taskUUID": job.task_uuid,
        "status": "error",
        "code": "inferenceError",
        "message": "",
        "videoUUID": job.video_uuid(1),
    }


def test_webhook_signature_verifies_with_the_standard_webhooks_algorithm(
    repo: JobStore, store: MemoryMediaStore
) -> None:
    signed_key, plain_key = key_id(repo, "signed"), key_id(repo, "plain")
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    signed_job, plain_job = Job(repo, signed_key), Job(repo, plain_key)
    with receiver(ok()) as rec:
        signed_job.succeed(0, store, webhook=rec.url("/signed"))
        plain_job.succeed(0, store, webhook=rec.url("/plain"))
        deliverer = make_deliverer(repo, store, secrets={signed_key: secret})
        for row in repo.outbox.claim_due(10, LEASE):
            asyncio.run(deliverer.deliver(row))
        calls = {c.route: c for c in rec.snapshot()}
    verify_standard_webhook(secret, calls["/signed"])
    assert calls["/signed"].header("webhook-id") == f"msg_{signed_job.video_uuid(0)}"
    # A body changed in transit no longer matches.
    tampered = Call(**{**calls["/signed"].__dict__, "body": calls["/signed"].body + b" "})
    with pytest.raises(AssertionError):
        verify_standard_webhook(secret, tampered)
    # No secret for that key: id and timestamp, but no signature.
    assert calls["/plain"].header("webhook-id") == f"msg_{plain_job.video_uuid(0)}"
    assert calls["/plain"].header("webhook-timestamp")
    assert calls["/plain"].header("webhook-signature") is None


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (
            "/hooks/cinefuse?token=abc%2Fdef%3D%3D&sig=a+b&empty=&x=1&x=2",
            {"token": ["abc/def=="], "sig": ["a b"], "empty": [""], "x": ["1", "2"]},
        ),
        ("/h?a=%7e&b=%2b&c=x|y&d=a/b?c", {"a": ["~"], "b": ["+"], "c": ["x|y"], "d": ["a/b?c"]}),
        (
            "/h?X-Amz-Credential=t%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab12",
            {"X-Amz-Credential": ["t/20261124/us-east-1/s3/aws4_request"], "X-Amz-Signature": ["ab12"]},
        ),
    ],
    ids=["tokens", "odd-characters", "presigned"],
)
def test_query_parameters_in_the_webhook_url_are_kept_as_given(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore, path: str, query: dict[str, list[str]]
) -> None:
    job = Job(repo, key_id(repo))
    with receiver(ok()) as rec:
        job.succeed(0, store, webhook=rec.url(path))
        pump(make_deliverer(repo, store, clock=clock), repo, clock)
        (call,) = rec.snapshot()
    assert call.path == path  # byte for byte, percent-escapes untouched
    assert call.query == query


def test_backoff_doubles_from_the_configured_base_and_stops_at_max_tries(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo))
    msg = f"msg_{job.video_uuid(0)}"
    with receiver(always(503)) as rec:
        job.succeed(0, store, webhook=rec.url())
        deliverer = make_deliverer(repo, store, clock=clock, max_tries=5, backoff=1.0)
        delays = []
        for attempt in range(1, 6):
            (row,) = repo.outbox.claim_due(10, LEASE)
            assert row.attempts == attempt - 1
            sent_at = clock()
            asyncio.run(deliverer.deliver(row))
            state = outbox_rows(repo)[msg]
            if attempt < 5:
                assert state["status"] == "pending" and state["last_error"] == "HTTP 503"
                delays.append(state["next_attempt_at"] - sent_at)
                assert repo.outbox.claim_due(10, LEASE) == []  # not due before its backoff
                clock.advance(delays[-1])
        calls = rec.snapshot()
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert len(calls) == 5 and {c.header("webhook-id") for c in calls} == {msg}
    state = outbox_rows(repo)[msg]
    assert state["status"] == "failed" and state["attempts"] == 5 and "gave up after 5 tries" in state["last_error"]
    data, errors = job.wire(store)
    assert [i["status"] for i in data] == ["success"] and errors == []  # a webhook failure changes no result


def test_default_schedule_is_one_second_doubling_eight_tries_about_four_minutes() -> None:
    settings = DeliverySettings()
    delays = [settings.delay_after(a) for a in range(1, settings.max_tries)]
    assert settings.max_tries == 8 and delays == [1, 2, 4, 8, 16, 32, 64]
    assert 120 <= sum(delays) <= 300  # "at most 8 tries over about 4 minutes"


def test_receiver_that_never_answers_is_given_up_after_max_tries(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo))
    with receiver(hang(5.0)) as rec:
        job.succeed(0, store, webhook=rec.url())
        job.complete()
        deliverer = make_deliverer(repo, store, clock=clock, max_tries=3, backoff=0.01, timeout=0.3)
        started = time.monotonic()
        assert pump(deliverer, repo, clock) == 3
        elapsed = time.monotonic() - started
        calls = rec.snapshot()
    assert len(calls) == 3 and elapsed < 3.0  # each try cut at the 0.3 s timeout
    assert {c.header("webhook-id") for c in calls} == {f"msg_{job.video_uuid(0)}"}
    state = outbox_rows(repo)[f"msg_{job.video_uuid(0)}"]
    assert state["status"] == "failed" and state["attempts"] == 3 and "timed out" in state["last_error"]
    assert (deliverer.sent, deliverer.failed) == (0, 1)
    view = repo.jobs.view(job.new.key_id, job.task_uuid)
    assert view is not None and view.status == "success" and view.results[0].status == "success"


@pytest.mark.parametrize("allow", ["", "10.0.0.0/8, 127.0.0.2, example.com"])
def test_webhook_to_a_private_address_not_allowed_is_refused_and_nothing_arrives(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore, allow: str
) -> None:
    job = Job(repo, key_id(repo))
    with receiver(ok()) as rec:
        job.succeed(0, store, webhook=rec.url())
        deliverer = make_deliverer(repo, store, clock=clock, policy=OutboundPolicy.from_setting(allow))
        assert pump(deliverer, repo, clock) == 1  # given up at once: no retry can fix it
        time.sleep(0.1)
        assert rec.snapshot() == []
    state = outbox_rows(repo)[f"msg_{job.video_uuid(0)}"]
    assert state["status"] == "failed" and state["attempts"] == 1
    assert "refused by the outbound guard" in state["last_error"] and "loopback" in state["last_error"]


def test_each_result_gets_its_own_call(repo: JobStore, clock: FakeClock, store: MemoryMediaStore) -> None:
    job = Job(repo, key_id(repo), results=3)
    with receiver(ok()) as rec:
        for idx in range(3):
            job.succeed(idx, store, webhook=rec.url())
        job.complete()
        pump(make_deliverer(repo, store, clock=clock), repo, clock)
        calls = rec.snapshot()
    data, _ = job.wire(store)
    assert len(calls) == 3
    assert sorted(c.header("webhook-id") or "" for c in calls) == sorted(f"msg_{job.video_uuid(i)}" for i in range(3))
    assert sorted(orjson.dumps(body(c)) for c in calls) == sorted(orjson.dumps({"data": [item]}) for item in data)


# --- uploads ----------------------------------------------------------------------------------


def test_upload_is_byte_identical_with_content_length_and_not_chunked_then_the_webhook(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo))
    video = os.urandom(700_000)
    with receiver(ok()) as rec:
        job.succeed(0, store, video, webhook=rec.url("/hook"), upload=rec.url("/bucket/out.mp4?X-Token=t%2B1"))
        # The webhook waits for the upload: only the upload is due.
        (first,) = repo.outbox.claim_due(10, LEASE)
        assert first.kind == "upload"
        deliverer = make_deliverer(repo, store, clock=clock)
        asyncio.run(deliverer.deliver(first))
        pump(deliverer, repo, clock)
        put, hook = rec.snapshot()
    assert (put.method, put.path) == ("PUT", "/bucket/out.mp4?X-Token=t%2B1")
    assert put.body == video
    assert put.header("content-length") == str(len(video))
    assert put.header("transfer-encoding") is None
    assert put.header("content-type") == "video/mp4"
    assert hook.method == "POST" and hook.at >= put.at
    data, errors = job.wire(store)
    assert body(hook) == {"data": data} and data[0]["status"] == "success" and errors == []


@pytest.mark.parametrize(
    ("script", "tries"), [(always(403), 1), (always(500), 3), (always(429), 3)], ids=["403", "500", "429"]
)
def test_upload_that_finally_fails_makes_the_result_upload_failed_and_the_webhook_says_so(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore, script: Any, tries: int
) -> None:
    job = Job(repo, key_id(repo))
    video = os.urandom(50_000)
    with receiver(script) as uploads, receiver(ok()) as hooks:
        media_key = job.succeed(0, store, video, webhook=hooks.url(), upload=uploads.url("/put"))
        job.complete()
        url_before = job.wire(store)[0][0]["videoURL"]
        pump(make_deliverer(repo, store, clock=clock, max_tries=3, backoff=0.5), repo, clock)
        puts, (hook,) = uploads.snapshot(), hooks.snapshot()
    assert len(puts) == tries and all(p.body == video for p in puts)
    data, errors = job.wire(store)
    assert data == [] and len(errors) == 1
    assert errors[0]["code"] == "uploadFailed" and errors[0]["videoUUID"] == job.video_uuid(0)
    assert body(hook) == {"errors": errors}
    # The file stays where its videoURL pointed.
    assert store.read_bytes(media_key) == video
    assert url_before.startswith(f"memory://{media_key}?")
    rows = outbox_rows(repo)
    assert rows[f"upl_{job.video_uuid(0)}"]["status"] == "failed"
    assert rows[f"msg_{job.video_uuid(0)}"]["status"] == "sent"


def test_upload_retried_on_5xx_and_429_then_accepted(repo: JobStore, clock: FakeClock, store: MemoryMediaStore) -> None:
    job = Job(repo, key_id(repo))
    video = os.urandom(10_000)
    statuses = iter([500, 429, 502])

    def script(n: int, call: Call) -> Reply:
        return Reply(next(statuses, 200))

    with receiver(script) as uploads, receiver(ok()) as hooks:
        job.succeed(0, store, video, webhook=hooks.url(), upload=uploads.url("/put"))
        pump(make_deliverer(repo, store, clock=clock, max_tries=8, backoff=0.1), repo, clock)
        puts, (hook,) = uploads.snapshot(), hooks.snapshot()
    assert len(puts) == 4 and {p.body for p in puts} == {video}
    data, errors = job.wire(store)
    assert errors == [] and body(hook) == {"data": data}


def test_upload_to_a_refused_address_fails_at_once_and_nothing_arrives(
    repo: JobStore, clock: FakeClock, store: MemoryMediaStore
) -> None:
    job = Job(repo, key_id(repo))
    with receiver(ok()) as uploads:
        job.succeed(0, store, b"v", upload=uploads.url("/put"))
        pump(make_deliverer(repo, store, clock=clock, policy=OutboundPolicy()), repo, clock)
        time.sleep(0.1)
        assert uploads.snapshot() == []
    _, errors = job.wire(store)
    assert errors[0]["code"] == "uploadFailed"


# --- the threaded loop, on a real clock -------------------------------------------------------


def wait_until_settled(repo: JobStore, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = repo.outbox.counts()
        if not counts.get("pending") and not counts.get("blocked"):
            return counts
        time.sleep(0.02)
    raise TimeoutError(f"outbox not settled: {repo.outbox.counts()}")


@pytest.fixture
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop polls every 0.25 s when idle; shorter here, so small backoffs can be timed.
    monkeypatch.setattr(deliverer_module, "IDLE_POLL", 0.005)


@pytest.mark.usefixtures("fast_poll")
@pytest.mark.serial  # its gaps are timed to a tenth of a second: not on cores shared with other workers
def test_loop_delays_between_attempts_roughly_double(live_repo: JobStore, store: MemoryMediaStore) -> None:
    job = Job(live_repo, key_id(live_repo))
    with receiver(fail_first(4)) as rec:
        job.succeed(0, store, webhook=rec.url())
        deliverer = make_deliverer(live_repo, store, max_tries=8, backoff=0.1, timeout=2.0)
        deliverer.start()
        try:
            calls = rec.wait_for(5, timeout=10)
            wait_until_settled(live_repo, 5)
        finally:
            deliverer.stop()
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    expected = [0.1, 0.2, 0.4, 0.8]
    for gap, want in zip(gaps, expected, strict=True):
        assert want * 0.9 <= gap <= want + 0.2, (gaps, expected)
    for shorter, longer in itertools.pairwise(gaps):
        assert 1.5 <= longer / shorter <= 2.8, gaps
    assert live_repo.outbox.counts() == {"sent": 1}


@pytest.mark.usefixtures("fast_poll")
def test_loop_delivers_many_rows_once_each_with_two_deliverers_sharing_the_outbox(
    live_repo: JobStore, store: MemoryMediaStore
) -> None:
    kid = key_id(live_repo)
    expected: set[str] = set()
    with receiver(fail_first(5)) as rec:
        for _ in range(40):
            job = Job(live_repo, kid, results=3)
            for idx in range(3):
                job.succeed(idx, store, webhook=rec.url())
                expected.add(f"msg_{job.video_uuid(idx)}")
            job.complete()
        pair = [make_deliverer(live_repo, store, backoff=0.05) for _ in range(2)]
        for d in pair:
            d.start()
        try:
            wait_until_settled(live_repo, 20)
        finally:
            for d in pair:
                d.stop()
        calls = rec.snapshot()
    assert {c.header("webhook-id") for c in calls} == expected
    assert len(calls) == len(expected) + 5  # each row once, plus the 5 scripted failures retried
    assert live_repo.outbox.counts() == {"sent": len(expected)}
    assert sum(d.sent for d in pair) == len(expected)


@pytest.mark.usefixtures("fast_poll")
def test_pending_calls_survive_a_deliverer_restart_while_the_receiver_is_down(
    tmp_path: Path, store: MemoryMediaStore
) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    engine = make_engine(url)
    migrate(engine)
    repo = JobStore(engine)
    down = Receiver().start()
    port = down.port
    down.stop()  # nothing listens on the port the webhooks name
    expected = set()
    for _ in range(5):
        job = Job(repo, key_id(repo))
        job.succeed(0, store, webhook=f"http://127.0.0.1:{port}/hook?t=1")
        expected.add(f"msg_{job.video_uuid(0)}")
    first = make_deliverer(repo, store, backoff=0.05, timeout=0.5)
    first.start()
    # Until every call was refused at least once (on a loaded machine that takes longer).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(r["attempts"] >= 1 for r in outbox_rows(repo).values()):
        time.sleep(0.05)
    first.stop()
    engine.dispose()
    rows = outbox_rows(JobStore(make_engine(url)))
    assert {r["status"] for r in rows.values()} == {"pending"} and all(r["attempts"] >= 1 for r in rows.values())

    # A new process: a fresh engine and repository on the same database file.
    engine = make_engine(url)
    repo = JobStore(engine)
    with receiver(ok(), port=port) as rec:
        second = make_deliverer(repo, store, backoff=0.05, timeout=0.5)
        second.start()
        try:
            wait_until_settled(repo, 10)
        finally:
            second.stop()
        calls = rec.snapshot()
    engine.dispose()
    assert sorted(c.header("webhook-id") or "" for c in calls) == sorted(expected)  # each exactly once
    assert {c.path for c in calls} == {"/hook?t=1"}


@pytest.mark.usefixtures("fast_poll")
def test_stop_returns_promptly_while_sends_hang(live_repo: JobStore, store: MemoryMediaStore) -> None:
    with receiver(hang(10.0)) as rec:
        for _ in range(3):
            Job(live_repo, key_id(live_repo)).succeed(0, store, webhook=rec.url())
        deliverer = make_deliverer(live_repo, store, timeout=0.5)
        deliverer.start()
        rec.wait_for(3, timeout=5)
        started = time.monotonic()
        deliverer.stop()
        assert time.monotonic() - started < 2.0


# --- throughput regressions (see bench/bench_deliverer.py) -------------------------------------


def test_reading_what_to_send_does_not_wait_for_another_writer(live_repo: JobStore, store: MemoryMediaStore) -> None:
    """Building a webhook or upload only reads the result; SQLite in WAL mode never makes a
    reader wait for a writer. A read that takes the write lock (``BEGIN IMMEDIATE``) queues
    every send behind claims, outcome batches and the API's group commits."""
    kid = key_id(live_repo)
    with receiver(ok()) as rec:
        Job(live_repo, kid).succeed(0, store, webhook=rec.url())
        Job(live_repo, kid).succeed(0, store, b"bytes", upload=rec.url("/put"))
        rows = live_repo.outbox.claim_due(10, LEASE)
        assert sorted(r.kind for r in rows) == ["upload", "webhook"]
        deliverer = make_deliverer(live_repo, store)
        writer = sqlite3.connect(str(live_repo.engine.url.database), isolation_level=None, timeout=30)
        writer.execute("BEGIN IMMEDIATE")  # another writer mid-transaction

        async def attempt_all() -> list[Any]:
            try:
                return [await asyncio.wait_for(deliverer.attempt(row), 3.0) for row in rows]
            finally:  # inside the loop: a read stuck on the lock gets it, so the loop can close
                writer.execute("ROLLBACK")
                writer.close()

        outcomes = asyncio.run(attempt_all())
        assert [o.status for o in outcomes] == ["sent", "sent"]
        assert len(rec.snapshot()) == 2


def test_httpcore_finds_sniffio_so_requests_do_not_rescan_sys_path() -> None:
    """httpcore calls ``current_async_library()`` ~7 times per request, and it starts with
    ``import sniffio``. anyio 4.x no longer pulls sniffio in; without it every one of those
    imports fails after scanning sys.path (~40 us each, under the import lock), which costs
    the deliverer about a third of its throughput."""
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None, "add sniffio to the project dependencies"
