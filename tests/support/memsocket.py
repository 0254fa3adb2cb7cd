"""An in-memory stream socket and a hand-driven clock: the call and media link tested alone.

These stand in for the network edge only (the platform's end of the socket and
time itself); everything of ours runs for real.
"""

from __future__ import annotations

import json
from typing import Any

import gevent
from gevent.queue import Empty, Queue
from simple_websocket import ConnectionClosed

_PEER_CLOSED = object()


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemorySocket:
    """The platform's end of a stream socket, in memory. ``sent`` holds what the service sent."""

    def __init__(self) -> None:
        self.inbox: Queue = Queue()
        self.sent: list[str | bytes] = []
        self.connected = True
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # -- the Socket protocol (the service's side) ----------------------------------------
    def receive(self, timeout: float | None = None) -> bytes | str | None:
        try:
            item = self.inbox.get(timeout=timeout)
        except Empty:
            return None
        if item is _PEER_CLOSED:
            self.connected = False
            raise ConnectionClosed(1000, "peer closed")
        return item

    def send_text(self, text: str) -> None:
        if not self.connected:
            raise ConnectionError("socket closed")
        self.sent.append(text)
        gevent.sleep(0)  # a real socket's write yields to other greenlets

    def send_bytes(self, data: bytes) -> None:
        if not self.connected:
            raise ConnectionError("socket closed")
        self.sent.append(data)

    def close(self, code: int, reason: str) -> None:
        if self.connected:
            self.close_code, self.close_reason = code, reason
            self.connected = False
            self.inbox.put(_PEER_CLOSED)

    # -- the platform's side ---------------------------------------------------------------
    def push(self, message: bytes | str) -> None:
        self.inbox.put(message)

    def hang_up(self) -> None:
        self.inbox.put(_PEER_CLOSED)

    def messages(self) -> list[Any]:
        return [json.loads(m) for m in self.sent if isinstance(m, str)]

    def controls(self) -> list[Any]:
        """Everything but audio: control messages and PCMO arrays, in order."""
        return [m for m in self.messages() if not (isinstance(m, dict) and m.get("type") == "streamAudio")]

    def audio(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if isinstance(m, dict) and m.get("type") == "streamAudio"]


def settle(seconds: float = 0.01) -> None:
    """Let every ready greenlet run (the writer, tasks)."""
    gevent.sleep(seconds)
