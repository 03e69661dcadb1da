"""uvicorn's server with a shutdown that does not wait on clients that do not read (``cinefuse
serve`` runs it).

On SIGTERM uvicorn stops accepting, asks every connection to close, and waits up to its
graceful timeout for them to go. A connection closes only once the peer has taken what was
written for it: a client that never reads (a WebSocket client that sent tasks and leaves the
replies unread, a REST client that never reads its response) holds the process for the whole
timeout, after which uvicorn cancels the handlers mid-send. Here, while uvicorn waits, a
connection whose pending output has not shrunk for ``STALLED_AFTER`` seconds is dropped
(``transport.abort()``): its peer is not reading, and nothing it was owed can reach it before
the process ends anyway. Its handler then sees the disconnect and ends normally.

What this keeps: a handler still working (a submission waiting for its commit) has no
pending output and is waited for as before, so a task the server acknowledges is in the job
store; a client still reading keeps uvicorn's whole graceful timeout; jobs running on the
workers give their lease back in the lifespan shutdown that follows, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

#: Seconds a connection's pending output may stay unshrunk during shutdown before the
#: connection is dropped: a peer that reads at all takes some of it well within this.
STALLED_AFTER = 0.2
#: How often the connections are looked at during shutdown (seconds).
CHECK_INTERVAL = 0.05


class PromptShutdownServer(uvicorn.Server):
    """``uvicorn.Server`` whose shutdown drops the connections of peers that do not read."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        dropper = asyncio.create_task(self._drop_stalled_connections())
        try:
            await super().shutdown(sockets)
        finally:
            dropper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dropper

    async def _drop_stalled_connections(self) -> None:
        """Until cancelled: abort each connection whose output has waited ``STALLED_AFTER``
        seconds without shrinking (growing is no progress: that is its handler writing)."""
        watched: dict[object, tuple[int, float]] = {}  # connection -> (pending bytes, unshrunk since)
        while True:
            now, last = time.monotonic(), watched
            watched = {}
            for connection in list(self.server_state.connections):
                transport = connection.transport
                pending = transport.get_write_buffer_size()
                if pending == 0:
                    continue
                before, since = last.get(connection, (pending, now))
                if pending < before:
                    since = now
                elif now - since >= STALLED_AFTER:
                    transport.abort()
                    continue
                watched[connection] = (pending, since)
            await asyncio.sleep(CHECK_INTERVAL)


def run_server(app: Any, **config: Any) -> None:
    """``uvicorn.run(app, **config)`` on a ``PromptShutdownServer``; exits with uvicorn's
    status for a server that could not start (the port taken, say)."""
    server = PromptShutdownServer(uvicorn.Config(app, **config))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
