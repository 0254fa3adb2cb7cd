"""The common case of the stream socket, read without wsproto: whole, masked, unfragmented binary frames.

Caller audio arrives as one small binary frame every 20 ms. wsproto parses each
through a buffer, a generator, a header object, a masker and an event, which
made it the largest single cost of a call on the event loop (py-spy, 100
calls). ``audio_frames`` reads a received chunk that holds nothing but such
frames in a few slices and one integer XOR per frame; anything else (text,
control, fragmented or compressed frames, a frame split across reads, an
oversized one) returns None and goes to wsproto as before. It is only used
while wsproto holds no partial frame or message, so wsproto's state is never
skipped over; tests/unit/test_wsframes.py checks it against wsproto on random input.

``idle`` reads private fields of wsproto (pinned in requirements.txt). ``check``,
run when the app starts, makes sure a wsproto connection still has them; if a
release has moved one, the fast path is off (one log line) and every frame is
read by the library's own code, slower but right.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType

log = logging.getLogger(__name__)

BINARY_FINAL = 0x82  # FIN, no RSV bits (no extension in use), opcode 2 (binary)
MASKED = 0x80


def audio_frames(data: bytes, max_size: int) -> list[bytes] | None:
    """The payloads of ``data`` if it is whole masked final binary frames of at most ``max_size`` bytes, else None."""
    out = []
    at, end = 0, len(data)
    while at < end:
        if end - at < 6 or data[at] != BINARY_FINAL or not data[at + 1] & MASKED:
            return None
        size = data[at + 1] & 0x7F
        at += 2
        if size == 126:
            if end - at < 6:
                return None
            size = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif size == 127:
            return None  # 64-bit lengths: never audio
        if size > max_size or end - at < 4 + size:
            return None
        mask, payload = data[at : at + 4], data[at + 4 : at + 4 + size]
        at += 4 + size
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
        out.append((int.from_bytes(payload, "little") ^ key).to_bytes(size, "little"))
    return out


# What ``idle`` reads of a wsproto Connection.
INTERNALS = (
    "state",
    "_events",
    "_proto.extensions",
    "_proto._frame_decoder.header",
    "_proto._frame_decoder.buffer.buffer",
    "_proto._message_decoder.opcode",
)


class FastPath:
    """Whether ``audio_frames`` may be used: decided once, by ``check``, at start."""

    usable = True


def missing(connection: Any) -> list[str]:
    """The fields of INTERNALS that ``connection`` (a new wsproto server connection) does not have."""
    gone = []
    for path in INTERNALS:
        item = connection
        for name in path.split("."):
            if not hasattr(item, name):
                gone.append(path)
                break
            item = getattr(item, name)
    return gone


def check(make: Callable[[], Any] = lambda: Connection(ConnectionType.SERVER)) -> bool:
    """Switch the fast path on when the connections ``make`` builds have what it reads, else off (logged)."""
    try:
        gone = missing(make())
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the library's own reading still works
        gone = [f"a connection ({exc})"]
    FastPath.usable = not gone
    if gone:
        log.warning(
            "stream frame fast path off: wsproto %s has no %s; every frame is read by wsproto itself",
            version("wsproto"),
            ", ".join(gone),
        )
    return FastPath.usable


def idle(ws: Any) -> bool:
    """True when simple-websocket ``ws``'s wsproto connection holds no partial frame, message or event (and the
    fast path is usable at all)."""
    if not FastPath.usable:
        return False
    connection = ws.ws.connection
    if connection is None or connection.state is not ConnectionState.OPEN:
        return False
    if ws.incoming_message is not None or connection._events:
        return False
    proto = connection._proto
    decoder = proto._frame_decoder
    return (
        not proto.extensions
        and decoder.header is None
        and not decoder.buffer.buffer
        and proto._message_decoder.opcode is None
    )
