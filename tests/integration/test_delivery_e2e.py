"""Webhooks and uploads end to end: a real ``cinefuse serve`` delivering to real receivers on
127.0.0.1 (docs/api.md 4.2-4.4), including one across a server restart and an S3 presigned PUT
against moto's server.

Every server here renders 360p x 5 s jobs with the preview engine, lets the outbound guard
reach 127.0.0.1 (unless a test checks the refusal) and backs off from 0.1 s instead of 1 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from cinefuse.jobs.db import make_engine
from cinefuse.jobs.tables import outbox
from tests.delivery.receivers import Call, Reply, fail_first, hang, ok, receiver
from tests.integration.client import poll, submit, wait_done
from tests.integration.conftest import LiveServer, free_port, start_live_server

pytestmark = pytest.mark.slow

BASE_ENV = {"CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1", "CINEFUSE_WEBHOOK_BACKOFF": "0.1"}
SECRET = "whsec_" + base64.b64encode(b"cinefuse-e2e-webhook-secret-0123").decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that share its settings; its key signs webhooks with SECRET."""
    base = tmp_path_factory.mktemp("delivery-e2e")
    api_key = "sk-test-" + secrets.token_hex(16)
    live = LiveServer(
        data_dir=base / "data", log_path=base / "server.log", api_key=api_key,
        extra_env=BASE_ENV | {"CINEFUSE_WEBHOOK_SECRETS": f"{api_key}:{SECRET}", "CINEFUSE_DELIVERY_TIMEOUT": "3"},
    )  # fmt: skip
    live.start()
    try:
        yield live
    finally:
        live.stop()


# --- helpers ----------------------------------------------------------------------------------


def items_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body.get("data", []) + body.get("errors", [])
    return items


def by_video(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["videoUUID"]: item for item in items_of(body)}


def json_body(call: Call) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def hook_video(call: Call) -> str:
    (item,) = items_of(json_body(call))
    return str(item["videoUUID"])


def verify_signature(call: Call, secret: str = SECRET) -> None:
    """Standard Webhooks, computed here: HMAC-SHA256 over "{id}.{ts}.{body}" keyed by the
    base64-decoded part of the whsec_ secret; header "v1,<base64>" (space-separated list)."""
    msg_id, ts, header = call.header("webhook-id"), call.header("webhook-timestamp"), call.header("webhook-signature")
    assert msg_id and ts and header, call.headers
    assert abs(time.time() - int(ts)) < 300
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + call.body, hashlib.sha256).digest())
    assert f"v1,{expected.decode()}" in header.split(" ")


def settle(seconds: float = 0.8) -> None:
    """Give a server time to make calls it should not make (and that a test then rules out)."""
    time.sleep(seconds)


