"""The second hardening round (issue 20), end to end against real ``cinefuse serve`` processes.

* **Memory amplification without a key.** 50 MB of ``[[],[],...]`` (16.7 million empty
  arrays) POSTed to ``/v1`` with no key, one body and four at once, and the same as one
  WebSocket message before authenticating: each is refused (a 4xx; the socket closed with
  1009) within 0.5 s, the server's RSS rises by at most 150 MB, and ``/health``, called
  back to back from another process all along, answers every time within 100 ms (on one of
  up to three runs of the attack: a stall the attack causes shows on each). An older
  build parsed the whole body first: +1.5 GB (+5 GB for four), ``/health`` stalled for 6 to
  15 s. With a key, the same body is read but never parsed (413: more values than
  ``CINEFUSE_MAX_JSON_VALUES`` could build).
* **Revoked keys.** A WebSocket authenticated before ``cinefuse keys revoke`` is closed with
  1008 ("API key revoked") within one sweep of the revoke, and accepts no task from the
  key refresh on; REST refuses the key too. Work the key left unfinished is cancelled
  (docs/api.md, "Revoked keys").
* **/readyz** tells a remote caller without a key ready or not and nothing else; a local
  caller, or one with a key, gets the checks (database URL, worker hosts).
* **Other methods on /v1** are 405 with ``Allow``, in the API's error shape.

The attack tests print their figures (``-s`` shows them): RSS peak over the baseline, the
slowest ``/health``, the time to the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.client import video_task
from tests.integration.conftest import LiveServer, cinefuse_executable, start_live_server
from tests.integration.probes import RawWebSocket, rss_mb, run, wait_for, ws_frame, ws_session

# /health is timed to 100 ms while an attack runs: on cores shared with other test workers
# that measures the neighbours, so this module runs alone, after the parallel phase.
pytestmark = pytest.mark.serial

#: The attack body: 50 MB of empty arrays.
ATTACK_BYTES = 50_000_000
REFUSED_WITHIN_S = 0.5
RSS_RISE_LIMIT_MB = 150.0
HEALTH_LIMIT_S = 0.1
#: How long /health and RSS are still watched after the last refusal: an older build freed
#: the parsed body only then.
AFTERMATH_S = 1.5
SWEEP_INTERVAL_S = 1.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def attack_body() -> bytes:
    count = ATTACK_BYTES // 3
    return b"[" + b"[]," * (count - 1) + b"[]]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("round2"), {"CINEFUSE_SWEEP_INTERVAL": str(SWEEP_INTERVAL_S)})
    try:
        yield live
    finally:
        live.stop()


# --- instruments ----------------------------------------------------------------------------------


SCRIPT = [sys.executable, "-m", "tests.integration.test_hardening_round2"]


class HealthAndMemory:
    """Calls ``GET /health`` back to back in one thread and samples the server's RSS in
    another, keeping every call's start and duration, so that a slow answer can be placed
    against the attack. Runs in the watcher process (``ServerWatch``)."""

    def __init__(self, base_url: str, pid: int, interval: float = 0.01, timeout: float = 15.0) -> None:
        self.url, self.pid, self.interval, self.timeout = f"{base_url}/health", pid, interval, timeout
        self.calls: list[tuple[float, float, str]] = []  # (started, seconds, "" or the failure)
        self.peak_rss = rss_mb(pid)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=target, daemon=True) for target in (self._health, self._rss)]

    def _health(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get(self.url).status_code
                    failure = "" if status == 200 else f"HTTP {status}"
                except httpx.HTTPError as exc:
                    failure = repr(exc)
                self.calls.append((started, time.monotonic() - started, failure))
                self._stop.wait(self.interval)

    def _rss(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, rss_mb(self.pid))
            self._stop.wait(0.005)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
        return {"calls": self.calls, "peak_rss": self.peak_rss}


class ServerWatch:
    """``HealthAndMemory`` in a process of its own: the test process's garbage collector or
    GIL must not pass for a slow server (a collection there stalled in-process calls by
    150 ms where an outside caller saw none)."""

    def __init__(self, server: LiveServer) -> None:
        assert server.proc is not None
        self.proc = subprocess.Popen(
            [*SCRIPT, "watch", server.base_url, str(server.proc.pid)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.calls: list[tuple[float, float, str]] = []
        self.peak_rss = 0.0

    def __enter__(self) -> ServerWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self.proc.communicate("stop\n", timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        self.calls = [(float(t), float(d), str(f)) for t, d, f in result["calls"]]
        self.peak_rss = float(result["peak_rss"])

    def slowest(self, since: float) -> tuple[float, float]:
        """(seconds, when it started relative to ``since``) of the slowest call."""
        started, seconds, _ = max(self.calls, key=lambda call: call[1])
        return seconds, started - since


class Attacker:
    """One attacking client in a process of its own (this file run as a script), so that
    building and sending 50 MB never competes with the test's /health calls for a GIL. It
    prepares its payload, says ``ready``, attacks on ``go`` and prints what it saw as JSON:
    ``{"answer": ..., "seconds": ...}``."""

    def __init__(self, mode: str, server: LiveServer) -> None:
        # Niced: attackers are remote clients; here they share the server's cores, and must not
        # take them from it (or from the /health calls).
        self.proc = subprocess.Popen(
            ["nice", "-n", "19", *SCRIPT, "attack", mode, server.host, str(server.port), server.api_key],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> tuple[Any, float]:
        assert self.proc.stdout is not None
        outcome = json.loads(self.proc.stdout.readline())
        answer = outcome["answer"]
        return (tuple(answer) if isinstance(answer, list) else answer), float(outcome["seconds"])

    def stop(self) -> None:
        """Let the attacker exit (its exit frees 150 MB, which the measurement need not see)."""
        self.proc.communicate("exit\n", timeout=60)


@dataclass
class Attack:
    """What one attack did to the server, as measured from outside."""

    name: str
    baseline_mb: float
    answers: list[tuple[Any, float]] = field(default_factory=list)  # (status or close code, seconds)
    peak_mb: float = 0.0
    health_worst_s: float = 0.0
    health_worst_at: float = 0.0  # seconds after the attack started
    health_calls: int = 0
    health_failures: list[str] = field(default_factory=list)

    def report(self) -> str:
        times = ", ".join(f"{answer} in {seconds:.3f} s" for answer, seconds in self.answers)
        return (
            f"{self.name}: RSS {self.baseline_mb:.0f} -> peak {self.peak_mb:.0f} MiB"
            f" (+{self.peak_mb - self.baseline_mb:.0f}); /health worst {self.health_worst_s * 1000:.0f} ms"
            f" (called {self.health_worst_at:+.2f} s into the attack)"
            f" over {self.health_calls} calls ({len(self.health_failures)} failed); answers: {times}"
        )


def measure(server: LiveServer, name: str, mode: str, concurrent: int) -> Attack:
    """Run ``concurrent`` attackers at once while /health is called and RSS sampled."""
    assert server.proc is not None
    pid = server.proc.pid
    attackers = [Attacker(mode, server) for _ in range(concurrent)]
    httpx.get(f"{server.base_url}/health", timeout=5)  # warm
    time.sleep(0.3)
    attack = Attack(name, baseline_mb=rss_mb(pid))
    with ServerWatch(server) as watch:
        time.sleep(0.2)  # /health answers before the attack, for comparison
        started = time.monotonic()
        for attacker in attackers:
            attacker.go()
        attack.answers = sorted((a.result() for a in attackers), key=lambda r: r[1])
        time.sleep(AFTERMATH_S)
    for attacker in attackers:
        attacker.stop()
    attack.peak_mb = watch.peak_rss
    attack.health_calls = len(watch.calls)
    attack.health_failures = [failure for _, _, failure in watch.calls if failure]
    attack.health_worst_s, attack.health_worst_at = watch.slowest(since=started)
    print(f"\n[figures] {attack.report()}")
    return attack


#: How many times an attack may be run to see /health within its limit. A stall caused by the
#: attack (5.6 s and 9.3 s on the build this guards against) shows on every run; a lone slow
#: call on a shared CI machine, long after the refusal, does not. Every other bound must hold
#: on every run.
HEALTH_TRIES = 3


def assert_survived(attack: Attack, expected: Callable[[Any], bool]) -> None:
    """Every bound but the /health latency, which ``survives`` judges across runs."""
    assert attack.answers, attack.report()
    for answer, seconds in attack.answers:
        assert expected(answer), attack.report()
        assert seconds < REFUSED_WITHIN_S, attack.report()
    assert attack.peak_mb - attack.baseline_mb <= RSS_RISE_LIMIT_MB, attack.report()
    assert attack.health_calls > 0 and not attack.health_failures, attack.report()


def survives(server: LiveServer, name: str, mode: str, concurrent: int, expected: Callable[[Any], bool]) -> None:
    """Run the attack until one run keeps /health within ``HEALTH_LIMIT_S`` (at most
    ``HEALTH_TRIES`` runs), asserting every other bound on each run."""
    runs: list[Attack] = []
    for _ in range(HEALTH_TRIES):
        attack = measure(server, name, mode, concurrent)
        assert_survived(attack, expected)
        runs.append(attack)
        if attack.health_worst_s < HEALTH_LIMIT_S:
            return
    pytest.fail(f"/health over {HEALTH_LIMIT_S * 1000:.0f} ms on every run:\n" + "\n".join(a.report() for a in runs))


# --- 1. memory amplification without a key ---------------------------------------------------------


@pytest.mark.parametrize("concurrent", [1, 4])
def test_unauthenticated_50_mb_bodies_of_empty_arrays_are_refused_at_once(server: LiveServer, concurrent: int) -> None:
    refused = lambda status: isinstance(status, int) and 400 <= status < 500  # noqa: E731
    survives(server, f"REST x{concurrent}", "rest", concurrent, refused)
    # The server still serves: a keyed request right after is answered as usual.
    ping = httpx.post(server.rest_url, json=[{"taskType": "ping", "ping": True}], headers=bearer(server.api_key))
    assert ping.status_code == 200, ping.text


def test_with_a_key_the_same_body_is_refused_unparsed(server: LiveServer) -> None:
    """A key lets the body be read (50 MB, once), not parsed: it could build more values than
    ``CINEFUSE_MAX_JSON_VALUES`` (413)."""
    survives(server, "REST x1 with a key", "rest-keyed", 1, lambda status: status == 413)


def test_unauthenticated_50_mb_websocket_message_closes_the_socket_at_once(server: LiveServer) -> None:
    survives(server, "WebSocket x1", "ws", 1, lambda answer: answer == ("close", 1009))


def test_a_message_that_fits_before_authentication_is_still_answered(server: LiveServer) -> None:
    pings = [{"taskType": "ping", "ping": True}] * 100

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with ws_session(server.ws_url) as ws:
            await ws.send(*pings)
            pongs = [await ws.recv() for _ in pings]
            await ws.authenticate(server.api_key)
            # Authenticated, the socket takes messages up to the body limit again.
            big = await ws.ask({"taskType": "getResponse", "taskUUID": "x" * 100_000})
            return pongs, big

    pongs, big = run(scenario())
    assert pongs == [{"data": [{"taskType": "ping", "pong": True}]}] * len(pings)
    assert big["errors"][0]["taskType"] == "getResponse", str(big)[:300]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- 2. revoked keys ---------------------------------------------------------------------------------


def cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
    env["CINEFUSE_DATA_DIR"] = str(server.data_dir)
    return subprocess.run(
        [str(cinefuse_executable()), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )


def job_rows(server: LiveServer, key_id: int) -> list[tuple[str, str, float]]:
    """(taskUUID, status, created_at) of every job of ``key_id``, from the server's database."""
    db = sqlite3.connect(f"file:{server.data_dir / 'cinefuse.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT task_uuid, status, created_at FROM jobs WHERE key_id = ?", (key_id,)).fetchall()
        return [(str(u), str(s), float(c)) for u, s, c in rows]
    finally:
        db.close()


