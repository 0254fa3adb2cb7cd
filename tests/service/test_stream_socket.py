"""The stream socket as FreeSWITCH's mod_audio_stream opens it (#20.5), through a real gunicorn gevent service.

The client is the independent ``websockets`` library, not our emulator: it offers permessage-deflate
as the module does, sends a metadata text frame first, and can lose its TCP connection without a close
frame and dial the same signed URL again.
"""

from __future__ import annotations

import io
import json
import socket
import time
import wave

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from emulator.service import running_service
from tests.conftest import base_config
from tests.support.streaming import (
    HEADERS,
    act,
    call_id_of,
    emulator_args,
    get_call,
    run_emulator,
    runtime,
    stream_url,
    wait_for,
    write_script,
)

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz
GRACE = 1.5


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("socket")
    config = base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        RECORD_CALLS=1,
        VOICE_ENABLED=0,
        IDLE_TIMEOUT=20,
        STREAM_RECONNECT_GRACE=GRACE,
    )
    with running_service(config) as url:
        yield url


def dial(url: str) -> ClientConnection:
    """A socket offering permessage-deflate, as mod_audio_stream does by default."""
    return connect(url, compression="deflate", open_timeout=5, close_timeout=2, legacy=True)


def stream(ws: ClientConnection, seconds: float) -> int:
    """Caller audio at real time for ``seconds``; the number of frames sent."""
    count = int(seconds / 0.02)
    started = time.monotonic()
    for n in range(count):
        ws.send(FRAME)
        time.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))
    return count


def lose(ws: ClientConnection) -> None:
    """The TCP connection goes away without a close frame (a network blip, a module about to redial)."""
    ws.socket.shutdown(socket.SHUT_RDWR)
    ws.socket.close()


def refusal(url: str) -> tuple[int, str]:
    """The close code and reason a socket dialled at ``url`` is refused with."""
    ws = dial(url)
    try:
        ws.recv(timeout=5)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("the socket was not closed")


def timeline(call: dict) -> list[str]:
    return [e["kind"] for e in call["timeline"]]


def test_deflate_is_declined_and_the_call_streams(service: str) -> None:
    url = stream_url(service)
    ws = dial(url)
    assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
    assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
    sent = stream(ws, 0.4)
    call_id = call_id_of(url)
    call = wait_for(lambda: ((c := get_call(service, call_id))["stats"] or {}).get("frames_in") == sent and c)
    assert call["state"] == "live" and call["stats"]["dropped"] == {}
    ws.close()
    call = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c)
    assert call["end_reason"] == "socket_closed"


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ('{"uuid": "fs-1", "caller": "919876543210"}', {"uuid": "fs-1", "caller": "919876543210"}),
        ("call from the IVR, leg a", {"text": "call from the IVR, leg a"}),
    ],
)
def test_a_first_text_frame_of_metadata_is_stored_on_the_call(service: str, text: str, stored: dict) -> None:
    url = stream_url(service)
    ws = dial(url)
    ws.send(text)
    sent = stream(ws, 0.2)
    call_id = call_id_of(url)
    call = wait_for(lambda: ((c := get_call(service, call_id))["stats"] or {}).get("frames_in") == sent and c)
    assert call["stats"]["dropped"] == {} and call["stats"]["metadata_in"] == 1
    metadata = [e["detail"]["data"] for e in call["timeline"] if e["kind"] == "stream.metadata"]
    assert metadata == [stored]
    ws.close()
    wait_for(lambda: get_call(service, call_id)["state"] == "ended")


def test_a_redial_within_the_grace_continues_the_same_call(service: str) -> None:
    url = stream_url(service)
    call_id = call_id_of(url)
    first = dial(url)
    first.send('{"uuid": "fs-2"}')
    began = time.monotonic()
    sent = stream(first, 1.0)
    wait_for(lambda: ((get_call(service, call_id)["stats"] or {}).get("frames_in") or 0) == sent)
    lose(first)
    wait_for(lambda: "socket.dropped" in timeline(get_call(service, call_id)))
    assert act(service, call_id, action="pause").status_code == 200  # held for the redial, not lost
    time.sleep(0.3)
    second = dial(url)  # the same signed URL; the module sends its metadata again
    second.send('{"uuid": "fs-2"}')
    assert json.loads(second.recv(timeout=3)) == {"action": "pause"}
    sent += stream(second, 1.0)
    spoke = time.monotonic() - began
    call = wait_for(lambda: (c := get_call(service, call_id))["stats"]["frames_in"] == sent and c)
    assert call["state"] == "live" and call["stats"]["dropped"] == {}
    assert [k for k in timeline(call) if k.startswith("socket.")] == ["socket.dropped", "socket.redialled"]
    assert runtime(service)["session_ids"].count(call_id) == 1
    time.sleep(GRACE + 0.3)  # past the grace the call is still the redialled socket's
    assert get_call(service, call_id)["state"] == "live"
    second.close()
    call = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c)
    assert call["end_reason"] == "socket_closed"
    recording = requests.get(f"{service}/api/v1/calls/{call_id}/recording", headers=HEADERS, timeout=5)
    with wave.open(io.BytesIO(recording.content)) as wav:  # one recording, the gap in it as silence
        assert wav.getnframes() / 8000 == pytest.approx(spoke, abs=0.4)