def outbox_state(server: LiveServer) -> dict[str, tuple[str, int]]:
    """delivery id -> (status, attempts), read straight from the server's database."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'cinefuse.db'}")
    try:
        with engine.connect() as conn:
            return {r.delivery_id: (r.status, r.attempts) for r in conn.execute(select(outbox))}
    finally:
        engine.dispose()


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)


# --- webhooks ---------------------------------------------------------------------------------


def test_three_results_give_exactly_three_signed_webhooks_matching_get_response(server: LiveServer) -> None:
    with receiver(ok()) as rec:
        hook_url = rec.url("/hooks/cinefuse?token=s3cr%2Ft&tenant=a+b")
        task_uuid = submit(server.base_url, server.api_key, numberResults=3, webhookURL=hook_url, includeCost=True)
        done = wait_done(server.base_url, server.api_key, task_uuid)
        calls = rec.wait_for(3, timeout=20)
        settle()
        calls = rec.snapshot()
    assert [i["status"] for i in done["data"]] == ["success"] * 3
    expected = by_video(done)
    assert len(calls) == 3 and {c.method for c in calls} == {"POST"}
    assert {c.path for c in calls} == {"/hooks/cinefuse?token=s3cr%2Ft&tenant=a+b"}  # query kept as given
    assert sorted(c.header("webhook-id") or "" for c in calls) == sorted(f"msg_{v}" for v in expected)
    for call in calls:
        verify_signature(call)
        assert call.header("content-type") == "application/json"
        payload = json_body(call)
        assert payload == {"data": [expected[hook_video(call)]]}
        item = payload["data"][0]
        assert item["taskType"] == "videoInference" and item["taskUUID"] == task_uuid
        assert item["status"] == "success" and item["videoURL"].startswith(server.base_url) and "seed" in item


def test_receiver_failing_three_times_gets_the_fourth_with_the_same_webhook_id(server: LiveServer) -> None:
    with receiver(fail_first(3)) as rec:
        task_uuid = submit(server.base_url, server.api_key, webhookURL=rec.url())
        done = wait_done(server.base_url, server.api_key, task_uuid)
        calls = rec.wait_for(4, timeout=20)
        settle()
        calls = rec.snapshot()
    (item,) = done["data"]
    assert len(calls) == 4
    assert {c.header("webhook-id") for c in calls} == {f"msg_{item['videoUUID']}"}
    assert json_body(calls[-1]) == {"data": [item]}
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    # Backing off 0.1, 0.2, 0.4 s; the loop's 0.25 s idle poll rounds each up, so only the trend is checked.
    assert gaps[0] >= 0.09 and gaps[2] >= 0.39 and gaps[2] > gaps[0], gaps


def test_receiver_down_across_a_server_restart_still_gets_every_call(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here until the server has been restarted
    live = start_live_server(tmp_path, BASE_ENV | {"CINEFUSE_WEBHOOK_MAX_TRIES": "30"})
    try:
        url = f"http://127.0.0.1:{port}/hook?k=v"
        uuids = [submit(live.base_url, live.api_key, numberResults=2, webhookURL=url) for _ in range(2)]
        expected = set()
        for task_uuid in uuids:
            done = wait_done(live.base_url, live.api_key, task_uuid)
            expected |= {f"msg_{v}" for v in by_video(done)}

        def tried_all() -> bool:
            state = outbox_state(live)
            return set(state) == expected and all(attempts >= 1 for _, attempts in state.values())

        wait_for(tried_all, 20, "the server never tried the webhooks")
        live.stop()
        state = outbox_state(live)
        assert {status for status, _ in state.values()} == {"pending"}, state  # queued, survives the stop

        with receiver(ok(), port=port) as rec:
            live.start()
            rec.wait_for(len(expected), timeout=30, what=lambda c: c.header("webhook-id") in expected)
            wait_for(lambda: {s for s, _ in outbox_state(live).values()} == {"sent"}, 20, "outbox never drained")
            settle()
            calls = rec.snapshot()
    finally:
        live.stop()
    # Every result's call arrived; a repeat (a retry whose reply got lost) could only carry an
    # expected id, so equal sets mean nothing was lost and nothing foreign was sent.
    assert {c.header("webhook-id") for c in calls} == expected
    assert {c.path for c in calls} == {"/hook?k=v"}
    for call in calls:
        (item,) = json_body(call)["data"]
        assert call.header("webhook-id") == f"msg_{item['videoUUID']}" and item["status"] == "success"


def test_receiver_that_never_answers_is_given_up_after_max_tries_and_the_job_succeeds(tmp_path: Path) -> None:
    env = BASE_ENV | {"CINEFUSE_WEBHOOK_MAX_TRIES": "3", "CINEFUSE_DELIVERY_TIMEOUT": "0.5"}
    live = start_live_server(tmp_path, env)
    try:
        with receiver(hang(30.0)) as rec:
            task_uuid = submit(live.base_url, live.api_key, webhookURL=rec.url())
            done = wait_done(live.base_url, live.api_key, task_uuid)
            calls = rec.wait_for(3, timeout=20)
            msg = f"msg_{done['data'][0]['videoUUID']}"
            wait_for(lambda: outbox_state(live).get(msg) == ("failed", 3), 10, "webhook never given up")
            settle(1.0)
            calls = rec.snapshot()
        after = poll(live.base_url, live.api_key, task_uuid)
    finally:
        live.stop()
    assert len(calls) == 3 and {c.header("webhook-id") for c in calls} == {msg}
    assert [i["status"] for i in after["data"]] == ["success"] and "errors" not in after


def test_webhook_to_a_private_address_not_allowed_is_refused(tmp_path: Path) -> None:
    live = start_live_server(tmp_path, {"CINEFUSE_OUTBOUND_ALLOW": "10.0.0.0/8"})  # not 127.0.0.1
    try:
        with receiver(ok()) as rec:
            hooked = submit(live.base_url, live.api_key, webhookURL=rec.url())
            uploaded = submit(live.base_url, live.api_key, uploadEndpoint=rec.url("/put"))
            hook_done = wait_done(live.base_url, live.api_key, hooked)
            wait_for(lambda: "errors" in poll(live.base_url, live.api_key, uploaded), 30, "upload never failed")
            settle()
            assert rec.snapshot() == []
        state = outbox_state(live)
        upload_done = poll(live.base_url, live.api_key, uploaded)
    finally:
        live.stop()
    assert [i["status"] for i in hook_done["data"]] == ["success"]
    assert state[f"msg_{hook_done['data'][0]['videoUUID']}"] == ("failed", 1)
    (error,) = upload_done["errors"]
    assert error["code"] == "uploadFailed"
    assert state[f"upl_{error['videoUUID']}"] == ("failed", 1)


# --- uploads ----------------------------------------------------------------------------------


def test_upload_endpoint_gets_the_exact_bytes_with_content_length_then_the_webhook(server: LiveServer) -> None:
    with receiver(ok()) as rec:
        upload_url = rec.url("/bucket/result.mp4?X-Sig=abc%3D&exp=9")
        task_uuid = submit(server.base_url, server.api_key, uploadEndpoint=upload_url, webhookURL=rec.url("/hook"))
        rec.wait_for(2, timeout=30)
        settle()
        put, hook = rec.snapshot()
    done = poll(server.base_url, server.api_key, task_uuid)
    (item,) = done["data"]
    video = httpx.get(item["videoURL"], timeout=10).content
    assert (put.method, put.path) == ("PUT", "/bucket/result.mp4?X-Sig=abc%3D&exp=9")
    assert put.body == video and len(video) > 1000
    assert put.header("content-length") == str(len(video))
    assert put.header("transfer-encoding") is None
    assert put.header("content-type") == "video/mp4"
    assert hook.method == "POST" and hook.at >= put.at  # the webhook waited for the upload
    verify_signature(hook)
    assert json_body(hook) == {"data": [item]}


def test_upload_that_fails_makes_upload_failed_file_stays_at_its_video_url(server: LiveServer) -> None:
    def refuse_slowly(n: int, call: Call) -> Reply:
        return Reply(403, b"denied", delay=1.5)  # slow, so the success (and its videoURL) can be seen first

    with receiver(refuse_slowly) as uploads, receiver(ok()) as hooks:
        task_uuid = submit(server.base_url, server.api_key, uploadEndpoint=uploads.url("/put"),
                           webhookURL=hooks.url())  # fmt: skip
        success = wait_for(
            lambda: [i for i in poll(server.base_url, server.api_key, task_uuid).get("data", [])
                     if i["status"] == "success"], 30, "no success before the upload failed", 0.05,
        )  # fmt: skip
        video_url = success[0]["videoURL"]
        (hook,) = hooks.wait_for(1, timeout=20)
        puts = uploads.snapshot()
    done = poll(server.base_url, server.api_key, task_uuid)
    assert "data" not in done or done["data"] == []
    (error,) = done["errors"]
    assert error["code"] == "uploadFailed" and error["videoUUID"] == success[0]["videoUUID"]
    assert json_body(hook) == {"errors": [error]}
    assert len(puts) == 1  # a 403 is final: not retried
    download = httpx.get(video_url, timeout=10)
    assert download.status_code == 200 and download.content == puts[0].body


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_s3_presigned_put_url_accepts_the_upload(server: LiveServer, signature_version: str) -> None:
    """SigV4 is what AWS S3 takes today; with SigV2 query auth moto also checks that the
    request's Content-Type equals the one the URL was signed for."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    from botocore.config import Config

    moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3 = boto3.client(
            "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(signature_version=signature_version),
        )  # fmt: skip
        s3.create_bucket(Bucket="deliveries")
        key = f"renders/{os.urandom(6).hex()}.mp4"
        presigned = s3.generate_presigned_url(
            "put_object", Params={"Bucket": "deliveries", "Key": key, "ContentType": "video/mp4"}, ExpiresIn=600
        )
        assert ("X-Amz-Signature=" if signature_version == "s3v4" else "&Signature=") in presigned
        with receiver(ok()) as hooks:
            task_uuid = submit(server.base_url, server.api_key, uploadEndpoint=presigned, webhookURL=hooks.url())
            (hook,) = hooks.wait_for(1, timeout=30)  # sent once the upload has ended
        done = poll(server.base_url, server.api_key, task_uuid)
        assert json_body(hook) == {"data": done["data"]}, done  # success: S3 took it
        (item,) = done["data"]
        stored = s3.get_object(Bucket="deliveries", Key=key)
        video = httpx.get(item["videoURL"], timeout=10).content
        assert stored["Body"].read() == video and len(video) > 1000
        assert stored["ContentType"] == "video/mp4" and stored["ContentLength"] == len(video)
    finally:
        moto.stop()
