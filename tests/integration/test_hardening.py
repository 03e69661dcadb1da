"""The hardening issue, end to end on the API surface: real ``cinefuse serve`` processes driven
by real clients (``websockets``, httpx, and a raw TCP WebSocket client that never reads).

Covered, each as the client sees it (docs/api.md "Transport", "Errors", "Limits"):

* an empty or blank API key is ``invalidApiKey`` on both transports, answered at once, and the
  WebSocket stays open; no key at all stays ``missingApiKey``;
* ``?dryRun=1`` (WebSocket URL, ``POST /v1`` and ``POST /v1/``) validates and answers every task,
  cost included, and leaves nothing behind: no job (getResponse outside the dry run is
  ``taskNotFound``, the jobs table has no row), no file under ``media/``, no stored image,
  and the taskUUID stays free for the real submission;
* ``/v1/`` with a trailing slash is the same endpoint as ``/v1`` on both transports;
* a URL frame image that fails when the job runs makes an ``invalidImage`` error naming
  ``inputs.frameImages[0]``;
* probe 1: an unauthenticated 1,000,000-element body is refused within seconds while
  ``/health`` keeps answering and memory stays flat; more tasks than
  ``CINEFUSE_MAX_TASKS_PER_REQUEST`` is ``invalidPayload`` naming the limit;
* probe 2: a WebSocket client that floods the server and never reads is closed when it has
  not authenticated, and read no further (back-pressure) then closed with 1008 when it has;
* the WebSocket idle timeout outlasts the longest SDK heartbeat (120 s): a socket silent for
  125 s on a default server still answers. That check runs in the background from the
  first test of this module on, and its test is ordered last (``late``), so the suite does
  not wait 125 s for it.

Why: each item is a finding of the hardening review that an older build reproduced; the
tests fail on that build (``CINEFUSE_BIN=<old cinefuse>``) and pass on the fixed one.
Jobs, deliveries, logs, memory and work folders are in test_hardening_jobs.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.client import post, video_task, wait_done
from tests.integration.conftest import LiveServer, free_port, start_live_server
from tests.integration.probes import (
    PING,
    PONG,
    FloodLog,
    HealthWatch,
    RawWebSocket,
    cpu_seconds,
    data_uri,
    flood,
    gradient_png,
    media_files,
    rss_mb,
    run,
    task_frame,
    ws_session,
)

#: The stall timeout of the shared server: a client that leaves its replies unread this long
#: is disconnected.
STALL_TIMEOUT = 2.0
SERVER_ENV = {
    "CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1",
    "CINEFUSE_WS_STALL_TIMEOUT": str(STALL_TIMEOUT),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The server most tests share; each test waits for the jobs it submits, so a test that
    compares the files under ``media/`` before and after sees only its own."""
    live = start_live_server(tmp_path_factory.mktemp("hardening"), SERVER_ENV)
    try:
        yield live
    finally:
        live.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get_response(task_uuid: str) -> dict[str, Any]:
    return {"taskType": "getResponse", "taskUUID": task_uuid}


