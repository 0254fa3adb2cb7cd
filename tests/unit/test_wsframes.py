"""The stream socket's fast path for audio frames agrees with wsproto, or stands aside (streams/link/frames.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol, Opcode

from streams.link.frames import audio_frames

FAST = settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
PIECES = st.lists(
    st.tuples(st.sampled_from(["binary", "text", "ping", "part"]), st.binary(max_size=700)), min_size=1, max_size=6
)


def client_bytes(pieces: list[tuple[str, bytes]]) -> bytes:
    """What a client (masked) sends for ``pieces``, built by wsproto itself."""
    proto = FrameProtocol(client=True, extensions=[])
    out = bytearray()
    for kind, payload in pieces:
        if kind == "binary":
            out += proto.send_data(payload, True)
        elif kind == "text":
            out += proto.send_data(payload.decode("latin-1"), True)
        elif kind == "ping":
            out += proto.ping(payload[:125])
        else:  # a binary message in two frames
            out += proto.send_data(payload[:3], False) + proto.send_data(payload[3:], True)
    return bytes(out)


def wsproto_reads(data: bytes) -> tuple[list, bool]:
    """The frames a server-side wsproto parses from ``data``, and whether it consumed every byte."""
    proto = FrameProtocol(client=False, extensions=[])
    proto.receive_bytes(data)
    frames = list(proto.received_frames())
    decoder = proto._frame_decoder
    return frames, decoder.header is None and not decoder.buffer.buffer


@FAST
@given(payloads=st.lists(st.binary(max_size=2000), min_size=1, max_size=8))
def test_whole_binary_frames_are_read_as_wsproto_reads_them(payloads: list[bytes]) -> None:
    assert audio_frames(client_bytes([("binary", p) for p in payloads]), 4000) == payloads


@FAST
@given(pieces=PIECES, cut=st.integers(min_value=0), flip=st.integers(min_value=0), max_size=st.integers(0, 800))
def test_anything_else_is_left_to_wsproto(pieces: list[tuple[str, bytes]], cut: int, flip: int, max_size: int) -> None:
    data = bytearray(client_bytes(pieces))
    data = data[: len(data) - cut % 3 * (cut % len(data))]  # sometimes a frame split across reads
    if data and flip % 4 == 0:
        data[flip % len(data)] ^= 0xFF  # sometimes a corrupt byte
    fast = audio_frames(bytes(data), max_size)
    if fast is None:
        return
    frames, consumed = wsproto_reads(bytes(data))
    assert consumed and len(frames) == len(fast)
    for frame, payload in zip(frames, fast, strict=True):
        assert frame.opcode is Opcode.BINARY and frame.frame_finished and frame.message_finished
        assert bytes(frame.payload) == payload and len(payload) <= max_size


# -- the fast path checks wsproto's internals at start, and stands aside when they moved (#22.6) -----------
def test_this_wsproto_has_every_internal_the_fast_path_reads() -> None:
    from wsproto.connection import Connection, ConnectionType

    from streams.link import frames

    assert frames.missing(Connection(ConnectionType.SERVER)) == []
    assert frames.check() is True and frames.FastPath.usable


def serve_inline(server_end):  # type: ignore[no-untyped-def]
    """A real simple-websocket server on ``server_end``, read inline as stream sockets are."""
    import functools

    from simple_websocket import Server

    from streams.link.websocket import WebSocket, reader_thread

    environ = {
        "werkzeug.socket": server_end,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    inline = functools.partial(reader_thread, inline=lambda environ: True)
    return WebSocket(Server(environ, thread_class=inline, max_message_size=1 << 20))


def test_a_wsproto_without_those_internals_turns_the_fast_path_off_and_frames_are_still_read(caplog) -> None:
    import logging
    import socket

    from streams.link import frames

    class MovedInternals:  # a wsproto release that renamed its frame decoder
        state = None
        _events = ()
        _proto = type("Proto", (), {"extensions": []})()

    server_end, client_end = socket.socketpair()
    try:
        with caplog.at_level(logging.WARNING, logger="streams.link.frames"):
            assert frames.check(MovedInternals) is False
        lines = [r.getMessage() for r in caplog.records if r.name == "streams.link.frames"]
        assert len(lines) == 1 and "_proto._frame_decoder.header" in lines[0] and "fast path off" in lines[0]
        sock = serve_inline(server_end)
        assert client_end.recv(4096).startswith(b"HTTP/1.1 101")
        payloads = [b"\x01\x00" * 160, b"\x02\x00" * 320, b"\x03\x00" * 160]
        client_end.sendall(client_bytes([("binary", p) for p in payloads] + [("text", b'{"event": "x"}')]))
        assert frames.idle(sock.ws) is False  # whatever wsproto holds, the fast path stays aside
        assert [sock.receive(timeout=2) for _ in range(4)] == [*payloads, '{"event": "x"}']
    finally:
        frames.check()
        server_end.close()
        client_end.close()
    assert frames.FastPath.usable
