"""Opening a stream socket as the platform does.

simple-websocket's client reads the handshake answer with one ``recv``; when
the server's first frames (even a close frame with its code) arrive in the same
read, they stay in wsproto's buffer until more bytes come, which after a close
never happens, and the close code is lost. ``PlatformClient`` handles those
buffered frames inside the handshake, before the reader thread starts, so no
two threads ever touch the connection state at once.
"""

from __future__ import annotations

from simple_websocket import Client


class PlatformClient(Client):
    def handshake(self) -> None:
        super().handshake()
        self._handle_events()
        # Stay "connected" even if a close frame was among them: the reader thread
        # then finds the closed socket and ends the way it always does.
        self.connected = True


def connect(url: str) -> PlatformClient:
    return PlatformClient.connect(url)