def jobs_with_uuid(server: LiveServer, task_uuid: str) -> int:
    """Rows of the server's jobs table for ``task_uuid``, read straight from its database."""
    db = sqlite3.connect(f"file:{server.data_dir / 'cinefuse.db'}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = db.execute("SELECT count(*) FROM jobs WHERE task_uuid = ?", (task_uuid,)).fetchone()
        return int(count)
    finally:
        db.close()


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("data"), body
    (error,) = body["errors"]
    assert isinstance(error, dict)
    return error


# --- 1. empty or blank API keys -------------------------------------------------------------------


def test_empty_or_blank_key_on_websocket_is_invalid_api_key_at_once_and_the_socket_stays_open(
    server: LiveServer,
) -> None:
    async def scenario() -> list[tuple[str, float, dict[str, Any]]]:
        seen = []
        async with ws_session(server.ws_url) as ws:
            for key in ("", "   "):
                started = time.monotonic()
                await ws.send({"taskType": "authentication", "apiKey": key})
                reply = await ws.recv(timeout=5)
                seen.append((key, time.monotonic() - started, reply))
                await ws.ping()  # still open, still answering
            await ws.authenticate(server.api_key)  # and a good key still works on it
        return seen

    for key, elapsed, reply in run(scenario()):
        error = only_error(reply)
        assert (error["code"], error["taskType"]) == ("invalidApiKey", "authentication"), (key, reply)
        assert elapsed < 1.0, f"apiKey {key!r} answered after {elapsed:.2f} s"


def raw_post(server: LiveServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST with headers exactly as given (httpx refuses a header value ending in a space)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"} | headers)
        response = conn.getresponse()
        payload: dict[str, Any] = orjson.loads(response.read())
        return response.status, payload
    finally:
        conn.close()


def test_empty_or_blank_key_on_rest_is_invalid_api_key_and_no_key_stays_missing(server: LiveServer) -> None:
    ping = orjson.dumps([PING])

    def auth_task(key: str) -> bytes:
        return orjson.dumps([{"taskType": "authentication", "apiKey": key}, PING])

    answers = {
        "empty Bearer": raw_post(server, "/v1", ping, {"Authorization": "Bearer "}),
        "blank Bearer": raw_post(server, "/v1", ping, {"Authorization": "Bearer    "}),
        "empty apiKey": raw_post(server, "/v1", auth_task(""), {}),
        "blank apiKey": raw_post(server, "/v1", auth_task("   "), {}),
    }
    for case, (status, body) in answers.items():
        assert status == 401, (case, body)
        assert [e["code"] for e in body["errors"]] == ["invalidApiKey"], (case, body)
    status, body = raw_post(server, "/v1", orjson.dumps([get_response(str(uuid.uuid4()))]), {})
    assert status == 401 and [e["code"] for e in body["errors"]] == ["missingApiKey"], body


# --- 2. dry runs ------------------------------------------------------------------------------------


def test_websocket_dry_run_answers_with_cost_and_leaves_nothing_behind(server: LiveServer) -> None:
    task = video_task(includeCost=True, numberResults=2)  # 360p x 5 s: 0.02 * 5 = 0.1 a result
    task_uuid = task["taskUUID"]
    invalid = video_task(duration=7)
    files_before = media_files(server.data_dir)

    async def dry_session() -> tuple[dict[str, Any], ...]:
        async with ws_session(f"{server.ws_url}?dryRun=1") as dry:
            await dry.authenticate(server.api_key)
            ack = await dry.ask(task)
            results = await dry.ask(get_response(task_uuid))
            refused = await dry.ask(invalid)
        return ack, results, refused

    async def normal_session() -> tuple[dict[str, Any], ...]:
        async with ws_session(server.ws_url) as ws:
            await ws.authenticate(server.api_key)
            refused = await ws.ask(invalid)
            lookup = await ws.ask(get_response(task_uuid))
        return refused, lookup

    ack, results, dry_refused = run(dry_session())
    assert ack == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid, "dryRun": True, "cost": 0.2}]}
    items = results["data"]
    assert len(items) == 2 and "errors" not in results, results
    for item in items:
        assert (item["taskType"], item["taskUUID"], item["status"]) == ("videoInference", task_uuid, "success")
        assert item["dryRun"] is True and item["cost"] == 0.1
        assert "videoURL" not in item
    assert len({item["videoUUID"] for item in items}) == 2

    normal_refused, lookup = run(normal_session())
    assert only_error(dry_refused) == only_error(normal_refused)  # the same check, the same answer
    assert only_error(dry_refused)["code"] == "unsupportedDuration"
    assert only_error(lookup)["code"] == "taskNotFound"
    assert jobs_with_uuid(server, task_uuid) == 0
    assert media_files(server.data_dir) == files_before

    async def submit_for_real() -> dict[str, Any]:
        async with ws_session(server.ws_url) as ws:
            await ws.authenticate(server.api_key)
            return await ws.ask(task)

    assert run(submit_for_real()) == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid}]}
    done = wait_done(server.base_url, server.api_key, task_uuid)
    assert [i["status"] for i in done["data"]] == ["success", "success"]


