"""The stream socket as the call sees it: receive, send text or bytes, close.

``Socket`` is the whole surface a call uses, so tests can drive a call with an
in-memory socket. ``WebSocket`` adapts flask-sock's simple-websocket server:
its ``send`` hands the frame to ``socket.send``, which on a gevent socket may
write only part of it when the peer is slow (the rest would be lost and the
stream corrupted), so frames are encoded by the connection's wsproto state and
written with ``sendall`` instead, the close frame included.

Reading: simple-websocket gives every connection a reader thread (a greenlet
under gevent) that hands each message to the handler through an event, so
every 20 ms frame cost two greenlet wake-ups and a timer. A stream socket is
read by one handler that does nothing else, so for those (``reader_thread``
with ``inline``) there is no reader thread: ``WebSocket.receive`` reads the
socket itself, feeding the same wsproto connection and the same event handling
(pings, close), one wake-up per frame, none when frames are already waiting;
whole binary frames skip wsproto (streams/link/frames.py). When the loop is busy a reader waits a
moment before reading, so one read takes several frames (streams/loopwatch.py, ``ReadBatching``), and a
read tries the socket before it arms a timer: data that is already there costs no timer at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from simple_websocket import ConnectionClosed
from wsproto.events import CloseConnection, Message, TextMessage
from wsproto.frame_protocol import CloseReason

from streams.link import frames
from streams.loopwatch import READS

__all__ = ["ConnectionClosed", "Socket", "WebSocket", "close", "reader_thread", "send_bytes", "send_text"]

RECEIVE_BYTES = 4096  # what simple-websocket's reader thread reads at a time
MAX_FRAME = 1 << 20


class InlineReads:
    """simple-websocket's reader thread, for a connection whose handler reads the socket itself: never runs."""

    name = "inline-reads"

    def start(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass

    def is_alive(self) -> bool:
        return False


def reader_thread(target: Callable[[], None], inline: Callable[[dict[str, Any]], bool]) -> Any:
    """simple-websocket's ``thread_class``: no reader thread for connections whose WSGI environ ``inline``
    accepts (their ``WebSocket.receive`` reads), the usual thread for the others."""
    environ = getattr(getattr(target, "__self__", None), "environ", None) or {}
    return InlineReads() if inline(environ) else threading.Thread(target=target)


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
        self.inline = isinstance(getattr(ws, "thread", None), InlineReads)
        self._eof = False
        self.reads = 0  # socket reads that returned data (inline reads only): frames per read = batching
        self._behind = False  # the last read filled the buffer: more is waiting, read it before any pause

    @property
    def connected(self) -> bool:
        return bool(getattr(self.ws, "connected", False))

    @property
    def dropped(self) -> bool:
        """The peer went without a close frame (a network blip, or a module build about to redial)."""
        if self.inline:
            return self._eof
        return self.ws.close_reason == CloseReason.NO_STATUS_RCVD and not self.ws.close_message

    def receive(self, timeout: float | None = None) -> bytes | str | None:
        if not self.inline:
            return self.ws.receive(timeout=timeout)
        ws = self.ws
        while not ws.input_buffer:
            if not ws.connected:
                raise ConnectionClosed(ws.close_reason, ws.close_message)
            pause = 0.0 if self._behind else READS.wait()
            if pause:
                import gevent

                gevent.sleep(pause if timeout is None else min(pause, timeout))
            data = _recv(ws.sock, timeout)
            if data is None:
                return None
            if not data:  # the peer has gone: what simple-websocket's thread does on EOF
                ws.connected, self._eof = False, True
                continue
            self.reads += 1
            self._behind = len(data) >= RECEIVE_BYTES  # a 32 kHz stereo stream sends more than a read in 40 ms
            audio = frames.audio_frames(data, ws.max_message_size or MAX_FRAME) if frames.idle(ws) else None
            if audio is not None:
                ws.input_buffer.extend(audio)  # the common case, without wsproto (streams/link/frames.py)
                continue
            ws.ws.receive_data(data)
            ws.connected = ws._handle_events()  # pings answered, close frames handled, messages buffered
        return ws.input_buffer.pop(0)

    def linger(self, limit: float) -> None:
        """After our close frame, read and discard until the peer closes too (at most ``limit`` seconds).

        Closing a TCP socket with the peer's frames still unread resets the connection, and the reset can
        overtake our close frame: a client flooding us would never learn its close code.
        """
        import gevent

        if not self.inline or self.ws.connected or self._eof:
            return
        deadline = time.monotonic() + limit
        with gevent.Timeout(limit, False):
            while time.monotonic() < deadline and _recv(self.ws.sock, deadline - time.monotonic()):
                pass

    def send_text(self, text: str) -> None:
        send_text(self.ws, text)

    def send_bytes(self, data: bytes) -> None:
        send_bytes(self.ws, data)

    def close(self, code: int, reason: str) -> None:
        close(self.ws, code, reason)


def _recv(sock: Any, timeout: float | None) -> bytes | None:
    """What ``sock`` has (b"" when the peer has gone), or None after ``timeout`` seconds.

    The timeout is a gevent timer, not the socket's own: the writer's ``sendall`` on the same socket
    must keep waiting for a slow peer rather than give up halfway through a frame.
    """
    import gevent

    raw = getattr(sock, "_sock", None)  # gevent's socket wraps a non-blocking one: data already there needs no timer
    if raw is not None and raw.gettimeout() == 0.0:
        try:
            return raw.recv(RECEIVE_BYTES)
        except BlockingIOError:
            pass
        except OSError:
            return b""
    timer = gevent.Timeout.start_new(timeout) if timeout is not None else None
    try:
        return sock.recv(RECEIVE_BYTES)
    except gevent.Timeout as expired:
        if expired is not timer:
            raise
        return None
    except OSError:
        return b""
    finally:
        if timer is not None:
            timer.close()


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
