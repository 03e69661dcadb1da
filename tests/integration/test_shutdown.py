"""``cinefuse serve`` stops promptly on SIGTERM, whatever its clients do (issue 20).

A real server with clients that never read: WebSocket clients that sent tasks and leave
their replies unread (the server stops reading them: back-pressure), REST clients whose
reply (3 MB of lookups) is left unread, and downloads left unread (a 1.4 MB file the server
streams, blocked mid-send), with a job running and one queued. Then SIGTERM:
the process must exit within ``EXIT_WITHIN_S``, the way a signal ends it (status 0 or
-SIGTERM, nothing logged at ERROR), and every task it acknowledged must still be in the job
store, the running one given back to the queue (no lease held). An older build waited out
uvicorn's whole graceful timeout (5 s) for those clients to take their data, then cancelled
their handlers (logged at ERROR).

The test prints its figure (``-s`` shows it): the time from SIGTERM to the exit.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.client import submit
from tests.integration.conftest import LiveServer, start_live_server
from tests.integration.probes import RawWebSocket, task_frame, wait_for

#: How long SIGTERM to exit may take (an idle server takes about 0.3 s).
EXIT_WITHIN_S = 1.0
#: Non-reading clients of each kind.
CLIENTS = 3
#: A client stops writing once a write has not gone out for this long: the server stopped
#: reading it, because its replies to that client cannot go out.
BLOCKED_AFTER_S = 0.5
#: The reply to a lookup of this task UUID is about 30 kB (the error echoes the UUID).
FAT_UUID = "x" * 30_000
#: Lookups in a REST client's request: its reply is about 3 MB.
LOOKUPS = 100
#: A download of about 1.4 MB, streamed by the server (Starlette's ``FileResponse``).
DOWNLOAD = "/docs/static/swagger-ui-bundle.js"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path)
    try:
        yield live
    finally:
        live.stop()


def fat_lookup() -> list[dict[str, str]]:
    return [{"taskType": "getResponse", "taskUUID": FAT_UUID}]


def write_until_blocked(sock: socket.socket, chunk: bytes, limit_s: float = 20.0) -> int:
    """Write ``chunk`` over and over, never reading, until a write makes no progress for
    ``BLOCKED_AFTER_S``: the number of whole chunks written. Fails if the peer never blocks."""
    sock.settimeout(BLOCKED_AFTER_S)
    started, chunks = time.monotonic(), 0
    while time.monotonic() - started < limit_s:
        try:
            sock.sendall(chunk)
        except TimeoutError:
            return chunks
        chunks += 1
    raise AssertionError(f"the server kept reading a client that reads nothing for {limit_s} s")


def stalled_websocket(server: LiveServer) -> RawWebSocket:
    """A WebSocket client that authenticated, then sent lookups until the server stopped
    reading it, and reads none of the replies."""
    raw = RawWebSocket(server.host, server.port)
    raw.sock.sendall(task_frame({"taskType": "authentication", "apiKey": server.api_key}))
    assert "data" in raw.read_json()  # the last thing it reads
    write_until_blocked(raw.sock, task_frame(*fat_lookup()))
    return raw


def stalled_rest(server: LiveServer, method: str, path: str, body: bytes = b"") -> socket.socket:
    """A REST client that sends one request and never reads the response; returned once the
    server's reply is backing up on the connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((server.host, server.port))
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nAuthorization: Bearer {server.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    client_port = sock.getsockname()[1]
    wait_for(lambda: unsent_bytes(server.port, client_port) > 0, 10, f"{method} {path}: a reply backing up")
    return sock


def unsent_bytes(server_port: int, client_port: int) -> int:
    """Bytes the kernel holds on the server's end of that loopback connection, not yet taken
    by the client (``tx_queue`` in /proc/net/tcp)."""
    ends = f"0100007F:{server_port:04X} 0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}" == ends:
            return int(fields[4].split(":")[0], 16)
    return 0


def job_rows(server: LiveServer) -> dict[str, tuple[str, str | None]]:
    """task UUID -> (status, lease owner), read from the stopped server's SQLite store."""
    db = sqlite3.connect(f"file:{server.data_dir / 'cinefuse.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT task_uuid, status, lease_owner FROM jobs").fetchall()
    finally:
        db.close()
    return {uuid: (status, owner) for uuid, status, owner in rows}


def running_progress(server: LiveServer) -> int:
    """The progress of the running job's result (0 when none runs)."""
    db = sqlite3.connect(f"file:{server.data_dir / 'cinefuse.db'}?mode=ro", uri=True, timeout=10)
    try:
        (progress,) = db.execute(
            "SELECT max(progress) FROM results JOIN jobs ON jobs.id = results.job_id WHERE jobs.status = 'running'"
        ).fetchone()
    finally:
        db.close()
    return int(progress or 0)


def test_sigterm_with_clients_that_never_read_exits_within_a_second_keeping_accepted_tasks(
    server: LiveServer,
) -> None:
    proc = server.proc
    assert proc is not None
    clients: list[socket.socket] = []
    try:
        for _ in range(CLIENTS):
            clients.append(stalled_websocket(server).sock)
            clients.append(stalled_rest(server, "POST", "/v1", orjson.dumps(fat_lookup() * LOOKUPS)))
            clients.append(stalled_rest(server, "GET", DOWNLOAD))
        # Two acknowledged tasks: one running (a 1080p preview render takes seconds: it is
        # given back at its next frame), one queued.
        accepted = [submit(server.base_url, server.api_key, resolution="1080p") for _ in range(2)]
        wait_for(lambda: running_progress(server) > 0, 30, "a job running, past its first frames")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        for sock in clients:
            sock.close()
    print(f"\nSIGTERM -> exit with {len(clients)} clients that never read: {took:.2f} s")
    log = server.log_tail()
    assert took < EXIT_WITHIN_S, f"SIGTERM -> exit took {took:.2f} s\n{log}"
    assert proc.returncode in (0, -signal.SIGTERM), f"exit status {proc.returncode}\n{log}"
    assert "ERROR" not in log and "Traceback" not in log, log
    # Both still in the store, queued: the running one gave its lease back.
    rows = job_rows(server)
    assert {uuid: rows.get(uuid) for uuid in accepted} == {uuid: ("queued", None) for uuid in accepted}