@pytest.mark.parametrize("path", ["/v1?dryRun=1", "/v1/?dryRun=1"])
def test_rest_dry_run_answers_with_cost_and_leaves_nothing_behind(server: LiveServer, path: str) -> None:
    task = video_task(includeCost=True, numberResults=2)
    task_uuid = task["taskUUID"]
    files_before = media_files(server.data_dir)
    dry_url = server.base_url + path

    ack = httpx.post(dry_url, json=[task], headers=bearer(server.api_key))
    assert ack.status_code == 200, ack.text
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid, "dryRun": True, "cost": 0.2}]}
    results = httpx.post(dry_url, json=[get_response(task_uuid)], headers=bearer(server.api_key)).json()
    assert [(i["status"], i["dryRun"]) for i in results["data"]] == [("success", True)] * 2, results
    assert "videoURL" not in results["data"][0] and "videoURL" not in results["data"][1]

    invalid = video_task(resolution="2160p")
    dry_refused = httpx.post(dry_url, json=[invalid], headers=bearer(server.api_key))
    refused = post(server.base_url, server.api_key, [invalid])
    assert dry_refused.status_code == refused.status_code == 400
    assert dry_refused.json() == refused.json()

    lookup = post(server.base_url, server.api_key, [get_response(task_uuid)])
    assert only_error(lookup.json())["code"] == "taskNotFound"
    assert jobs_with_uuid(server, task_uuid) == 0
    assert media_files(server.data_dir) == files_before

    real = post(server.base_url, server.api_key, [task])  # the dry run did not use up the taskUUID
    assert real.status_code == 200 and real.json() == {"data": [{"taskType": "videoInference", "taskUUID": task_uuid}]}
    wait_done(server.base_url, server.api_key, task_uuid)


def test_dry_run_checks_inline_images_but_stores_none(server: LiveServer) -> None:
    good = data_uri(gradient_png(640, 360))
    too_small = data_uri(gradient_png(100, 100))
    dry_url = f"{server.rest_url}?dryRun=1"
    files_before = media_files(server.data_dir)

    accepted_task = video_task(inputs={"frameImages": [good]})
    accepted = httpx.post(dry_url, json=[accepted_task], headers=bearer(server.api_key))
    refused_task = video_task(inputs={"frameImages": [good, too_small]})
    refused = httpx.post(dry_url, json=[refused_task], headers=bearer(server.api_key))
    upload = {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()), "image": good}
    uploaded = httpx.post(dry_url, json=[upload], headers=bearer(server.api_key))

    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "data": [{"taskType": "videoInference", "taskUUID": accepted_task["taskUUID"], "dryRun": True}]
    }
    assert refused.status_code == 400, refused.text
    error = only_error(refused.json())
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "invalidImage",
        "inputs.frameImages[1]",
        refused_task["taskUUID"],
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() == {"data": [{"taskType": "imageUpload", "taskUUID": upload["taskUUID"], "dryRun": True}]}
    assert media_files(server.data_dir) == files_before  # no images/ file, nothing at all
    assert jobs_with_uuid(server, accepted_task["taskUUID"]) == 0


# --- 3. /v1/ -----------------------------------------------------------------------------------------


def test_trailing_slash_is_the_same_endpoint_on_websocket_and_rest(server: LiveServer) -> None:
    async def scenario() -> None:
        async with ws_session(f"{server.ws_url}/") as ws:
            await ws.authenticate(server.api_key)
            await ws.ping()

    run(scenario())
    reply = httpx.post(f"{server.rest_url}/", json=[PING], headers=bearer(server.api_key))
    assert reply.status_code == 200, reply.text
    assert reply.json() == PONG


# --- 4. a URL frame image failing at run time ------------------------------------------------------


def test_url_frame_image_failing_when_the_job_runs_is_invalid_image_naming_its_parameter(server: LiveServer) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/frame.png"  # allowed by the guard, but nothing listens
    task = video_task(inputs={"frameImages": [dead_url]})

    async def scenario() -> dict[str, Any]:
        async with ws_session(server.ws_url) as ws:
            await ws.authenticate(server.api_key)
            assert await ws.ask(task) == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                body = await ws.ask(get_response(task["taskUUID"]))
                items = body.get("data", []) + body.get("errors", [])
                if items and all(i["status"] != "processing" for i in items):
                    return body
                await asyncio.sleep(0.2)
            raise TimeoutError(f"task still processing: {body}")

    error = only_error(run(scenario()))
    assert (error["status"], error["code"], error["parameter"]) == ("error", "invalidImage", "inputs.frameImages[0]")
    assert (error["taskType"], error["taskUUID"]) == ("videoInference", task["taskUUID"])


# --- 5. probe 1: huge bodies and too many tasks ------------------------------------------------------


