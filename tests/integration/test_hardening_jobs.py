"""The hardening issue, end to end behind the API: jobs, deliveries, logs and memory of real
``cinefuse serve`` (and ``cinefuse worker``) processes, with webhook and upload receivers on
127.0.0.1 (tests/delivery/receivers.py).

Covered (docs/api.md 4.2-4.3, "Limits"; docs/architecture.md):

* probe 3: results the sweeper ends (a worker lost past ``CINEFUSE_MAX_ATTEMPTS``, or a
  cancelled task whose worker then died) get their webhook, exactly one per result, with
  ``inferenceError`` / ``taskCancelled``;
* probe 4: a webhook call in flight when the server is SIGKILLed is sent again within seconds
  of the restart (not when its 82 s claim expires), with the same ``webhook-id``;
* probe 5: the query of an ``uploadEndpoint`` (presigned signatures, tokens) never reaches the
  server log, while the upload failure is logged with scheme, host and path (the deliverer's
  own line is clean; httpx's request log is not: xfail);
* probe 6 (slow): 20 concurrent uploads of 4000x4000 images leave the server's RSS near its
  baseline once answered;
* probe 7: temporary work folders of dead processes are removed at start, live ones kept;
* a task refused for one bad inline image stores none of its other inline images.

Each reproduces a finding of the hardening review: it fails on the older build
(``CINEFUSE_BIN=<old cinefuse>``) and passes on the fixed one, except where marked xfail
(a defect still present, described in the marker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.delivery.receivers import Call, always, hang_then, ok, receiver
from tests.integration.client import poll, post, submit, wait_done
from tests.integration.conftest import LiveServer, cinefuse_executable, start_live_server
from tests.integration.probes import data_uri, gradient_png, media_files, rss_mb, wait_for

OUTBOUND = {"CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Shared by the tests below; the in-flight test kills and restarts it (same data, port, key)."""
    live = start_live_server(tmp_path_factory.mktemp("hardening-jobs"), OUTBOUND)
    try:
        yield live
    finally:
        live.stop()


def items_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body.get("data", []) + body.get("errors", [])
    return items


def webhook_item(call: Call) -> tuple[str, dict[str, Any]]:
    """("data" or "errors", the one item) of a webhook call."""
    payload = orjson.loads(call.body)
    ((kind, (item,)),) = payload.items()
    return kind, item


# --- 7. probe 3: webhooks for results the sweeper ends -----------------------------------------------


