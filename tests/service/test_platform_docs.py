"""Issue #20.8: the documented webhook bodies of both doc sets through a running service (gunicorn, gevent), their
effect on each call read back from the API; the capture it writes replays against a fresh service."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.documented import samples
from emulator.service import run_emulator, running_service
from tests.conftest import WEBHOOK_TOKEN, api_headers, base_config
from tests.support.platform_double import documented_call_placed
from tests.support.streaming import emulator_args, emulator_process, get_call, wait_for, write_script

HEADERS = api_headers()
BODIES = {s["name"]: s["body"] for docs in ("global", "india") for s in samples(docs)}


def hook(service: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{service}/webhooks/piopiy/{path}", params={"token": WEBHOOK_TOKEN}, json=body, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def inbound(service: str, cmiuuid: str) -> None:
    hook(service, "answer", {"from": 919876543210, "to": 919111111111, "time": 1725886117909, "cmiuuid": cmiuuid})


def call_by(service: str, platform_id: str) -> dict[str, Any]:
    """The call the platform knows by ``platform_id``, as the API shows it (its detail)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items = requests.get(f"{service}/api/v1/calls?per_page=100", headers=HEADERS, timeout=5).json()["items"]
        for item in items:
            detail = requests.get(f"{service}/api/v1/calls/{item['id']}", headers=HEADERS, timeout=5).json()
            if item["platform_id"] == platform_id or platform_id in {leg["platform_id"] for leg in detail["legs"]}:
                return detail
        time.sleep(0.1)
    raise AssertionError(f"no call known by {platform_id}")


