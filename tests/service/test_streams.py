"""The stream socket and sessions, through a real gunicorn gevent server and the emulator."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import pytest
import requests

from emulator.service import free_port, running_service
from emulator.wsclient import connect
from tests.conftest import API_KEY, base_config
from tests.support.streaming import (
    HEADERS,
    act,
    answer,
    call_id_of,
    closed_with,
    drain,
    emulated_platform,
    emulator_args,
    get_call,
    run_emulator,
    runtime,
    stream_url,
    wait_for,
    write_script,
)

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz


@pytest.fixture(scope="module")
def platform_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def service(tmp_path_factory, platform_port: int):
    tmp = tmp_path_factory.mktemp("svc")
    config = base_config(
        tmp,
        f"http://127.0.0.1:{platform_port}",
        PUBLIC_URL="auto",
        MAX_CALLS=60,
        RECORD_CALLS=1,
        PIOPIY_APP_SECRET="emulator-secret",
        PIOPIY_RETRIES=0,
        VOICE_ENABLED=0,  # the transport on its own; test_voice.py covers the voice pipeline
    )
    with running_service(config) as url:
        yield url


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limited")
    config = base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        MAX_CALLS=2,
        IDLE_TIMEOUT=1.5,
        MAX_CALL_SECONDS=2.5,
        VOICE_ENABLED=0,
    )
    with running_service(config) as url:
        yield url


def send_frames(ws, count: int, frame: bytes = FRAME, pace: float = 0.0) -> None:
    for _ in range(count):
        ws.send(frame)
        if pace:
            time.sleep(pace)


# -- signatures -----------------------------------------------------------------------
def test_bad_and_expired_signatures_close_with_1008(service: str) -> None:
    url = stream_url(service)
    base, query = url.split("?")
    for bad, reason in (
        (f"{base}?{query.replace('sig=', 'sig=x')}", "bad signature"),
        (f"{base}?exp=99&sig=abc", "bad signature"),
        (base, "bad signature"),
        (url.replace(call_id_of(url), "someone-else"), "bad signature"),
    ):
        ws = connect(bad)
        assert closed_with(ws) == (1008, reason)
    from app.piopiy import signing

    expired = signing.stream_url(service, "test-secret-key", "old-call", ttl=10, now=time.time() - 60)
    ws = connect(expired)
    assert closed_with(ws) == (1008, "expired")


# -- a call, end to end, through the emulator --------------------------------------------
def test_inbound_call_end_to_end(service: str, tmp_path: Path) -> None:
    script = write_script(
        tmp_path, {"steps": [{"listen": 0.3}, {"tone": 600}, {"listen": 0.4}, {"tone": 300}], "linger": 0.3}
    )
    report = run_emulator(
        *emulator_args("call", service, script),
        "--out",
        str(tmp_path / "out"),
        "--cdr-repeat",
        "2",
        "--form",
    )
    assert report["errors"] == []
    call = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c)
    assert call["end_reason"] == "socket_closed" and call["direction"] == "inbound"
    assert call["stats"]["frames_in"] == report["frames_sent"] > 70
    assert call["stats"]["dropped"] == {}
    states = [e["detail"]["state"] for e in call["timeline"] if e["kind"] == "state"]
    assert states == ["created", "connecting", "live", "ended"]
    events = [e for e in call["timeline"] if e["kind"] == "event"]
    assert len(events) == 1  # the CDR was posted twice, stored once
    recording = requests.get(f"{service}/api/v1/calls/{call['id']}/recording", headers=HEADERS, timeout=5)
    assert recording.status_code == 200
    with wave.open(io.BytesIO(recording.content)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000
        assert wav.getnframes() / 8000 == pytest.approx(report["duration"], abs=0.3)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_outbound_call_end_to_end(tmp_path: Path, version: str) -> None:
    port = free_port()
    config = base_config(
        tmp_path,
        f"http://127.0.0.1:{port}",
        PUBLIC_URL="auto",
        PIOPIY_API_VERSION=version,
        PIOPIY_APP_SECRET="emulator-secret",
        PIOPIY_TOKEN="emulator-token",
        PIOPIY_RETRIES=0,
        VOICE_ENABLED=0,
    )
    script = write_script(tmp_path, {"steps": [{"tone": 400}], "linger": 0.3})
    with running_service(config) as service:
        with emulated_platform(service, script, port=port) as platform:
            created = requests.post(f"{service}/api/v1/calls", json={"to": "919876543210"}, headers=HEADERS, timeout=10)
            assert created.status_code == 201, created.text
            call = created.json()["call"]
            platform_id = call["platform_id"]
            done = wait_for(
                lambda: (
                    (r := requests.get(f"{platform}/_emulator/calls/{platform_id}", timeout=5).json())["report"] and r
                ),
                timeout=20,
            )
            report = done["report"]
            assert report["errors"] == [] and report["call_id"] == call["id"] and report["direction"] == "outbound"
            ended = wait_for(lambda: (c := get_call(service, call["id"]))["state"] == "ended" and c)
            assert ended["stats"]["frames_in"] == report["frames_sent"] > 10
            # The CDR found the call through the id we put in extra_params / variables.
            assert [e["detail"]["kind"] for e in ended["timeline"] if e["kind"] == "event"] == ["out_answered"]


# -- REST actions reach the platform as the right messages --------------------------------
def test_every_rest_action_reaches_the_socket(service: str) -> None:
    url = stream_url(service)
    call_id = call_id_of(url)
    ws = connect(url)
    send_frames(ws, 5)
    wait_for(lambda: get_call(service, call_id)["state"] == "live")

    def expect(action: dict, predicate, seconds: float = 1.0) -> list:
        response = act(service, call_id, **action)
        assert response.status_code == 200, response.text
        got = drain(ws, seconds)
        assert any(predicate(m) for m in got), (action, got)
        return got

    expect({"action": "pause"}, lambda m: m == {"action": "pause"}, 0.3)
    expect({"action": "resume"}, lambda m: m == {"action": "resume"}, 0.3)
    expect(
        {"action": "play", "file": "hold.wav", "mode": "pcmo"},
        lambda m: m == [{"action": "play", "file_url": f"{service}/media/hold.wav"}],
        0.3,
    )
    audio = expect(
        {"action": "play", "file": "hold.wav"}, lambda m: isinstance(m, dict) and m.get("type") == "streamAudio", 0.8
    )
    sizes = {
        len(__import__("base64").b64decode(m["data"]["audioData"]))
        for m in audio
        if isinstance(m, dict) and m.get("type") == "streamAudio"
    }
    assert all(size % 320 == 0 for size in sizes)  # whole 20 ms frames only
    cut = act(service, call_id, action="break").json()["result"]
    assert cut["sent"] == "break" and cut["cuts"][0]["heard_ms"] < cut["cuts"][0]["total_ms"] == 3000
    assert {"action": "break"} in drain(ws, 0.3)
    assert act(service, call_id, action="say", text="hello").status_code == 501  # no TTS in this service
    expect(
        {"action": "transfer", "numbers": ["919000000077"], "ring_type": "group"},
        lambda m: (
            isinstance(m, list)
            and m[0]["action"] == "bridge"
            and m[0]["connect"] == [{"type": "pstn", "number": 919000000077}]
            and m[0]["ring_type"] == "group"
        ),
        5,
    )
    send_frames(ws, 5)  # the stream stays open after the handoff
    call = wait_for(
        lambda: (c := get_call(service, call_id))["state"] == "handed_off" and c["stats"]["frames_in"] == 10 and c
    )
    kinds = [e["detail"].get("action") for e in call["timeline"] if e["kind"] == "control"]
    assert kinds == ["pause", "resume", "play", "play", "break", "transfer"]  # say was refused (501): not applied
    assert act(service, call_id, action="transfer").status_code == 409  # already with a person
    expect({"action": "hangup"}, lambda m: m == [{"action": "hangup"}], 1)
    assert closed_with(ws)[0] == 1000
    ended = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c)
    assert ended["end_reason"] == "hangup_requested"
    assert act(service, call_id, action="pause").status_code == 409  # no live session any more


def test_stop_ends_the_stream(service: str) -> None:
    url = stream_url(service)
    ws = connect(url)
    send_frames(ws, 2)
    wait_for(lambda: get_call(service, call_id_of(url))["live"])
    assert act(service, call_id_of(url), action="stop").status_code == 200
    assert {"action": "stop"} in drain(ws, 0.5)
    assert closed_with(ws)[0] == 1000
    wait_for(lambda: get_call(service, call_id_of(url))["end_reason"] == "stream_stopped")


def test_playing_a_missing_file_is_on_the_timeline_not_fatal(service: str) -> None:
    url = stream_url(service)
    ws = connect(url)
    send_frames(ws, 2)
    wait_for(lambda: get_call(service, call_id_of(url))["live"])
    refused = act(service, call_id_of(url), action="play", file="../secrets.wav")
    assert refused.status_code == 400 and "file" in refused.json()["errors"]  # no paths, ever
    assert act(service, call_id_of(url), action="play", file="missing.wav").status_code == 200
    failed = wait_for(lambda: [e for e in get_call(service, call_id_of(url))["timeline"] if e["kind"] == "play.failed"])
    assert failed[0]["detail"] == {"file": "missing.wav", "error": "missing.wav is not a file in the media folder"}
    send_frames(ws, 2)
    wait_for(lambda: get_call(service, call_id_of(url))["stats"]["frames_in"] == 4)
    ws.close()


# -- bad input ---------------------------------------------------------------------------
def test_odd_oversized_and_garbage_frames_are_dropped_and_the_call_goes_on(service: str) -> None:
    url = stream_url(service)
    ws = connect(url)
    send_frames(ws, 3)
    ws.send(b"\x01\x02\x03")  # odd length
    ws.send(b"\x00" * 40000)  # over MAX_FRAME_BYTES
    ws.send(b"")  # empty
    ws.send("{not json")  # malformed text
    ws.send("[1, 2]")  # JSON, but not an event
    ws.send('{"event": "media_started", "whatever": [1]}')  # an event we do not know: kept
    send_frames(ws, 3)
    call_id = call_id_of(url)
    # stats is None until the socket's call is registered (its record is read off the loop first)
    call = wait_for(lambda: ((c := get_call(service, call_id))["stats"] or {}).get("frames_in") == 6 and c)
    assert call["stats"]["dropped"] == {
        "odd_frame": 1,
        "oversized_frame": 1,
        "empty_frame": 1,
        "malformed_text": 1,
        "unexpected_json": 1,
    }
    assert call["stats"]["events_in"] == 1 and call["state"] == "live"
    ws.close()
    wait_for(lambda: get_call(service, call_id)["state"] == "ended")


def test_a_duplicate_socket_replaces_the_first(service: str) -> None:
    url = stream_url(service)
    call_id = call_id_of(url)
    first = connect(url)
    send_frames(first, 2)
    wait_for(lambda: get_call(service, call_id)["live"])
    second = connect(url)
    assert closed_with(first) == (4001, "replaced by a newer socket for this call")
    send_frames(second, 3)
    call = wait_for(lambda: (c := get_call(service, call_id))["stats"]["frames_in"] == 5 and c)
    assert call["state"] == "live" and call["stats"]["sockets_replaced"] == 1
    assert runtime(service)["session_ids"].count(call_id) == 1
    assert act(service, call_id, action="pause").status_code == 200
    assert {"action": "pause"} in drain(second, 0.3)  # the new socket gets the messages
    second.close()
    wait_for(lambda: get_call(service, call_id)["state"] == "ended")


def test_a_ping_on_the_stream_socket_is_answered(service: str) -> None:
    """Stream sockets are read by their own handler, not a reader thread (streams/link/websocket.py): pings still
    get their pong, and audio frames around them still count."""
    from wsproto.events import Ping

    url = stream_url(service)
    ws = connect(url)
    send_frames(ws, 2)
    ws.pong_received = False
    ws.sock.sendall(ws.ws.send(Ping(payload=b"are you there")))
    send_frames(ws, 1)
    assert wait_for(lambda: ws.pong_received, timeout=5)
    assert wait_for(lambda: get_call(service, call_id_of(url))["stats"]["frames_in"] == 3)
    ws.close()


def test_an_unknown_but_signed_call_is_created_on_the_fly(service: str) -> None:
    from app.piopiy import signing

    url = signing.stream_url(service, "test-secret-key", "outbound-before-any-event", ttl=60)
    ws = connect(url)
    send_frames(ws, 2)
    call = wait_for(lambda: (c := get_call(service, "outbound-before-any-event")).get("state") == "live" and c)
    assert call["direction"] == "outbound"
    ws.close()


# -- limits ------------------------------------------------------------------------------
def test_idle_calls_are_ended(limited: str) -> None:
    url = stream_url(limited)
    ws = connect(url)
    send_frames(ws, 2)
    messages = drain(ws, 3.5)
    assert [{"action": "hangup"}] in messages
    assert closed_with(ws)[0] == 1000
    assert get_call(limited, call_id_of(url))["end_reason"] == "idle_timeout"


def test_long_calls_are_ended_at_max_duration(limited: str) -> None:
    url = stream_url(limited)
    ws = connect(url)
    started = time.monotonic()
    while ws.connected and time.monotonic() - started < 6:
        try:
            ws.send(FRAME)
        except Exception:  # noqa: BLE001 - the server closed the socket
            break
        time.sleep(0.02)
    assert 2.4 < time.monotonic() - started < 4.5
    wait_for(lambda: get_call(limited, call_id_of(url))["end_reason"] == "max_duration")


def test_max_calls_refuses_with_1013_and_the_webhook_apologises(limited: str) -> None:
    urls = [stream_url(limited) for _ in range(3)]  # all answered while there was room
    open_sockets = []
    for url in urls[:2]:
        ws = connect(url)
        send_frames(ws, 1)
        open_sockets.append(ws)
    wait_for(lambda: runtime(limited)["sessions"] == 2)
    third = connect(urls[2])
    assert closed_with(third) == (1013, "try again later")
    refused = get_call(limited, call_id_of(urls[2]))
    assert (refused["state"], refused["end_reason"]) == ("ended", "max_calls")  # not left "created"
    busy = answer(limited)
    assert [a["action"] for a in busy] == ["speak", "hangup"]
    for ws in open_sockets:
        ws.close()
    wait_for(lambda: runtime(limited)["sessions"] == 0)
    assert [a["action"] for a in answer(limited)] == ["stream"]


# -- many calls at once --------------------------------------------------------------------
def test_fifty_concurrent_calls_stream_without_loss_and_free_everything(service: str, tmp_path: Path) -> None:
    before = runtime(service)
    script = write_script(tmp_path, {"steps": [{"tone": 1000}, {"listen": 1.0}], "repeat": True, "linger": 0})
    summary = run_emulator(
        *emulator_args("load", service, script),
        "--calls",
        "50",
        "--seconds",
        "20",
        "--ramp",
        "0.02",
        "--no-cdr",
        timeout=90,
    )
    assert summary["calls"] == 50 and summary["failed"] == 0, summary["errors"]
    calls = [
        wait_for(lambda cid=cid: (c := get_call(service, cid))["state"] == "ended" and c) for cid in summary["call_ids"]
    ]
    assert sum(c["stats"]["frames_in"] for c in calls) == summary["frames_sent"]
    assert all(c["stats"]["dropped"] == {} for c in calls)
    assert all(c["stats"]["frames_in"] >= 0.95 * 20 / 0.02 for c in calls)
    after = wait_for(lambda: (r := runtime(service))["sessions"] == 0 and r)
    kinds = after["greenlet_kinds"]

    def loop_greenlets(kinds: dict[str, int]) -> dict[str, int]:
        # Thread-pool workers (and their threads' root greenlets) are kept by the pool.
        return {k: v for k, v in kinds.items() if k not in ("_WorkerGreenlet", "greenlet", "Hub")}

    # What ran before the calls (this request's handler, the loop watcher) is all that may remain.
    assert loop_greenlets(kinds) == loop_greenlets(before["greenlet_kinds"]), (before, after)
    assert "_write_loop" not in str(kinds) and "CallSession" not in str(kinds)
    assert kinds.get("greenlet", 0) == kinds.get("_WorkerGreenlet", 0) + 1


def test_runtime_needs_the_api_key(service: str) -> None:
    assert requests.get(f"{service}/api/v1/runtime", timeout=5).status_code == 401
    assert requests.get(f"{service}/api/v1/runtime", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5).ok
