"""Instruments for the hardening end-to-end tests (test_hardening*.py): what a test needs to
watch a live server from outside while it is being abused.

* ``rss_mb`` / ``cpu_seconds``: the server process's resident memory and CPU time, read
  from ``/proc/<pid>``.
* ``HealthWatch``: a thread that keeps calling ``GET /health`` (and sampling RSS) while a
  test runs, so "the server stayed responsive" is measured, not assumed.
* ``RawWebSocket``: a client that does the HTTP upgrade itself on a plain TCP socket and
  then writes masked frames without ever reading unless told to: the only way to be a
  client that never reads (a WebSocket library reads in the background).
* ``ws_session``: a real ``websockets`` client (asyncio API) with JSON helpers.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect

T = TypeVar("T")

PING: dict[str, Any] = {"taskType": "ping", "ping": True}
PONG: dict[str, Any] = {"data": [{"taskType": "ping", "pong": True}]}


# --- the server process from outside -----------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call ``predicate`` until it returns something truthy; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (within {timeout:g} s)")
        time.sleep(interval)


class HealthWatch:
    """Calls ``GET /health`` back to back in a thread (and samples the server's RSS) until
    stopped. ``worst`` is the slowest answer in seconds, ``failures`` the calls that got no
    200 (timeouts included), ``peak_rss`` the largest RSS seen in MiB."""

    def __init__(self, base_url: str, pid: int, interval: float = 0.05, timeout: float = 5.0) -> None:
        self.url = f"{base_url}/health"
        self.pid = pid
        self.interval = interval
        self.timeout = timeout
        self.calls = 0
        self.worst = 0.0
        self.failures: list[str] = []
        self.peak_rss = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-watch", daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get(self.url).status_code
                    if status != 200:
                        self.failures.append(f"HTTP {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.worst = max(self.worst, time.monotonic() - started)
                self.calls += 1
                self.peak_rss = max(self.peak_rss, rss_mb(self.pid))
                self._stop.wait(self.interval)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        deadline = time.monotonic() + self.timeout
        while self.calls == 0 and time.monotonic() < deadline:  # at least one answer to judge
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    def check(self, limit: float = 1.0) -> None:
        assert self.calls > 0, "GET /health was never called"
        assert not self.failures, f"GET /health failed {len(self.failures)} times: {self.failures[:3]}"
        assert self.worst < limit, f"GET /health took {self.worst:.2f} s at worst (limit {limit} s)"


# --- a WebSocket client that never reads ----------------------------------------------------


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame (RFC 6455 5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    data = np.frombuffer(payload, dtype=np.uint8)
    key = np.resize(np.frombuffer(mask, dtype=np.uint8), size)
    return head + mask + (data ^ key).tobytes()


def task_frame(*tasks: dict[str, Any]) -> bytes:
    return ws_frame(orjson.dumps(list(tasks)))


class RawWebSocket:
    """A WebSocket client on a bare TCP socket: it reads exactly what a test asks it to read,
    nothing more. ``rcvbuf`` shrinks the receive buffer, so a client that stops reading makes
    the server's writes back up sooner."""

    def __init__(self, host: str, port: int, path: str = "/v1", rcvbuf: int | None = 4096) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):  # byte by byte: not one byte of a frame is consumed
            byte = self.sock.recv(1)
            if not byte:
                raise ConnectionError(f"upgrade refused: {head!r}")
            head += byte
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"upgrade refused: {status!r}")

    @property
    def local_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise EOFError("the server closed the connection")
            data += chunk
        return data

    def read_frame(self, skip_pings: bool = True) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame (servers do not mask). The server's
        keepalive pings (every 20 s) come at any moment, so they are skipped unless asked for."""
        while True:
            first, second = self._exact(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._exact(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._exact(8))
            opcode, payload = first & 0x0F, self._exact(size)
            if not (skip_pings and opcode == 0x9):
                return opcode, payload

    def read_json(self) -> Any:
        opcode, payload = self.read_frame()
        assert opcode == 0x1, (opcode, payload[:200])
        return orjson.loads(payload)

    def drain_until_close(self, timeout: float) -> tuple[int, int | None]:
        """Read everything the server sent until its close frame: (frames before it, close
        code). The code is None when no close frame came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        frames = 0
        while time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                opcode, payload = self.read_frame()
            except (TimeoutError, EOFError, ConnectionError):
                return frames, None
            if opcode == 0x8:
                return frames, int.from_bytes(payload[:2], "big")
            frames += 1
        return frames, None

    def close(self) -> None:
        self.sock.close()


