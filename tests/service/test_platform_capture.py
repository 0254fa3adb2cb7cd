"""Issue #20.4 and #20.7 through a running service: the sweeper greenlet settles a call a lost CDR left open, and
PLATFORM_CAPTURE writes what a real stream socket carried."""

from __future__ import annotations

import json
import time
from pathlib import Path

from emulator.wsclient import connect
from tests.conftest import base_config
from tests.support.platform_double import NOT_FOUND, PlatformDouble, documented_cmiuuid_cdr
from tests.support.streaming import call_id_of, get_call, running_service, stream_url, wait_for


def test_the_sweeper_ends_a_call_whose_cdr_was_lost(tmp_path: Path, platform: PlatformDouble) -> None:
    platform.answer_with(NOT_FOUND, documented_cmiuuid_cdr("missed"))  # not known at first, then its CDR
    config = base_config(tmp_path, platform.url, PUBLIC_URL="auto", VOICE_ENABLED="0", SWEEP_AFTER="0.5",
                         SWEEP_EVERY="0.3")  # fmt: skip
    with running_service(config) as service:
        call_id = call_id_of(stream_url(service, cmiuuid="lost-cdr-1"))  # the caller hangs up before the stream
        call = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=15)
    assert call["end_reason"] == "missed"
    pulls = [r for r in platform.requests if r.path == "/v1/piopiy/cmiuuid_cdr"]
    assert len(pulls) >= 2 and pulls[0].body["cmiuuid"] == "lost-cdr-1"  # asked again after the 404, then settled


def test_a_capture_holds_the_socket_handshake_frames_pacing_and_close(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED="0",
                         PLATFORM_CAPTURE=str(capture))  # fmt: skip
    with running_service(config) as service:
        url = stream_url(service, cmiuuid="cap-socket-1")
        ws = connect(url)
        ws.send(json.dumps({"event": "metadata", "callId": "cap-socket-1"}))
        for _ in range(10):
            ws.send(b"\x01\x00" * 160)
            time.sleep(0.02)
        ws.close()

        def socket_record() -> dict | None:
            for path in capture.glob("*.jsonl"):
                for line in path.read_text().splitlines():
                    if (record := json.loads(line))["kind"] == "socket":
                        return record
            return None

        record = wait_for(socket_record, timeout=10)
    assert record["call_id"] == call_id_of(url)
    assert "Sec-Websocket-Key" in record["headers"] or "Sec-WebSocket-Key" in record["headers"]
    assert record["text_frames_in"][0]["text"] == '{"event": "metadata", "callId": "cap-socket-1"}'
    assert record["frames_in"] == 10 and record["frame_sizes"] == {"320": 10}
    assert sum(record["inter_arrival_ms"].values()) == 9
    assert record["closes"] and record["closes"][0]["code"] in (1000, 1005)
    webhooks = [json.loads(line) for p in capture.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert [w["path"] for w in webhooks if w["kind"] == "webhook"] == ["/webhooks/piopiy/answer"]