def start_worker(server: LiveServer, log: Path, threads: int) -> subprocess.Popen[bytes]:
    """A ``cinefuse worker`` process on the server's data dir and settings, in its own process group."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(cinefuse_executable()), "worker", "--workers", str(threads)],
            env=server.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def freeze_between_writes(pgid: int, database: Path, attempts: int = 50) -> None:
    """SIGSTOP the process group at a moment it holds no SQLite write lock, so that it can
    neither see a cancel nor renew its leases, while the server can still write. (A process
    frozen inside one of its short write transactions would hold the lock until it is killed;
    a killed process drops it at once, which is the failure the test is about.)"""
    for _ in range(attempts):
        os.killpg(pgid, signal.SIGSTOP)
        probe = sqlite3.connect(database, timeout=0.5, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # "database is locked": frozen mid-write; try again
            os.killpg(pgid, signal.SIGCONT)
            time.sleep(0.02)
        finally:
            probe.close()
    raise AssertionError(f"the worker held the write lock at each of {attempts} freezes")


def test_results_the_sweeper_ends_get_one_webhook_each(tmp_path: Path) -> None:
    """Two jobs run in a worker process; it is frozen, one job is cancelled, and it is killed.
    With one attempt allowed, the server's sweeper ends both jobs when their leases run out:
    the lost one ``inferenceError``, the cancelled one ``taskCancelled``."""
    env = OUTBOUND | {
        "CINEFUSE_WORKERS": "0",  # the server only serves and sweeps; the work runs in the worker below
        "CINEFUSE_MAX_ATTEMPTS": "1",
        "CINEFUSE_LEASE_SECONDS": "1",
        "CINEFUSE_SWEEP_INTERVAL": "0.5",
        "CINEFUSE_WEBHOOK_BACKOFF": "0.1",
    }
    live = start_live_server(tmp_path, env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        with receiver(ok()) as rec:
            # 720p x 8 s: each result renders for many seconds, so both jobs are mid-result when killed.
            long = {"resolution": "720p", "duration": 8, "numberResults": 2}
            lost = submit(live.base_url, live.api_key, webhookURL=rec.url("/lost"), **long)
            cancelled = submit(live.base_url, live.api_key, webhookURL=rec.url("/cancelled"), **long)
            worker = start_worker(live, tmp_path / "worker.log", threads=2)

            def rendering(task_uuid: str) -> bool:
                items = items_of(poll(live.base_url, live.api_key, task_uuid))
                return any(i["status"] == "processing" and i["progress"] > 0 for i in items)

            def both_rendering() -> bool:
                return rendering(lost) and rendering(cancelled)

            wait_for(both_rendering, 60, "the worker never started both jobs", interval=0.05)
            freeze_between_writes(worker.pid, live.data_dir / "cinefuse.db")
            cancel = post(live.base_url, live.api_key, [{"taskType": "cancelTask", "taskUUID": cancelled}])
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            assert cancel.json()["data"][0]["status"] == "running", cancel.text  # a cancel the worker never saw

            calls = rec.wait_for(4, timeout=20)
            time.sleep(1.0)  # room for a duplicate to show up
            calls = rec.snapshot()
        lost_done = wait_done(live.base_url, live.api_key, lost, timeout=5)
        cancelled_done = wait_done(live.base_url, live.api_key, cancelled, timeout=5)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        live.stop()

    for task_uuid, done, route, code in (
        (lost, lost_done, "/lost", "inferenceError"),
        (cancelled, cancelled_done, "/cancelled", "taskCancelled"),
    ):
        assert not done.get("data"), done
        assert [e["code"] for e in done["errors"]] == [code, code], done
        expected = {e["videoUUID"]: e for e in done["errors"]}
        hooks = [c for c in calls if c.route == route]
        assert sorted(c.header("webhook-id") or "" for c in hooks) == sorted(f"msg_{v}" for v in expected), hooks
        for call in hooks:
            kind, item = webhook_item(call)
            assert kind == "errors" and item == expected[item["videoUUID"]], item
            assert (item["taskUUID"], item["status"], item["code"]) == (task_uuid, "error", code)
    assert len(calls) == 4, [c.route for c in calls]


# --- 8. probe 4: a webhook in flight when the server dies --------------------------------------------


def test_webhook_in_flight_when_the_server_is_killed_is_sent_again_soon_after_the_restart(
    server: LiveServer,
) -> None:
    with receiver(hang_then(1, 60.0)) as rec:  # the first call gets no answer; later ones 200 at once
        task_uuid = submit(server.base_url, server.api_key, webhookURL=rec.url("/inflight"))
        (first,) = rec.wait_for(1, timeout=30)
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)  # mid-call: no shutdown hook records anything
        server.proc.wait()
        try:
            server.restart()
        finally:
            if server.proc is None or server.proc.poll() is not None:
                server.start()  # leave the module's server running for the tests after this one
        healthy_at = time.monotonic()
        calls = rec.wait_for(2, timeout=15)
    retried = calls[1]
    assert retried.at - healthy_at < 15
    assert retried.header("webhook-id") == first.header("webhook-id")
    done = poll(server.base_url, server.api_key, task_uuid)
    assert orjson.loads(retried.body) == {"data": done["data"]}
    assert first.header("webhook-id") == f"msg_{done['data'][0]['videoUUID']}"


# --- 9. probe 5: secrets in logs ------------------------------------------------------------------


@dataclass(frozen=True)
class FailedUpload:
    secrets: tuple[str, ...]
    logged_url: str  # what the log may show: scheme, host and path
    log: str


@pytest.fixture(scope="module")
def failed_upload(server: LiveServer) -> FailedUpload:
    """One upload to a presigned-looking URL that answers 403, so the server gives it up and
    logs the failure; the server log as it stands then."""
    mark = uuid.uuid4().hex[:8]
    secrets = (f"SECRETSIG{mark}", f"SECRETCRED{mark}", f"SECRETTOKEN{mark}")
    with receiver(always(403)) as rec:
        path = f"/bucket/renders/{mark}.mp4"
        query = f"?X-Amz-Signature={secrets[0]}&X-Amz-Credential={secrets[1]}&token={secrets[2]}"
        task_uuid = submit(server.base_url, server.api_key, uploadEndpoint=rec.url(path + query))
        body = wait_for(
            lambda: (b := poll(server.base_url, server.api_key, task_uuid)).get("errors") and b,
            30,
            "the upload never failed",
        )
        puts = rec.snapshot()
    assert [e["code"] for e in body["errors"]] == ["uploadFailed"]
    assert [c.path for c in puts] == [path + query]  # the secrets were sent where they belong
    return FailedUpload(secrets, f"http://127.0.0.1:{rec.port}{path}", server.log_path.read_text(errors="replace"))


def test_upload_failure_is_logged_with_scheme_host_and_path_but_not_the_query(failed_upload: FailedUpload) -> None:
    lines = [line for line in failed_upload.log.splitlines() if failed_upload.logged_url in line]
    failures = [line for line in lines if "upload" in line and "failed" in line]
    assert failures, f"the upload failure is not logged with {failed_upload.logged_url}: {lines}"
    for line in failures:
        leaked = [s for s in failed_upload.secrets if s in line]
        assert not leaked, f"secrets in the failure line: {line}"


def test_upload_endpoint_query_never_reaches_the_log(failed_upload: FailedUpload) -> None:
    leaked = [s for s in failed_upload.secrets if s in failed_upload.log]
    assert not leaked, f"secrets in the server log: {leaked}"


# --- probe 7: stale temporary folders ------------------------------------------------------------


def test_work_folders_of_dead_processes_are_removed_at_start_and_live_ones_kept(tmp_path: Path) -> None:
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    work = tmp_path / "data" / "work"
    dead = work / f"{dead_pid.pid}-k3x9a1"
    live = work / f"{os.getpid()}-q8w2e7"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "partial.mp4").write_bytes(b"\0" * 4096)
    server = start_live_server(tmp_path)  # healthy means started: the sweep of work/ ran before
    try:
        assert not dead.exists(), "the dead process's folder is still there"
        assert (live / "partial.mp4").exists(), "the live process's folder was removed"
    finally:
        server.stop()


# --- inline images of a refused task --------------------------------------------------------------


def test_task_refused_for_one_bad_inline_image_stores_none_of_its_images(server: LiveServer) -> None:
    task = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a lighthouse on a cliff at sunset, cinematic",
        "resolution": "360p",
        "inputs": {"frameImages": [data_uri(gradient_png(640, 360)), data_uri(gradient_png(100, 100))]},
    }
    before = media_files(server.data_dir)
    reply = post(server.base_url, server.api_key, [task])
    assert reply.status_code == 400 and reply.json()["errors"][0]["parameter"] == "inputs.frameImages[1]"
    assert media_files(server.data_dir) - before == set()


# --- 10. probe 6: memory given back ---------------------------------------------------------------

UPLOADS = 20
SIDE = 4000


@cache
def large_png() -> bytes:
    """A 4000x4000 gradient: 48 MB of pixels once decoded, a small PNG on the wire."""
    return gradient_png(SIDE, SIDE)


@pytest.mark.slow
def test_memory_of_a_burst_of_large_image_uploads_is_given_back(tmp_path: Path) -> None:
    image = data_uri(large_png())
    live = start_live_server(tmp_path)
    try:
        assert live.proc is not None
        pid = live.proc.pid
        warm = post(live.base_url, live.api_key, [_upload(data_uri(gradient_png(640, 360)))])
        assert warm.status_code == 200, warm.text  # decoders loaded: the baseline is a server that has decoded
        time.sleep(1.0)
        baseline = rss_mb(pid)
        replies: list[httpx.Response | BaseException] = [BaseException("not sent")] * UPLOADS

        def upload(i: int) -> None:
            try:
                replies[i] = post(live.base_url, live.api_key, [_upload(image)], timeout=120)
            except BaseException as exc:
                replies[i] = exc

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(UPLOADS)]
        for thread in threads:
            thread.start()
        peak = baseline
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(pid))
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        time.sleep(3.0)
        after = rss_mb(pid)
    finally:
        with contextlib.suppress(Exception):
            live.stop()
    for reply in replies:
        assert isinstance(reply, httpx.Response) and reply.status_code == 200, reply
        (item,) = reply.json()["data"]
        assert item["taskType"] == "imageUpload" and item["imageUUID"]
    assert after - baseline < 150, f"RSS {baseline:.0f} MiB before, {peak:.0f} at peak, {after:.0f} 3 s after"


def _upload(image: str) -> dict[str, Any]:
    return {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()), "image": image}
