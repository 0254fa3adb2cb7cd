"""Issue #20.7: PLATFORM_CAPTURE writes what the platform really sent, secrets redacted; it replays."""

from __future__ import annotations

import json
from pathlib import Path

from app.capture import WatchedSocket, histogram, redact, redact_text, watch
from emulator.replay import webhooks
from tests.conftest import WEBHOOK_TOKEN, hook_url
from tests.support.memsocket import MemorySocket


def lines(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_every_webhook_is_written_as_received_with_secrets_redacted(make_app, tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    client = make_app(PLATFORM_CAPTURE=str(capture)).test_client()
    client.post(hook_url("answer"), json={"from": 919876543210, "to": 919111111111, "cmiuuid": "cap-1"})
    event = {"type": "cdr", "status": "missed", "cmiuuid": "cap-1", "duration": 0, "secret": "s3cret",
             "extra_params": "{key: value}"}  # fmt: skip
    client.post(hook_url("events"), json=event)
    client.post(hook_url("events"), data={"status": "hangup", "cmiuuid": "cap-1", "api_key": "k"})
    client.post("/webhooks/piopiy/events", json=event)  # no token: refused, so not the platform, not captured
    records = lines(capture)
    assert [r["path"] for r in records] == ["/webhooks/piopiy/answer"] + ["/webhooks/piopiy/events"] * 2
    assert all(r["kind"] == "webhook" and r["query"] == ["token"] for r in records)
    text = capture.read_text() if capture.is_file() else "".join(p.read_text() for p in capture.glob("*"))
    assert WEBHOOK_TOKEN not in text and "s3cret" not in text
    assert records[1]["json"] == {**event, "secret": "[redacted]"}  # the body as sent: its odd extra_params kept
    assert records[2]["text"] == "status=hangup&cmiuuid=cap-1&api_key=[redacted]"
    assert [r["path"] for r in webhooks(capture)] == [r["path"] for r in records]  # what replay would post
    files = list(capture.glob("*.jsonl"))  # phone numbers and the platform's bodies: only the service reads them
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert capture.stat().st_mode & 0o777 == 0o700


def test_capture_off_leaves_the_socket_as_it_is(app) -> None:
    socket = MemorySocket()
    assert watch(socket, app.config, "c", None) is socket


def test_a_watched_socket_writes_its_handshake_frames_gaps_and_closes(tmp_path: Path) -> None:
    memory = MemorySocket()
    socket = WatchedSocket(memory, str(tmp_path), "call-1", {"User-Agent": "mod_audio_stream", "Cookie": "[redacted]"})
    memory.push('{"event": "metadata", "token": "abc"}')
    for _ in range(5):
        memory.push(b"\0" * 320)
    assert socket.receive(1) == '{"event": "metadata", "token": "abc"}'
    socket.send_text('{"type": "pause"}')
    assert [len(socket.receive(1)) for _ in range(5)] == [320] * 5
    socket.close(1000, "done")
    assert memory.close_code == 1000 and socket.connected is False  # the socket's own attributes pass through
    [record] = lines(tmp_path)
    assert record["kind"] == "socket" and record["call_id"] == "call-1"
    assert record["headers"]["User-Agent"] == "mod_audio_stream"
    assert record["text_frames_in"][0]["text"] == '{"event": "metadata", "token": "abc"}'
    assert record["text_frames_out"][0]["text"] == '{"type": "pause"}'
    assert record["text_frames_out"][0]["inbound_frames_next_1s"] == 5
    assert record["frame_sizes"] == {"320": 5} and record["frames_in"] == 5
    assert sum(record["inter_arrival_ms"].values()) == 4
    assert record["closes"] == [{"t": record["closes"][0]["t"], "by": "service", "code": 1000, "reason": "done"}]


def test_redaction_and_histogram() -> None:
    assert redact({"a": 1, "Authorization": "Bearer x", "n": [{"app_secret": "y"}]}) == {
        "a": 1, "Authorization": "[redacted]", "n": [{"app_secret": "[redacted]"}]}  # fmt: skip
    assert redact_text("exp=1&sig=abc&token=t") == "exp=1&sig=[redacted]&token=[redacted]"
    assert histogram([19.5, 20.4, 20.9, 45, 9000]) == {"<=21": 3, "<=60": 1, ">5000": 1}
