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