def test_no_redial_within_the_grace_ends_the_call_as_socket_lost(service: str) -> None:
    url = stream_url(service)
    call_id = call_id_of(url)
    ws = dial(url)
    stream(ws, 0.2)
    wait_for(lambda: get_call(service, call_id)["state"] == "live")
    lost_at = time.monotonic()
    lose(ws)
    call = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=GRACE + 5)
    assert call["end_reason"] == "socket_lost" and time.monotonic() - lost_at >= GRACE - 0.2
    assert refusal(url) == (1008, "this call has ended")
    assert get_call(service, call_id)["end_reason"] == "socket_lost"  # the redial made no new call
    assert call_id not in runtime(service)["session_ids"]


def test_after_a_normal_close_a_redial_is_refused_and_makes_no_call(service: str) -> None:
    url = stream_url(service)
    call_id = call_id_of(url)
    ws = dial(url)
    stream(ws, 0.2)
    wait_for(lambda: get_call(service, call_id)["state"] == "live")
    ws.close()
    assert refusal(url) == (1008, "this call has ended")  # at once, before the stored state may say ended
    call = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c)
    assert call["end_reason"] == "socket_closed"
    assert call_id not in runtime(service)["session_ids"]


def test_text_frames_that_break_the_json_rule_are_dropped_and_never_poison_the_call(service: str) -> None:
    """#25.6: held to the webhooks' rule (streams/jsontext.py). A lone surrogate stored once made the call's API
    fail for good; NaN/Infinity made it answer invalid JSON."""
    url = stream_url(service)
    call_id = call_id_of(url)
    ws = dial(url)
    ws.send(FRAME)  # audio first: what follows are events, not metadata
    bad = [
        '{"event": "x", "who": "\\ud800"}',
        '{"event": "x", "\\udfff": 1}',
        '{"event": "x", "v": NaN}',
        '{"event": "x", "v": -Infinity}',
        '{"event": "x", "v": 1e999}',
        '{"event": "x", "v": ' + "[" * 200 + "]" * 200 + "}",
    ]
    for text in bad:
        ws.send(text)
    ws.send('{"event": "media_started"}')
    ws.send(FRAME)
    call = wait_for(lambda: ((c := get_call(service, call_id))["stats"] or {}).get("frames_in") == 2 and c)
    assert call["stats"]["dropped"] == {"malformed_text": len(bad)} and call["stats"]["events_in"] == 1
    ws.close()
    wait_for(lambda: get_call(service, call_id)["state"] == "ended")
    answer = requests.get(f"{service}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5)
    assert answer.status_code == 200
    json.loads(answer.text, parse_constant=lambda name: pytest.fail(f"{name} in the API's answer"))


def test_the_emulator_offers_deflate_sends_metadata_and_drops_and_redials(service: str, tmp_path) -> None:
    """#20.6: the emulator's stream client speaks as the module does, and its drop-and-redial option is a call
    that goes on."""
    script = write_script(tmp_path, {"steps": [{"listen": 2.0}], "linger": 0.2})
    report = run_emulator(
        *emulator_args("call", service, script),
        "--out",
        str(tmp_path / "out"),
        "--drop-at",
        "0.6",
        "--redial-after",
        "0.4",
    )
    assert report["errors"] == []
    kinds = [e["kind"] for e in report["timeline"]]
    assert kinds.index("stream.open") < kinds.index("stream.dropped") < kinds.index("stream.redialled")
    assert next(e for e in report["timeline"] if e["kind"] == "stream.open")["extensions"] == []  # declined
    call = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c)
    assert call["end_reason"] == "socket_closed" and call["stats"]["metadata_in"] == 2  # once per socket
    assert [k for k in timeline(call) if k.startswith("socket.")] == ["socket.dropped", "socket.redialled"]
    metadata = next(e["detail"]["data"] for e in call["timeline"] if e["kind"] == "stream.metadata")
    assert metadata["mix_type"] == "mono" and metadata["sampling"] == 8000


def test_a_refused_redial_that_sends_at_once_still_gets_its_close_code(service: str) -> None:
    """The module sends its metadata and audio right after connecting: the refusal's close frame must not be
    lost to a TCP reset from closing with those frames unread."""
    url = stream_url(service)
    ws = dial(url)
    stream(ws, 0.1)
    ws.close()
    wait_for(lambda: get_call(service, call_id_of(url))["state"] == "ended")
    ws = dial(url)
    code = None
    try:
        ws.send('{"uuid": "fs-3"}')
        for _ in range(1000):
            ws.send(FRAME)
        ws.recv(timeout=5)
    except ConnectionClosed as closed:
        code = closed.rcvd and (closed.rcvd.code, closed.rcvd.reason)
    assert code == (1008, "this call has ended")
