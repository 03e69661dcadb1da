"""uvicorn's WebSocket protocol with bounded closing and a settable message limit (``cinefuse
serve`` passes it to uvicorn).

A close is a frame like any other: uvicorn waits until the peer can take it, and then up to
10 s for the peer's reply, reading and discarding whatever else the peer sends meanwhile.
Against a client that never reads (back-pressure ended in a 1008) that wait never ends, and
holds the handler, its tasks and the socket; against a flooding client, the discarding costs
the event loop seconds. So: a close sent while the peer is not reading drops the connection
at once, a policy close (1008: a client flooding or not reading) drops it as soon as the
close frame is written, and any other closing handshake gets ``CLOSE_TIMEOUT`` seconds.

The largest message the connection takes can be changed while it is open, through the scope
extension ``MESSAGE_LIMIT`` (``scope["extensions"][MESSAGE_LIMIT]["set"](size)``): api/ws.py
keeps it small until the socket authenticates. A frame over the limit is refused from its
header, before its payload is buffered: the connection answers 1009, half-closes, and
discards the rest unread (closing outright with the payload still arriving would reset the
connection, and the peer could lose the close frame).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.http11 import Request

#: Seconds a peer has to answer our close frame before the connection is dropped.
CLOSE_TIMEOUT = 1.0
#: Close codes after which the peer gets no handshake: reading its frames would cost the
#: event loop what the close is meant to stop.
POLICY_VIOLATION = 1008
#: The scope extension that sets the largest message the connection takes (bytes).
MESSAGE_LIMIT = "cinefuse.websocket.message_limit"


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = CLOSE_TIMEOUT

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][MESSAGE_LIMIT] = {"set": self.set_message_limit}

    def set_message_limit(self, size: int) -> None:
        """Refuse (1009) messages over ``size`` bytes from the next frame on."""
        self.conn.max_message_size = size

    def handle_parser_exception(self) -> None:
        if not isinstance(self.conn.parser_exc, PayloadTooBig):
            super().handle_parser_exception()
            return
        if self.close_sent:
            return  # called again for each later chunk, which the parser discarded
        assert self.conn.close_sent is not None
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": self.conn.close_sent.code, "reason": self.conn.close_sent.reason}
        )
        self.transport.write(b"".join(self.conn.data_to_send()))  # the close frame
        self.close_sent = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

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