@dataclass
class RevokeRun:
    revoked_at: float  # time.time() when ``cinefuse keys revoke`` returned
    close_code: int | None = None
    close_reason: str = ""
    closed_at: float | None = None
    accepted_after_revoke: list[float] = field(default_factory=list)
    refused_at: float | None = None
    statuses_at_revoke: list[str] = field(default_factory=list)  # as ``keys revoke`` reported them


def test_revoked_key_ends_its_open_websocket_within_one_sweep(server: LiveServer) -> None:
    created = cli(server, "keys", "create", "--label", "revoke-me")
    key = created.stdout.strip()
    key_id = int(created.stderr.split()[1])  # "key N created; ..."
    wait_for(
        lambda: httpx.post(server.rest_url, json=[{"taskType": "ping"}], headers=bearer(key)).status_code == 200,
        timeout=10,
        what="the new key accepted",
    )
    # Long clips (720p, 8 s: seconds each on the one worker), so that two are still queued
    # when the revoke lands, however loaded the machine is.
    queued = [video_task(resolution="720p", duration=8) for _ in range(3)]

    async def scenario() -> RevokeRun:
        async with ws_session(server.ws_url) as ws:
            await ws.authenticate(key)
            for task in queued:
                assert await ws.ask(task) == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
            revoked = cli(server, "keys", "revoke", str(key_id))
            outcome = RevokeRun(revoked_at=time.time())
            # What the revoke itself found: "key N revoked; Q queued task(s) cancelled, R running ..."
            counts = re.search(r"(\d+) queued task\(s\) cancelled, (\d+) running", revoked.stdout)
            assert counts is not None, revoked.stdout
            outcome.statuses_at_revoke = ["queued"] * int(counts[1]) + ["running"] * int(counts[2])
            lookup = {"taskType": "getResponse", "taskUUID": queued[0]["taskUUID"]}
            try:
                while time.time() - outcome.revoked_at < SWEEP_INTERVAL_S + 10:
                    # Lookups until the server has seen the revoke, then new work: both refused.
                    reply = await ws.ask(lookup if outcome.refused_at is None else video_task())
                    items = reply.get("data", []) + reply.get("errors", [])
                    if items and all(i.get("taskType") == "videoInference" and "status" in i for i in items):
                        # Results of the key's tasks (a lookup's answer, or a push: the revoke
                        # cancels what was queued), not an answer to new work.
                        await asyncio.sleep(0.05)
                        continue
                    if "data" in reply:
                        assert outcome.refused_at is None, f"accepted after a refusal: {reply}"
                        outcome.accepted_after_revoke.append(time.time())
                    else:
                        assert reply["errors"][0]["code"] == "invalidApiKey", reply
                        outcome.refused_at = outcome.refused_at or time.time()
                    await asyncio.sleep(0.05)
            except ConnectionClosed as closed:
                outcome.closed_at = time.time()
                if closed.rcvd is not None:
                    outcome.close_code, outcome.close_reason = closed.rcvd.code, closed.rcvd.reason
        return outcome

    outcome = run(scenario())
    assert outcome.closed_at is not None, "the socket stayed open"
    assert (outcome.close_code, outcome.close_reason) == (1008, "API key revoked"), outcome
    # One sweep to notice the revoke, and the socket's next look at its key (0.5 s).
    assert outcome.closed_at - outcome.revoked_at < SWEEP_INTERVAL_S + 1.5, outcome
    # Nothing was accepted once the server had seen the revoke: no job beyond those queued before.
    assert len(job_rows(server, key_id)) == len(queued)
    refused = httpx.post(server.rest_url, json=[{"taskType": "ping"}], headers=bearer(key))
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "invalidApiKey"

    # Our rule: the key's unfinished work is cancelled with it (what had finished stays).
    assert "queued" in outcome.statuses_at_revoke, outcome  # something was still waiting when revoked
    finished = wait_for(lambda: finished_statuses(server, key_id), timeout=120, what="the revoked key's jobs ended")
    assert set(finished) <= {"cancelled", "success"}, finished
    assert finished.count("cancelled") >= outcome.statuses_at_revoke.count("queued"), (finished, outcome)


