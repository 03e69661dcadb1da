"""Real local HTTP receivers for delivery tests: webhooks and uploads land here.

A ``Receiver`` is a ``ThreadingHTTPServer`` on 127.0.0.1 (a thread per connection, so a
hanging reply never blocks the next request). It records every request it gets (method,
path with its query exactly as sent, parsed query, headers, body, arrival time) and answers
it according to a *script*: a function from the request's 0-based arrival number and the
recorded ``Call`` to a ``Reply``. Ready-made scripts::

    ok()                         always 200
    fail_first(3)                500 for the first 3 requests, then 200
    fail_first(2, status=429)    ... with another failure status
    always(403)                  always that status
    hang(5.0)                    sleep 5 s before answering 200 (the client times out first)
    hang_then(2, 5.0)            hang on the first 2 requests, then 200 at once

``Receiver.start(port=N)`` can bind a port chosen in advance (e.g. one a webhook URL already
names while nothing listened there). Use it as a context manager or call ``stop()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    """One request as the receiver got it."""

    method: str
    path: str  # path and query, exactly as sent on the request line
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    raw_headers: list[tuple[str, str]]  # every header line, as sent
    body: bytes
    at: float  # time.monotonic() when the request's head was read

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds to sleep before answering
    headers: dict[str, str] = field(default_factory=dict)


Script = Callable[[int, Call], Reply]


def ok() -> Script:
    return lambda n, call: Reply(200, b"ok")


def always(status: int) -> Script:
    return lambda n, call: Reply(status, b"scripted failure")


def fail_first(count: int, status: int = 500) -> Script:
    return lambda n, call: Reply(status, b"scripted failure") if n < count else Reply(200, b"ok")


def hang(seconds: float) -> Script:
    return lambda n, call: Reply(200, b"late", delay=seconds)


def hang_then(count: int, seconds: float) -> Script:
    return lambda n, call: Reply(200, b"late", delay=seconds) if n < count else Reply(200, b"ok")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: Receiver, port: int) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out makes a hanging handler's write fail: expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        at = time.monotonic()
        length = self.headers.get("Content-Length")
        if length is not None:
            body = self.rfile.read(int(length))
        elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            body = b""
        call = Call(
            method=self.command,
            path=self.path,
            query=parse_qs(urlsplit(self.path).query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_headers=list(self.headers.items()),
            body=body,
            at=at,
        )
        reply = self.server.owner._record(call)
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        self.close_connection = True

    def _read_chunked(self) -> bytes:
        # Recorded so a test can see a chunked upload arrive (and fail on it).
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class Receiver:
    """A recording HTTP server on 127.0.0.1 answering by ``script``."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or ok()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> Receiver:
        self._server = _Server(self, port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"receiver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Receiver:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ use

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _record(self, call: Call) -> Reply:
        with self._arrived:
            n = len(self.calls)
            self.calls.append(call)
            self._arrived.notify_all()
        return self.script(n, call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def wait_for(self, count: int, timeout: float = 10.0, what: Callable[[Call], bool] | None = None) -> list[Call]:
        """Block until ``count`` calls (matching ``what``, if given) arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                seen = [c for c in self.calls if what is None or what(c)]
                if len(seen) >= count:
                    return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"receiver on port {self.port} got {len(seen)} of {count} calls in {timeout}s")
                self._arrived.wait(left)


@contextmanager
def receiver(script: Script | None = None, port: int = 0) -> Iterator[Receiver]:
    rec = Receiver(script).start(port)
    try:
        yield rec
    finally:
        rec.stop()
