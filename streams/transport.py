"""Writing to the stream socket.

simple-websocket's ``send`` hands the encoded frame to ``socket.send``, which
on a gevent socket may write only part of it when the peer is slow; the rest
would be lost and the stream corrupted. The session's single writer greenlet
uses ``send_text`` instead: the frame is encoded by the connection's wsproto
state and written with ``sendall``.
"""

from __future__ import annotations

from typing import Any

from wsproto.events import Message, TextMessage


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
    """Close with ``code``; quiet when the socket is already gone."""
    try:
        ws.close(reason=code, message=reason[:120])
    except Exception:  # noqa: BLE001 - closing a dead socket is not an error worth raising
        pass
