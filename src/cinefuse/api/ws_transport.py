"""uvicorn's WebSocket protocol with bounded closing (``cinefuse serve`` passes it to uvicorn).

A close is a frame like any other: uvicorn waits until the peer can take it, and then up to
10 s for the peer's reply, reading and discarding whatever else the peer sends meanwhile.
Against a client that never reads (back-pressure ended in a 1008) that wait never ends, and
holds the handler, its tasks and the socket; against a flooding client, the discarding costs
the event loop seconds. So: a close sent while the peer is not reading drops the connection
at once, a policy close (1008: a client flooding or not reading) drops it as soon as the
close frame is written, and any other closing handshake gets ``CLOSE_TIMEOUT`` seconds.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: Seconds a peer has to answer our close frame before the connection is dropped.
CLOSE_TIMEOUT = 1.0
#: Close codes after which the peer gets no handshake: reading its frames would cost the
#: event loop what the close is meant to stop.
POLICY_VIOLATION = 1008


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = CLOSE_TIMEOUT

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and self.handshake_complete and not self.writable.is_set():
            # The peer is not reading: it would never take the close frame.
            self.close_sent = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": message.get("code", 1000)})
            self.transport.abort()
            return
        await super().send(message)
        if message["type"] == "websocket.close" and message.get("code") == POLICY_VIOLATION:
            self.transport.abort()