def finished_statuses(server: LiveServer, key_id: int) -> list[str] | None:
    """The statuses of the key's jobs once none is queued or running; None before."""
    statuses = [status for _, status, _ in job_rows(server, key_id)]
    return None if any(s in ("queued", "running") for s in statuses) else statuses


# --- 3. /readyz ----------------------------------------------------------------------------------------


def test_readyz_tells_a_remote_caller_without_a_key_only_whether_it_is_ready(server: LiveServer) -> None:
    # uvicorn trusts X-Forwarded-For from loopback (a local reverse proxy): this is a remote caller.
    remote = {"X-Forwarded-For": "203.0.113.7"}
    anonymous = httpx.get(f"{server.base_url}/readyz", headers=remote)
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ready"}
    assert str(server.data_dir) not in anonymous.text

    keyed = httpx.get(f"{server.base_url}/readyz", headers=remote | bearer(server.api_key)).json()
    local = httpx.get(f"{server.base_url}/readyz").json()
    for body in (keyed, local):
        assert body["status"] == "ready"
        assert str(server.data_dir.resolve()) in body["checks"]["database"]["detail"]
        assert body["checks"]["workers"]["ok"]
    wrong_key = httpx.get(f"{server.base_url}/readyz", headers=remote | bearer("not-a-key")).json()
    assert wrong_key == {"status": "ready"}


