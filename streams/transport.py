"""The stream socket as the call sees it: receive, send text or bytes, close.

``Socket`` is the whole surface a call uses, so tests can drive a call with an
in-memory socket. ``WebSocket`` adapts flask-sock's simple-websocket server:
its ``send`` hands the frame to ``socket.send``, which on a gevent socket may
write only part of it when the peer is slow (the rest would be lost and the
stream corrupted), so frames are encoded by the connection's wsproto state and
written with ``sendall`` instead, the close frame included.
"""

from __future__ import annotations

from typing import Any, Protocol

from simple_websocket import ConnectionClosed
from wsproto.events import CloseConnection, Message, TextMessage

__all__ = ["ConnectionClosed", "Socket", "WebSocket", "close", "send_bytes", "send_text"]


class Socket(Protocol):
    @property
    def connected(self) -> bool: ...

    def receive(self, timeout: float | None = None) -> bytes | str | None:
        """The next message, None on timeout; raises ConnectionClosed when the peer has gone."""

    def send_text(self, text: str) -> None:
        """One whole text frame; raises ConnectionError/OSError when the socket is gone."""

    def send_bytes(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None:
        """Send a close frame with ``code``; quiet when the socket is already gone."""


class WebSocket:
    """A simple-websocket connection behind the ``Socket`` protocol."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @property
    def connected(self) -> bool:
        return bool(getattr(self.ws, "connected", False))

    def receive(self, timeout: float | None = None) -> bytes | str | None:
        return self.ws.receive(timeout=timeout)

    def send_text(self, text: str) -> None:
        send_text(self.ws, text)

    def send_bytes(self, data: bytes) -> None:
        send_bytes(self.ws, data)

    def close(self, code: int, reason: str) -> None:
        close(self.ws, code, reason)


def send_text(ws: Any, text: str) -> None:
    """Send one text frame in full; raises ConnectionError/OSError when the socket is gone."""
    if not getattr(ws, "connected", False):
        raise ConnectionError("socket closed")
    ws.sock.sendall(ws.ws.send(TextMessage(data=text)))


def send_bytes(ws: Any, data: bytes) -> None:
    if not getattr(ws, "connected", False):
        raise ConnectionError("socket closed")
    ws.sock.sendall(ws.ws.send(Message(data=data)))


def close(ws: Any, code: int, reason: str) -> None:
    """Close with ``code`` (the whole close frame, with ``sendall``); quiet when the socket is already gone."""
    if not getattr(ws, "connected", False):
        return
    try:
        ws.sock.sendall(ws.ws.send(CloseConnection(code=code, reason=reason[:120])))
    except Exception:  # noqa: BLE001 - closing a dead socket is not an error worth raising
        pass
    ws.connected = False