def test_unauthenticated_million_element_body_is_refused_fast_and_the_server_stays_well(server: LiveServer) -> None:
    assert server.proc is not None
    body = b"[" + b",".join([b"1"] * 1_000_000) + b"]"
    baseline = rss_mb(server.proc.pid)
    with HealthWatch(server.base_url, server.proc.pid) as health:
        started = time.monotonic()
        try:
            reply = httpx.post(server.rest_url, content=body, headers={"Content-Type": "application/json"}, timeout=15)
        finally:
            elapsed = time.monotonic() - started
            time.sleep(0.5)  # /health and RSS also just after the answer
    assert 400 <= reply.status_code < 500, reply.status_code
    assert elapsed < 3.0, f"answered after {elapsed:.1f} s"
    health.check(limit=1.0)
    assert health.peak_rss - baseline < 300, f"RSS {baseline:.0f} -> {health.peak_rss:.0f} MiB"


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("limited"), {"CINEFUSE_MAX_TASKS_PER_REQUEST": "50"})
    try:
        yield live
    finally:
        live.stop()


def test_more_tasks_than_the_request_limit_is_invalid_payload_naming_the_limit(limited_server: LiveServer) -> None:
    live = limited_server
    at_limit = post(live.base_url, live.api_key, [PING] * 50)
    over = post(live.base_url, live.api_key, [PING] * 51)

    async def over_websocket() -> dict[str, Any]:
        async with ws_session(live.ws_url) as ws:
            await ws.authenticate(live.api_key)
            await ws.send(*[PING] * 51)
            return await ws.recv()

    assert at_limit.status_code == 200 and len(at_limit.json()["data"]) == 50
    assert over.status_code == 400, over.text
    for reply in (over.json(), run(over_websocket())):
        error = only_error(reply)
        assert error["code"] == "invalidPayload", reply
        assert "50" in error["message"].split("limit")[-1], error["message"]  # "...; the limit is 50."


# --- 6. probe 2: WebSocket clients that never read ---------------------------------------------------


@dataclass
class Flood:
    log: FloodLog
    health: HealthWatch
    baseline_rss: float


@pytest.fixture(scope="module")
def unauthenticated_flood(server: LiveServer) -> Flood:
    """A client that never authenticates writes ping messages as fast as it can and never
    reads, until its connection breaks (20 s at most); /health is called all along. Run once,
    judged by the two tests below."""
    assert server.proc is not None
    baseline = rss_mb(server.proc.pid)
    raw = RawWebSocket(server.host, server.port)
    try:
        with HealthWatch(server.base_url, server.proc.pid) as health:
            log = flood(raw, task_frame(PING) * 100, seconds=20)
    finally:
        raw.close()
    return Flood(log, health, baseline)


def test_unauthenticated_flooding_client_that_never_reads_is_disconnected(unauthenticated_flood: Flood) -> None:
    log, health = unauthenticated_flood.log, unauthenticated_flood.health
    assert log.error is not None and log.error_at is not None, f"still connected after 20 s: {log}"
    # Closed at once (1008); uvicorn then waits 10 s for the close reply before dropping the TCP connection.
    assert log.error_at - log.started < 15, log
    growth = health.peak_rss - unauthenticated_flood.baseline_rss
    assert growth < 150, f"RSS grew {growth:.0f} MiB"


def test_health_stays_responsive_while_an_unauthenticated_client_floods(unauthenticated_flood: Flood) -> None:
    unauthenticated_flood.health.check(limit=1.0)


def fat_lookup_frame() -> bytes:
    """A message whose reply is about 30 kB (the error echoes the taskUUID as sent): the
    server's buffers fill in a fraction of a second, so the test measures the stall timeout,
    not the size of the kernel's socket buffers."""
    return task_frame(get_response("x" * 30_000))


