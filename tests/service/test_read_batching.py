"""A busy loop reads caller audio several frames at a time (#21.4).

Through a real gunicorn gevent service: a caller streams 3 s of frames at real time, and the call's
stats say how many socket reads took them. ``STREAM_READ_BATCH_BUSY=0`` makes the loop count as busy
whatever its load, so batching is on for the whole call; with ``STREAM_READ_BATCH_MS=0`` it is off and
each frame is read as it comes. Both hear every frame. When the rule turns batching on (the loop's own
CPU, the machine's) is tests/unit/test_read_batching_rule.py: here it would depend on the CI box's load.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from emulator.service import service_process
from tests.conftest import base_config
from tests.support.streaming import call_id_of, get_call, stream_url, wait_for

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz
FRAMES = 150  # 3 s


def _service(tmp_path_factory, name: str, **extra: object) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp(f"reads-{name}")
    config = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, **extra)
    with service_process(config) as svc:
        yield svc.url


@pytest.fixture(scope="module", params=["batching", "off"])
def service(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    batch = 60 if request.param == "batching" else 0
    for url in _service(tmp_path_factory, request.param, STREAM_READ_BATCH_MS=batch, STREAM_READ_BATCH_BUSY=0):
        yield url, request.param


@pytest.fixture(scope="module")
def wide_service(tmp_path_factory) -> Iterator[str]:
    """32 kHz audio, batching on with 100 ms pauses."""
    yield from _service(
        tmp_path_factory, "wide", STREAM_READ_BATCH_MS=100, STREAM_READ_BATCH_BUSY=0, STREAM_VOICE_QUALITY=32000
    )


def test_frames_per_read_follow_the_loops_load(service) -> None:
    url, mode = service
    ws_url = stream_url(url)
    call_id = call_id_of(ws_url)
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        began = time.monotonic()
        for n in range(FRAMES):  # at real time, on the caller's own clock
            time.sleep(max(0.0, began + n * 0.02 - time.monotonic()))
            ws.send(FRAME)
        time.sleep(0.2)
    call = wait_for(lambda: (c := get_call(url, call_id))["state"] == "ended" and c)
    stats = call["stats"]
    assert stats["frames_in"] == FRAMES  # batching loses nothing
    per_read = FRAMES / stats["socket_reads"]
    if mode == "batching":
        assert per_read >= 2.5, stats  # 60 ms waits: ~3 frames a read
    else:
        assert per_read < 2.0, stats  # off: a read per frame (two when the loop happened to be late)


def test_a_wide_stream_is_read_as_fast_as_it_comes_while_batching(wide_service) -> None:
    """32 kHz: 6.4 KB arrive in a 100 ms pause, more than one read takes (4 KB). A reader that paused before every
    read would fall further behind each time; one whose read came back full reads on at once."""
    url = wide_service
    frame = b"\x01\x00" * 640  # 20 ms at 32 kHz
    ws_url = stream_url(url)
    call_id = call_id_of(ws_url)
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        began = time.monotonic()
        for n in range(FRAMES):
            time.sleep(max(0.0, began + n * 0.02 - time.monotonic()))
            ws.send(frame)
        time.sleep(0.4)
        live = get_call(url, call_id)["stats"]  # before the socket closes: what the reader has kept up with
    assert live["frames_in"] >= FRAMES - 10, live  # a paused reader would be ~60 frames behind by now
