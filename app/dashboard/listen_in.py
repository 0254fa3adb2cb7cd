"""Listen-in: both legs of a live call for a supervisor's browser, from any node.

On the node holding the call, a tap copies each leg's audio (``b"c"`` caller,
``b"b"`` bot, then the L16 audio at the reply rate). From another node the tap
publishes to a Redis channel only that listener subscribes to; it stops by
itself when nobody listens any more (a publish that reaches no one) or when
the call ends (``b"e"``). A slow listener skips audio; the call never waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import gevent
from gevent.queue import Full, Queue

from app.runtime.cluster import PREFIX, Cluster
from streams.session.call import Call

LEGS = {"caller": b"c", "bot": b"b"}
END = b"e"
RECHECK = 10.0  # seconds between checks that the listener's sign-in is still open
LISTEN_MAX_MESSAGE = 4096  # the page sends nothing; a larger message closes the socket with 1009


def discard_incoming(ws: Any) -> None:
    """Read and drop whatever the browser sends, until the socket closes; a message over the socket's
    ``max_message_size`` closes it with 1009.

    The socket has no reader thread of its own (app/live/socket.py: like a stream socket, it is read by
    its handler), so it is read only as fast as this drops it: a page sending faster meets TCP's back
    pressure instead of filling the worker's memory with messages nobody reads."""
    from streams.link.websocket import ConnectionClosed, WebSocket

    socket = WebSocket(ws)
    try:
        while True:
            socket.receive()
    except (ConnectionClosed, ConnectionError, OSError):
        pass


def local_frames(call: Call) -> Iterator[bytes]:
    """Frames of a call this node holds, until it ends (or the consumer stops iterating)."""
    queue: Queue = Queue(maxsize=400)

    def tap(leg: str, pcm: bytes | None) -> None:
        try:
            queue.put_nowait(END if pcm is None else LEGS.get(leg, b"b") + pcm)
        except Full:
            pass  # a slow listener skips audio; the call is not slowed down

    call.link.taps.add(tap)
    try:
        while (frame := queue.get()) != END:
            yield frame
    finally:
        call.link.taps.discard(tap)


def serve_remote_tap(cluster: Cluster, call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """On the holding node: publish the call's legs to the listener's channel while it listens."""
    channel = request["channel"]

    def pump() -> None:
        for frame in local_frames(call):
            if cluster.redis.publish(channel, frame) == 0:
                return  # the listener has gone
        cluster.redis.publish(channel, END)

    gevent.spawn(pump)
    return {"rate": call.link.out_rate}


def remote_frames(cluster: Cluster, call_id: str) -> tuple[int, Iterator[bytes]]:
    """From another node: (reply rate, frames); raises CallError when no node holds the call."""
    channel = f"{PREFIX}listen:{call_id}:{uuid.uuid4().hex}"
    pubsub = cluster.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    try:
        rate = cluster.request(call_id, {"type": "tap", "channel": channel})["rate"]
    except Exception:
        pubsub.close()
        raise

    def frames() -> Iterator[bytes]:
        try:
            idle = 0
            while idle < 100:  # 10 s without audio: the call has gone quiet or its node is gone
                message = pubsub.get_message(timeout=0.1)
                if message is None:
                    idle += 1
                    continue
                idle = 0
                if message["data"] == END:
                    return
                yield message["data"]
        finally:
            pubsub.close()

    return rate, frames()


def install(cluster: Cluster) -> None:
    cluster.handlers["tap"] = lambda call, request: serve_remote_tap(cluster, call, request)
