"""Issue #20: every webhook body TeleCMI documents (global and India doc sets), posted as documented, through the
real Flask app, with its effect on the call checked. The samples are the docs' own (emulator/samples/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from app.services import bus, store
from streams.events import StateChanged
from tests.conftest import ROOT, api_headers, hook_url
from tests.support.platform_double import PlatformDouble

SAMPLES = {
    docs: {s["name"]: s for s in json.loads(Path(ROOT / "emulator" / "samples" / f"webhooks-{docs}.json").read_text())}
    for docs in ("global", "india")
}


def body(name: str) -> dict[str, Any]:
    docs = "india" if name.endswith("-india") else "global"
    return dict(SAMPLES[docs][name]["body"])


def inbound(client, cmiuuid: str) -> str:
    """An inbound call as the answer webhook makes it; its id."""
    pcmo = client.post(hook_url("answer"), json={"from": 919876543210, "to": 919111111111, "cmiuuid": cmiuuid})
    return urlparse(pcmo.get_json()[0]["ws_url"]).path.rsplit("/", 1)[1]


def outbound(client, platform: PlatformDouble, request_id: str) -> str:
    """An outbound call placed through our API, the platform answering as documented; its id."""
    documented = {"data": {"status": "progress", "request_id": request_id}, "status": "progress",
                  "request_id": request_id, "code": 200}  # fmt: skip
    platform.answer_with((200, documented, 0))
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()["call"]["id"]


def post(client, event: dict[str, Any]) -> dict[str, Any]:
    response = client.post(hook_url("events"), json=event)
    assert response.status_code == 200
    return response.get_json()["results"][0]


def shown(client, call_id: str) -> dict[str, Any]:
    return client.get(f"/api/v1/calls/{call_id}", headers=api_headers()).get_json()


# -- CDRs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["cdr-in-missed-global-legA-v1", "cdr-in-missed-global-legA-v2", "cdr-in-missed-india"]
)
def test_a_missed_inbound_cdr_ends_the_call_as_missed(client, name) -> None:
    event = body(name)
    call_id = inbound(client, event["cmiuuid"])
    result = post(client, event)
    assert (result["call_id"], result["kind"]) == (call_id, "in_missed")
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "missed"


@pytest.mark.parametrize("name", ["cdr-out-missed-global-legA-v1", "cdr-out-missed-global-legA-v2"])
def test_a_missed_outbound_cdr_found_by_request_id_ends_the_call(client, platform, name) -> None:
    event = body(name)
    call_id = outbound(client, platform, event["request_id"])
    result = post(client, event)
    assert (result["call_id"], result["kind"]) == (call_id, "out_missed")
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "missed"
    assert {"platform_id": event["cmiuuid"], "leg": "a"} in call["legs"]  # found later by this leg's cmiuuid too
    with client.application.app_context():
        assert store().find_by_platform_id(event["cmiuuid"])["id"] == call_id


def test_an_answered_global_cdr_stores_answer_time_talk_time_and_cost(client) -> None:
    event = body("cdr-in-answered-global-v1")
    call_id = inbound(client, event["cmiuuid"])
    post(client, event)
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "completed"
    assert call["answered_at"] == "2021-09-22T13:48:35.000Z"  # answer_time, epoch seconds
    assert call["talk_seconds"] == 13.0  # end_time - answer_time (== the documented duration)
    assert call["billed_seconds"] == 13.0 and call["call_rate"] == "0.450000" and call["balance"] == "878.900000"
    listed = client.get("/api/v1/calls", headers=api_headers()).get_json()["items"][0]
    assert listed["talk_seconds"] == 13.0 and listed["call_rate"] == "0.450000"


@pytest.mark.parametrize(
    ("name", "answered", "talk"),
    [("cdr-in-answered-india", "2021-09-22T13:48:31.000Z", 13.0), ("cdr-out-answered-india", None, 8.0)],
)
def test_an_answered_india_cdr_without_times_uses_time_and_duration(client, platform, name, answered, talk) -> None:
    event = body(name)
    if event["direction"] == "inbound":
        call_id = inbound(client, event["cmiuuid"])
    else:
        call_id = outbound(client, platform, event["request_id"])
    post(client, event)
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "completed"
    assert call["answered_at"] == (answered or "2021-11-17T04:14:31.000Z") and call["talk_seconds"] == talk
    assert call["call_rate"] is None and call["balance"] is None  # the India pages carry no cost fields


def test_cdr_retries_change_nothing_the_second_time(client) -> None:
    event = body("cdr-in-answered-global-v1")
    call_id = inbound(client, event["cmiuuid"])
    results = [post(client, event) for _ in range(4)]  # 0, 5, 15, 30 minutes: the same body each time
    assert [r["stored"] for r in results] == [True, False, False, False]
    first = shown(client, call_id)
    pulled = {**event, "balance": "1.000000", "time": event["time"] + 1}  # the same CDR, read back another way
    assert "stored" not in post(client, pulled)["applied"]
    again = shown(client, call_id)
    assert {k: again[k] for k in ("answered_at", "talk_seconds", "balance", "end_reason", "ended_at")} == {
        k: first[k] for k in ("answered_at", "talk_seconds", "balance", "end_reason", "ended_at")
    }
    timeline = [e["detail"].get("state") for e in again["timeline"] if e["kind"] == "state"]
    assert timeline.count("ended") == 1


def test_a_late_cdr_enriches_an_ended_call_without_rewriting_how_it_ended(client) -> None:
    event = body("cdr-in-answered-global-v1")
    call_id = inbound(client, event["cmiuuid"])
    with client.application.app_context():
        bus().publish(StateChanged(call_id=call_id, state="ended", reason="caller_hangup"))
    before = shown(client, call_id)
    assert before["end_reason"] == "caller_hangup" and before["talk_seconds"] is None
    post(client, event)
    after = shown(client, call_id)
    assert after["end_reason"] == "caller_hangup" and after["ended_at"] == before["ended_at"]
    assert after["talk_seconds"] == 13.0 and after["balance"] == "878.900000"


@pytest.mark.parametrize("name", ["cdr-in-missed-global-legB-v2-PARTIAL", "cdr-out-missed-global-legB-v2-PARTIAL"])
def test_a_truncated_leg_b_cdr_is_kept_and_never_makes_a_call(client, name) -> None:
    result = post(client, body(name))  # the docs' leg-B tabs cut off before cmiuuid, leg and status
    assert result["kind"] == "cdr.unknown" and result["applied"] == "ignored: unknown call"
    leg_b = post(client, {**body(name), "cmiuuid": "leg-b-x", "leg": "b", "status": "missed"})
    assert leg_b["kind"] == "bridge.missed" and leg_b["applied"] == "ignored: unknown call"
    assert client.get("/api/v1/calls", headers=api_headers()).get_json()["total"] == 0


# -- live events -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["live-in-hangup-global-v1", "live-in-hangup-india"])
def test_a_hangup_event_ends_a_call_that_is_not_streaming(client, name) -> None:
    event = body(name)
    call_id = inbound(client, event["cmiuuid"])
    post(client, event)
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "hung_up"


def test_an_outbound_hangup_event_ends_the_call_found_by_request_id(client, platform) -> None:
    event = {**body("live-out-answered-global-legA"), "status": "out_hangup"}
    call_id = outbound(client, platform, event["request_id"])
    post(client, event)
    assert shown(client, call_id)["end_reason"] == "hung_up"


@pytest.mark.parametrize(
    ("name", "answered"),
    [("live-in-answered-global", "2024-09-09T12:48:37.909Z"), ("live-in-answered-india", "2019-10-14T08:24:01.000Z")],
)
def test_an_answered_event_stores_the_answer_time_and_ends_nothing(client, name, answered) -> None:
    event = body(name)
    call_id = inbound(client, event["cmiuuid"])
    post(client, event)
    call = shown(client, call_id)
    assert call["state"] == "created" and call["answered_at"] == answered  # time: epoch milliseconds


def test_outbound_live_events_of_both_legs_find_the_call(client, platform) -> None:
    started_a, started_b = body("live-out-started-global-legA"), body("live-out-started-global-legB")
    answered_a, bridged_b = body("live-out-answered-global-legA"), body("live-out-answered-global-legB-bridged")
    call_id = outbound(client, platform, started_a["request_id"])
    results = [post(client, e) for e in (started_a, started_b, answered_a, bridged_b)]
    assert {r["call_id"] for r in results} == {call_id}
    assert [r["kind"] for r in results] == ["live.out_started", "bridge.out_started", "live.out_answered",
                                            "bridge.out_bridged"]  # fmt: skip
    call = shown(client, call_id)
    assert call["state"] == "created" and call["answered_at"] == "2024-09-10T04:34:31.456Z"
    assert {leg["platform_id"] for leg in call["legs"]} >= {started_a["cmiuuid"], started_b["cmiuuid"]}


@pytest.mark.parametrize("name", ["live-out-started-india", "live-out-ringing-india"])
def test_india_outbound_progress_events_are_noted(client, name) -> None:
    event = body(name)
    with client.application.app_context():
        call = store().create(direction="outbound", from_number="4471000000", to_number="9100000000",
                              platform_id=event["cmiuuid"])  # fmt: skip
    result = post(client, event)
    assert result["call_id"] == call["id"] and result["kind"] == f"live.{event['status']}"
    shown_call = shown(client, call["id"])
    assert shown_call["state"] == "created"
    assert ("event", f"live.{event['status']}") in [
        (e["kind"], e["detail"].get("kind")) for e in shown_call["timeline"]
    ]


# -- stream events (the stream is the call's leg b) -----------------------------------------------
def test_stream_events_go_on_the_timeline_with_close_code_and_never_ring_a_transfer(client) -> None:
    connected, disconnected = body("stream-connected-global"), body("stream-disconnected-global")
    call_id = inbound(client, connected["cmiuuid"])
    results = [post(client, connected), post(client, disconnected)]
    assert [r["kind"] for r in results] == ["stream.connected", "stream.disconnected"]
    assert all(r["call_id"] == call_id and r["applied"] == "noted" for r in results)
    call = shown(client, call_id)
    streams = [e["detail"] for e in call["timeline"] if e["kind"] == "stream"]
    assert streams[0] == {"status": "connected", "leg": "b", "ws_state": "connected"}
    assert streams[1] == {"status": "disconnected", "leg": "b", "ws_state": "disconnected", "code": 1006,
                          "reason": "Abnormal closure"}  # fmt: skip
    assert not [e for e in call["timeline"] if str(e["detail"].get("kind", "")).startswith("bridge.")]
    assert call["handoff"] is None and call["state"] == "created"


# -- answer URL and input callback ------------------------------------------------------------------
def test_the_documented_answer_body_makes_an_inbound_call(client) -> None:
    event = body("answer-url-global-inbound")
    pcmo = client.post(hook_url("answer"), json=event).get_json()
    assert [a["action"] for a in pcmo] == ["stream"]
    with client.application.app_context():
        call = store().find_by_platform_id(event["cmiuuid"])
    assert call["direction"] == "inbound" and call["from_number"] == "19170000001"


@pytest.mark.parametrize("name", ["input-dtmf-global", "input-dtmf-with-param-global"])
def test_the_documented_input_callback_reaches_the_menu(client, name) -> None:
    pcmo = client.post(hook_url("answer"), json={"from": 919876543210, "to": 918000000002, "cmiuuid": "menu-d"})
    call_id = urlparse(pcmo.get_json()[0]["action_url"]).path.rsplit("/", 1)[1]
    event = {**body(name), "dtmf": "1"}
    actions = client.post(hook_url(f"input/{call_id}"), json=event).get_json()
    assert [a["action"] for a in actions] == ["stream"]
    with client.application.app_context():
        assert [e["detail"]["choice"] for e in store().timeline(call_id) if e["kind"] == "dtmf"] == ["bot"]


def test_a_cdr_number_too_large_for_a_float_is_ignored_not_a_500(client) -> None:
    call_id = inbound(client, "huge-1")
    huge = 10**400  # valid JSON; float() of it overflows
    event = {"type": "cdr", "status": "answered", "cmiuuid": "huge-1", "duration": huge, "answer_time": huge,
             "end_time": huge, "time": 1632318511000}  # fmt: skip
    response = client.post(hook_url("events"), data=json.dumps(event), content_type="application/json")
    assert response.status_code == 200
    call = shown(client, call_id)
    assert call["end_reason"] == "completed" and call["talk_seconds"] is None and call["billed_seconds"] is None