# --- 4. other methods on /v1 ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_other_methods_on_v1_are_405_with_allow(server: LiveServer, method: str, path: str) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = orjson.loads(response.read())
    finally:
        conn.close()
    assert response.status == 405
    assert response.getheader("Allow") == "GET, POST"
    (error,) = body["errors"]
    assert error["code"] == "methodNotAllowed" and method in error["message"]


# --- the attacking client, run as a script by ``Attacker`` ------------------------------------------------


def _attack(mode: str, host: str, port: int, api_key: str) -> tuple[Any, float]:
    """Send one attack and time the server's answer from the first byte sent to the answer's
    first line: the client reads while it sends, as a server that answers early deserves
    (httpx would only read once its 50 MB are out)."""
    body = attack_body()
    if mode in ("rest", "rest-keyed"):
        sock = socket.create_connection((host, port), timeout=60)
        head = f"POST /v1 HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        if mode == "rest-keyed":
            head += f"Authorization: Bearer {api_key}\r\n"
        payload = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.monotonic()
        threading.Thread(target=_send_quietly, args=(sock, payload), daemon=True).start()
        status_line = sock.makefile("rb").readline()
        return int(status_line.split()[1]), time.monotonic() - started
    raw = RawWebSocket(host, port, rcvbuf=None)
    raw.sock.settimeout(60)  # an older build answered after seconds: measure it, do not give up
    frame = ws_frame(body)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    threading.Thread(target=_send_quietly, args=(raw.sock, frame), daemon=True).start()
    try:
        opcode, data = raw.read_frame()
        elapsed = time.monotonic() - started
        if opcode == 0x8:
            return ("close", int.from_bytes(data[:2], "big")), elapsed
        return ("frame", data[:100].decode(errors="replace")), elapsed
    except (OSError, EOFError) as exc:
        return ("error", repr(exc)), time.monotonic() - started


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may hang up before all of it is in
        sock.sendall(data)


def _watch(base_url: str, pid: int) -> dict[str, Any]:
    watch = HealthAndMemory(base_url, pid)
    httpx.get(f"{base_url}/health", timeout=10)
    watch.start()
    print("ready", flush=True)
    sys.stdin.readline()  # "stop"
    return watch.stop()


if __name__ == "__main__":
    if sys.argv[1] == "watch":
        print(json.dumps(_watch(sys.argv[2], int(sys.argv[3]))), flush=True)
    else:
        answer, seconds = _attack(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        print(json.dumps({"answer": answer, "seconds": seconds}), flush=True)
        sys.stdin.readline()  # "exit"