def flood(raw: RawWebSocket, chunk: bytes, seconds: float, stop: Callable[[], bool] = lambda: False) -> FloodLog:
    """Write ``chunk`` over and over for ``seconds`` (or until ``stop()``), never reading.
    A write that cannot go out within 0.5 s counts as blocked; a write error ends the flood.
    Partial writes are resumed, so the server always sees whole frames."""
    log = FloodLog(started=time.monotonic())
    raw.sock.settimeout(0.5)
    pending = memoryview(chunk)
    while time.monotonic() - log.started < seconds and not stop():
        try:
            sent = raw.sock.send(pending)
        except TimeoutError:
            log.blocked_since = log.blocked_since or log.last_progress or log.started
            continue
        except OSError as exc:
            log.error = exc
            log.error_at = time.monotonic()
            break
        log.blocked_since = None
        log.last_progress = time.monotonic()
        log.bytes += sent
        pending = pending[sent:]
        if not pending:
            log.chunks += 1
            pending = memoryview(chunk)
    return log


class FloodLog:
    """What ``flood`` saw: chunks written, when writes stopped going out, and how it ended."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.chunks = 0
        self.bytes = 0
        self.last_progress: float | None = None
        self.blocked_since: float | None = None
        self.error: OSError | None = None
        self.error_at: float | None = None

    def __repr__(self) -> str:
        rel = lambda t: None if t is None else round(t - self.started, 2)  # noqa: E731
        return (
            f"FloodLog(chunks={self.chunks}, last_progress={rel(self.last_progress)}, "
            f"blocked_since={rel(self.blocked_since)}, error={self.error!r} at {rel(self.error_at)})"
        )


# --- a real WebSocket client ----------------------------------------------------------------------


class WsSession:
    """A ``websockets`` connection speaking the task envelope: JSON arrays out, JSON objects in."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, *tasks: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(list(tasks)).decode())

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.recv(), timeout)
        body: dict[str, Any] = orjson.loads(message)
        return body

    async def ask(self, task: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send one task and return the next frame (tasks here are answered in one frame)."""
        await self.send(task)
        return await self.recv(timeout)

    async def authenticate(self, api_key: str) -> str:
        body = await self.ask({"taskType": "authentication", "apiKey": api_key})
        assert "errors" not in body, body
        (item,) = body["data"]
        return str(item["connectionSessionUUID"])

    async def ping(self, timeout: float = 5.0) -> None:
        assert await self.ask(PING, timeout) == PONG


@asynccontextmanager
async def ws_session(url: str, **options: Any) -> AsyncIterator[WsSession]:
    """A connection with no client keepalive pings: everything on the wire is the test's."""
    settings: dict[str, Any] = {"ping_interval": None, "max_size": None, "open_timeout": 10, "close_timeout": 2}
    async with connect(url, **(settings | options)) as ws:
        yield WsSession(ws)


def run(coro: Any) -> Any:
    """Run a test's async part to completion on a fresh event loop."""
    return asyncio.run(coro)


# --- images --------------------------------------------------------------------------------------


def gradient_png(width: int, height: int) -> bytes:
    """A smooth RGB gradient as PNG: a valid image that compresses to a few bytes per row."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    red = np.broadcast_to(x, (height, width))
    green = np.broadcast_to(y, (height, width))
    blue = np.broadcast_to((x + y) / 2, (height, width))
    pixels = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG")
    return out.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def media_files(data_dir: Path) -> set[str]:
    """Every file under the server's ``media/`` folder, relative to it."""
    root = data_dir / "media"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