def test_authenticated_client_that_stops_reading_is_read_no_further_then_dropped(server: LiveServer) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    baseline = rss_mb(pid)
    raw = RawWebSocket(server.host, server.port)
    try:
        raw.sock.sendall(task_frame({"taskType": "authentication", "apiKey": server.api_key}))
        assert "data" in raw.read_json()  # the last thing this client reads for a while
        with HealthWatch(server.base_url, pid) as health:
            log = flood(raw, fat_lookup_frame(), seconds=STALL_TIMEOUT + 4)
            stalled_rss = rss_mb(pid)
        # The server stopped reading (back-pressure: writes stopped going out), and once the
        # stall timeout passed it dropped the connection rather than wait for a client that
        # does not read to take a close frame.
        assert log.blocked_since is not None, log
        assert log.error is not None and log.error_at is not None, log
        assert log.error_at - log.blocked_since >= STALL_TIMEOUT - 0.5, log
        assert stalled_rss - baseline < 150, f"RSS {baseline:.0f} -> {stalled_rss:.0f} MiB while stalled"
    finally:
        raw.close()
    health.check(limit=1.0)
    assert max(health.peak_rss, stalled_rss) - baseline < 150, f"RSS {baseline:.0f} -> {health.peak_rss:.0f} MiB"

    # After the disconnect: the server idles again and a new client is served at once.
    time.sleep(0.5)
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    time.sleep(2.0)
    busy = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    assert busy < 0.3, f"server still busy after the disconnect: {busy:.0%} of a core"
    assert rss_mb(pid) - baseline < 150

    async def new_client() -> float:
        started = time.monotonic()
        async with ws_session(server.ws_url) as ws:
            await ws.authenticate(server.api_key)
            await ws.ping()
        return time.monotonic() - started

    assert run(new_client()) < 1.0


def server_holds_connection(server_port: int, client_port: int) -> bool:
    """Whether the kernel still has the server's end of that TCP connection established."""
    wanted = f"0100007F:{server_port:04X} 0100007F:{client_port:04X} 01"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]} {fields[3]}" == wanted:
            return True
    return False


@pytest.mark.slow
def test_stalled_client_that_keeps_not_reading_is_disconnected_by_the_server(server: LiveServer) -> None:
    raw = RawWebSocket(server.host, server.port)
    try:
        raw.sock.sendall(task_frame({"taskType": "authentication", "apiKey": server.api_key}))
        raw.read_json()
        # Stall the server (as above), then keep writing without ever reading again: a server that closed the
        # connection resets it (the write fails), and its end of the connection is gone.
        log = flood(raw, fat_lookup_frame(), seconds=STALL_TIMEOUT + 15)
        still_held = server_holds_connection(server.port, raw.local_port)
    finally:
        raw.close()
    assert log.error is not None or not still_held, f"connection still open on the server 17 s later: {log}"


# --- 12. the idle timeout outlasts the longest SDK heartbeat ------------------------------------------

IDLE_TEST = "test_socket_silent_for_125_s_on_a_default_server_still_answers"
SILENCE_S = 125.0


@dataclass
class IdleProbe:
    """A socket on a default server, silent for SILENCE_S between two pings, in a thread."""

    base: Path
    server: LiveServer | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = start_live_server(self.base)  # no CINEFUSE_WS_IDLE_TIMEOUT: the default
        self.thread = threading.Thread(target=lambda: run(self._probe()), name="idle-probe", daemon=True)
        self.thread.start()

    async def _probe(self) -> None:
        assert self.server is not None
        try:
            async with ws_session(self.server.ws_url) as ws:
                await ws.authenticate(self.server.api_key)
                await ws.ping()
                quiet_from = time.monotonic()
                await asyncio.sleep(SILENCE_S)  # nothing sent: no task, and no keepalive ping (ping_interval=None)
                self.outcome["silent_s"] = time.monotonic() - quiet_from
                self.outcome["reply"] = await ws.ask(PING, timeout=10)
        except Exception as exc:  # recorded for the test to report
            self.outcome["error"] = repr(exc)

    def result(self, timeout: float) -> dict[str, Any]:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the idle probe did not finish"
        return self.outcome

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.join(SILENCE_S + 30)
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session", autouse=True)
def idle_probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdleProbe | None]:
    """Started with the first test of this module when the idle test is selected; the idle
    test itself runs last in the session (``late``) and only collects the outcome."""
    if not any(getattr(item, "originalname", item.name) == IDLE_TEST for item in request.session.items):
        yield None
        return
    probe = IdleProbe(tmp_path_factory.mktemp("idle"))
    probe.start()
    try:
        yield probe
    finally:
        with contextlib.suppress(Exception):
            probe.stop()


@pytest.mark.slow
@pytest.mark.late
def test_socket_silent_for_125_s_on_a_default_server_still_answers(idle_probe: IdleProbe | None) -> None:
    assert idle_probe is not None
    outcome = idle_probe.result(timeout=SILENCE_S + 60)
    assert "error" not in outcome, outcome
    assert outcome["silent_s"] >= SILENCE_S
    assert outcome["reply"] == PONG
