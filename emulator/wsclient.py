"""Opening a stream socket as the platform does (FreeSWITCH's mod_audio_stream, PROTOCOL.md section 6).

The module offers permessage-deflate unless STREAM_MESSAGE_DEFLATE turns it off,
so ``connect`` offers it by default (``deflate=False`` to not); whatever the
service answers is what is used. ``metadata`` is the module's optional first
text frame (``uuid_audio_stream … start <url> <mix> <rate> <metadata>``), sent
before any audio on every socket it opens, redials included.

simple-websocket's client reads the handshake answer with one ``recv``; when
the server's first frames (even a close frame with its code) arrive in the same
read, they stay in wsproto's buffer until more bytes come, which after a close
never happens, and the close code is lost. ``PlatformClient`` handles those
buffered frames inside the handshake, before the reader thread starts, so no
two threads ever touch the connection state at once.
"""

from __future__ import annotations

import socket
from typing import Any

from simple_websocket import Client
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.extensions import PerMessageDeflate


class PlatformClient(Client):
    offer_deflate = True

    def handshake(self) -> None:
        extensions = [PerMessageDeflate()] if self.offer_deflate else []
        request = Request(host=self.host, target=self.path, subprotocols=self.subprotocols, extensions=extensions)
        self.sock.send(self.ws.send(request))
        event: Any = None
        while event is None:
            data = self.sock.recv(self.receive_bytes)
            if not data:
                raise ConnectionError("the service closed the connection during the handshake")
            self.ws.receive_data(data)
            event = next(self.ws.events(), None)
        if isinstance(event, RejectConnection):
            raise ConnectionError(event.status_code)
        if not isinstance(event, AcceptConnection):
            raise ConnectionError(400)
        self.subprotocol = event.subprotocol
        self.extensions = [type(e).__name__ for e in event.extensions]  # what the service accepted
        self._handle_events()
        # Stay "connected" even if a close frame was among them: the reader thread
        # then finds the closed socket and ends the way it always does.
        self.connected = True

    def drop(self) -> None:
        """Lose the TCP connection without a close frame, as a network blip does."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def connect(url: str, *, deflate: bool = True, metadata: str | None = None) -> PlatformClient:
    client_class = PlatformClient if deflate else type("PlainClient", (PlatformClient,), {"offer_deflate": False})
    ws = client_class.connect(url)
    if metadata is not None and ws.connected:
        ws.send(metadata)
    return ws