def settled(service: str, platform_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (call := call_by(service, platform_id))["state"] != state and time.monotonic() < deadline:
        time.sleep(0.1)
    return call


def outcomes(service: str) -> dict[str, tuple]:
    items = requests.get(f"{service}/api/v1/calls?per_page=100", headers=HEADERS, timeout=5).json()["items"]
    return {c["platform_id"]: (c["state"], c["end_reason"], c["talk_seconds"], c["call_rate"]) for c in items}


def test_every_documented_body_through_the_running_service(tmp_path: Path, platform) -> None:
    capture = tmp_path / "capture"
    config = base_config(tmp_path, platform.url, PUBLIC_URL="auto", PLATFORM_CAPTURE=str(capture), VOICE_ENABLED="0")
    with running_service(config) as service:
        # inbound, global and India: missed CDRs, an answered CDR, hangups, answered events, stream events
        for name in ("cdr-in-missed-global-legA-v1", "cdr-in-missed-india", "cdr-in-answered-global-v1",
                     "cdr-in-answered-india", "live-in-hangup-global-v1", "live-in-hangup-india",
                     "live-in-answered-global", "stream-connected-global"):  # fmt: skip
            inbound(service, BODIES[name]["cmiuuid"])
        for name in ("cdr-in-missed-global-legA-v1", "cdr-in-missed-india"):
            hook(service, "events", BODIES[name])
            assert settled(service, BODIES[name]["cmiuuid"], "ended")["end_reason"] == "missed"
        for name, talk in (("cdr-in-answered-global-v1", 13.0), ("cdr-in-answered-india", 13.0)):
            for _ in range(2):  # the platform's retry: stored once
                hook(service, "events", BODIES[name])
            call = settled(service, BODIES[name]["cmiuuid"], "ended")
            assert call["end_reason"] == "completed" and call["talk_seconds"] == talk and call["answered_at"]
        assert call_by(service, BODIES["cdr-in-answered-global-v1"]["cmiuuid"])["balance"] == "878.900000"
        for name in ("live-in-hangup-global-v1", "live-in-hangup-india"):
            hook(service, "events", BODIES[name])
            assert settled(service, BODIES[name]["cmiuuid"], "ended")["end_reason"] == "hung_up"
        hook(service, "events", BODIES["live-in-answered-global"])
        answered = call_by(service, BODIES["live-in-answered-global"]["cmiuuid"])
        assert answered["state"] == "created" and answered["answered_at"] == "2024-09-09T12:48:37.909Z"
        for name in ("stream-connected-global", "stream-disconnected-global"):
            hook(service, "events", BODIES[name])
        streamed = call_by(service, BODIES["stream-connected-global"]["cmiuuid"])
        details = [e["detail"] for e in streamed["timeline"] if e["kind"] == "stream"]
        assert [d.get("code") for d in details] == [None, 1006] and streamed["handoff"] is None
        # outbound: placed through our API, the platform answering as documented; its events by request_id
        out_missed, out_live = BODIES["cdr-out-missed-global-legA-v2"], BODIES["live-out-started-global-legA"]
        for body in (out_missed, out_live):
            platform.answer_with(documented_call_placed(body["request_id"]))
            placed = requests.post(f"{service}/api/v1/calls", json={"to": "919876543210"}, headers=HEADERS, timeout=10)
            assert placed.status_code == 201, placed.text
        hook(service, "events", out_missed)
        assert settled(service, out_missed["request_id"], "ended")["end_reason"] == "missed"
        for name in ("live-out-started-global-legA", "live-out-started-global-legB", "live-out-answered-global-legA",
                     "live-out-answered-global-legB-bridged"):  # fmt: skip
            hook(service, "events", BODIES[name])
        both_legs = call_by(service, out_live["request_id"])
        assert both_legs["state"] == "created" and both_legs["answered_at"] == "2024-09-10T04:34:31.456Z"
        assert {leg["platform_id"] for leg in both_legs["legs"]} >= {
            out_live["cmiuuid"],
            "ade4153c-d8bd-4a62-bd6d-30774e0aa30a",
        }
        platform.answer_with((200, {"code": 502, "status": "error", "msg": "The property required is missing"}, 0))
        failed = requests.post(f"{service}/api/v1/calls", json={"to": "919876543210"}, headers=HEADERS, timeout=10)
        assert failed.status_code == 502 and "property required is missing" in failed.json()["message"]
        before = outcomes(service)
    # the capture: every webhook as received, no token; replayed against a fresh service, the same outcomes
    text = "".join(path.read_text() for path in capture.glob("*.jsonl"))
    assert WEBHOOK_TOKEN not in text and text.count('"kind": "webhook"') > 20
    fresh = base_config(tmp_path / "fresh", platform.url, PUBLIC_URL="auto", VOICE_ENABLED="0")
    with running_service(fresh) as service:
        replayed = emulator_process("replay", str(capture), "--service", service, "--token", WEBHOOK_TOKEN)
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout)["sent"] == text.count('"kind": "webhook"')
        after = outcomes(service)
    inbound_ones = {k: v for k, v in before.items() if k and not k.startswith(("S9U4", "GQqY"))}  # ours placed those
    assert {k: after.get(k) for k in inbound_ones} == inbound_ones


@pytest.mark.parametrize("docs", ["global", "india"])
def test_the_emulator_speaks_each_doc_set_and_retries_the_cdr_on_schedule(tmp_path: Path, docs: str) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED="0")
    script = write_script(tmp_path, {"steps": [{"tone": 400}], "linger": 0.3})
    with running_service(config) as service:
        started = time.monotonic()
        report = run_emulator(
            *emulator_args("call", service, script),
            "--json",
            "--docs",
            docs,
            "--live-events",
            "--cdr-repeat",
            "3",
            "--cdr-time-scale",
            "0.002",
        )  # fmt: skip  (0, 0.6, 1.8 s)
        assert time.monotonic() - started >= 1.8 and report["errors"] == []
        call = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c)
    events = [e["detail"]["kind"] for e in call["timeline"] if e["kind"] == "event"]
    live = "live.in_" if docs == "global" else "live."
    assert events == [f"{live}answered", f"{live}hangup", "in_answered"]  # the CDR delivered 3 times, stored once
    assert call["end_reason"] == "socket_closed"  # the stream's own end; neither hangup nor CDR rewrote it
    assert call["talk_seconds"] is not None and call["answered_at"] is not None
    streams = [e["detail"] for e in call["timeline"] if e["kind"] == "stream"]
    if docs == "global":  # only the global doc set documents stream events
        assert [s["status"] for s in streams] == ["connected", "disconnected"] and isinstance(streams[1]["code"], int)
        assert call["call_rate"] == "0.450000"
    else:
        assert streams == [] and call["call_rate"] is None
