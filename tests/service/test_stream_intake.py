"""Caller audio pushed far faster than real time (#25.3), through a real gunicorn gevent service.

Whoever holds a stream URL could push hours of audio in seconds: it is taken at real time plus a small
burst, the rest dropped and counted, and past a hard excess the socket is closed with 1008. The worker's
memory stays bounded and the recording is as long as the call really was.
"""

from __future__ import annotations

import audioop
import stat
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.service import service_process
from tests.conftest import base_config
from tests.support.streaming import call_id_of, get_call, stream_url, wait_for

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz
BURST, FLOOD = 1.0, 60.0


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[tuple[str, Path, int]]:
    tmp = tmp_path_factory.mktemp("intake")
    config = base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        RECORD_CALLS=1,
        VOICE_ENABLED=0,
        STREAM_AUDIO_BURST=BURST,
        STREAM_AUDIO_FLOOD=FLOOD,
    )
    with service_process(config) as svc:
        yield svc.url, tmp / "instance" / "recordings", svc.proc.pid


def worker_rss(master: int) -> int:
    """The resident memory (bytes) of the gunicorn worker under ``master``."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_audio_faster_than_real_time_is_dropped_and_counted_and_the_recording_is_real_time(service) -> None:
    url, recordings, master = service
    ws_url = stream_url(url)
    call_id = call_id_of(ws_url)
    before = worker_rss(master)
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        began = time.monotonic()
        for _ in range(int(40 / 0.02)):  # 40 s of audio, as fast as the socket takes it
            ws.send(FRAME)
        pushed = time.monotonic() - began
        call = wait_for(lambda: (c := get_call(url, call_id))["stats"] and c["stats"]["dropped"] and c)
        time.sleep(0.3)
    call = wait_for(lambda: (c := get_call(url, call_id))["state"] == "ended" and c)
    lasted = time.monotonic() - began
    assert pushed < 20  # far faster than real time
    stats = call["stats"]
    assert call["end_reason"] == "socket_closed"
    taken = stats["frames_in"] * 0.02
    assert taken <= BURST + pushed + 0.1  # real time plus the burst, never the 40 s
    assert stats["frames_in"] + stats["dropped"]["audio_excess"] == 2000
    path = recordings / f"{call_id}.wav"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with wave.open(str(path)) as wav:
        assert wav.getnframes() / 8000 <= lasted + BURST
    assert worker_rss(master) - before < 30 * 1024 * 1024


def test_past_the_hard_excess_the_socket_is_closed_with_1008(service) -> None:
    url, _, master = service
    ws_url = stream_url(url)
    call_id = call_id_of(ws_url)
    before = worker_rss(master)
    code = None
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        try:
            for _ in range(int(600 / 0.02)):  # ten minutes of audio; the service gives up long before
                ws.send(FRAME)
        except ConnectionClosed as closed:
            code = closed.rcvd and (closed.rcvd.code, closed.rcvd.reason)
        if code is None:
            try:
                ws.recv(timeout=5)
            except ConnectionClosed as closed:
                code = closed.rcvd and (closed.rcvd.code, closed.rcvd.reason)
    assert code == (1008, "audio_flood")
    call = wait_for(lambda: (c := get_call(url, call_id))["state"] == "ended" and c)
    assert call["end_reason"] == "audio_flood"
    assert call["stats"]["dropped"]["audio_excess"] * 0.02 == pytest.approx(FLOOD, abs=1)
    assert worker_rss(master) - before < 30 * 1024 * 1024


@pytest.fixture(scope="module")
def stereo_service(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("stereo")
    config = base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        RECORD_CALLS=1,
        VOICE_ENABLED=0,
        STREAM_LISTEN_MODE="both",
        STREAM_BOTH_AUDIO="stereo",
        STREAM_AUDIO_BURST=BURST,
    )
    with service_process(config) as svc:
        yield svc.url, tmp / "instance" / "recordings"


def test_a_stereo_stream_at_real_time_is_taken_whole_and_its_caller_channel_recorded(stereo_service) -> None:
    """#20.5: listen_mode both as interleaved stereo (caller left): twice the bytes of mono are still real time."""
    url, recordings = stereo_service
    caller, bot = b"\x10\x00" * 160, b"\x20\x00" * 160
    stereo = audioop.add(audioop.tostereo(caller, 2, 1, 0), audioop.tostereo(bot, 2, 0, 1), 2)
    ws_url = stream_url(url)
    call_id = call_id_of(ws_url)
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        began = time.monotonic()
        for n in range(100):  # 2 s, paced
            ws.send(stereo)
            time.sleep(max(0.0, began + (n + 1) * 0.02 - time.monotonic()))
    call = wait_for(lambda: (c := get_call(url, call_id))["state"] == "ended" and c)
    assert call["stats"]["frames_in"] == 100 and call["stats"]["dropped"] == {}
    assert call["stats"]["bytes_in"] == 100 * len(caller)
    with wave.open(str(recordings / f"{call_id}.wav")) as wav:
        left = audioop.tomono(wav.readframes(wav.getnframes()), 2, 1, 0)
    assert left.strip(b"\0") and set(left.strip(b"\0")[::2]) == {0x10}  # the caller's channel, not the bot's
