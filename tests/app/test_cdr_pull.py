"""Issue #20.4: a call a lost webhook left ``created`` is settled by TeleCMI's documented CDR pull API."""

from __future__ import annotations

import time

import pytest

from app.services import store
from app.webhooks import pull
from tests.conftest import api_headers, hook_url
from tests.support.platform_double import (
    NOT_FOUND,
    PlatformDouble,
    documented_call_placed,
    documented_cmiuuid_cdr,
    documented_request_id_cdr,
)

LATER = 3600.0  # "now" for the sweep: long past SWEEP_AFTER


@pytest.fixture
def app(make_app):
    return make_app(SWEEP_AFTER=60.0)


def inbound(client, cmiuuid: str) -> str:
    client.post(hook_url("answer"), json={"from": 919876543210, "to": 919111111111, "cmiuuid": cmiuuid})
    with client.application.app_context():
        return store().find_by_platform_id(cmiuuid)["id"]


def shown(client, call_id: str) -> dict:
    return client.get(f"/api/v1/calls/{call_id}", headers=api_headers()).get_json()


def test_a_missed_inbound_call_is_ended_by_its_pulled_cdr(app, client, platform: PlatformDouble) -> None:
    call_id = inbound(client, "in-lost-1")
    assert pull.sweep(app) == []  # not old enough yet: nothing asked
    assert platform.requests == []
    platform.answer_with(documented_cmiuuid_cdr("missed"))
    [result] = pull.sweep(app, now=time.time() + LATER)
    assert result["call_id"] == call_id and result["kind"] == "in_missed"
    [asked] = platform.requests
    assert asked.path == "/v1/piopiy/cmiuuid_cdr"
    assert asked.body == {"appid": 4444444, "secret": "app-secret-never-logged", "cmiuuid": "in-lost-1"}
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "missed"
    assert pull.sweep(app, now=time.time() + LATER) == [] and len(platform.requests) == 1  # settled: not asked again


def test_an_unanswered_outbound_call_is_settled_by_request_id_with_its_cost(app, client, platform) -> None:
    platform.answer_with(documented_call_placed("req-lost-2"))
    call_id = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers()).get_json()["call"]["id"]
    platform.answer_with(documented_request_id_cdr("answered", duration=10))
    [result] = pull.sweep(app, now=time.time() + LATER)
    assert result["call_id"] == call_id and result["kind"] == "out_answered"
    assert platform.requests[-1].path == "/v1/piopiy/requestid_cdr"
    assert platform.requests[-1].body["request_id"] == "req-lost-2"
    call = shown(client, call_id)
    assert call["state"] == "ended" and call["end_reason"] == "completed"
    assert call["talk_seconds"] == 10.0 and call["call_rate"] == "0.39" and call["balance"] == "1134.75"  # leg a's


def test_a_call_the_platform_does_not_know_yet_is_asked_again_later(app, client, platform) -> None:
    call_id = inbound(client, "in-lost-3")
    platform.answer_with(NOT_FOUND)
    assert pull.sweep(app, now=time.time() + LATER) == []
    platform.answer_with((503, {"error": "down"}, 0))
    assert pull.sweep(app, now=time.time() + LATER) == []  # an outage: logged, the call left as it is
    assert shown(client, call_id)["state"] == "created"
    platform.answer_with(documented_cmiuuid_cdr("answered", duration=7))
    pull.sweep(app, now=time.time() + LATER)
    call = shown(client, call_id)
    assert call["end_reason"] == "completed" and call["talk_seconds"] == 7.0


def test_the_pulled_cdr_and_the_late_webhook_agree(app, client, platform) -> None:
    call_id = inbound(client, "in-lost-4")
    platform.answer_with(documented_cmiuuid_cdr("answered", duration=9))
    pull.sweep(app, now=time.time() + LATER)
    before = shown(client, call_id)
    late = {"type": "cdr", "status": "answered", "direction": "inbound", "leg": "a", "cmiuuid": "in-lost-4",
            "duration": 9, "balance": "40.0", "call_rate": "1.5", "time": 1637124352000}  # fmt: skip
    client.post(hook_url("events"), json=late)
    after = shown(client, call_id)
    keys = ("state", "end_reason", "ended_at", "answered_at", "talk_seconds", "balance")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


def test_sweep_after_zero_never_asks(make_app, platform) -> None:
    app = make_app(SWEEP_AFTER=0)
    inbound(app.test_client(), "in-lost-5")
    assert pull.sweep(app, now=time.time() + LATER) == [] and platform.requests == []


def test_a_call_the_platform_never_knows_is_ended_after_the_give_up_time(make_app, platform) -> None:
    app = make_app(SWEEP_AFTER=60.0, SWEEP_GIVE_UP=7200.0)
    client = app.test_client()
    known = inbound(client, "in-stale-1")
    with app.app_context():
        orphan = store().create(direction="inbound", from_number=None, to_number=None)["id"]  # no id to ask by
    platform.answer_with(NOT_FOUND)
    assert pull.sweep(app, now=time.time() + LATER) == []  # within the give-up time: asked, kept
    platform.answer_with((503, {"error": "down"}, 0))
    assert [r["call_id"] for r in pull.sweep(app, now=time.time() + 8000)] == [orphan]  # an outage ends no call asked
    assert shown(client, known)["state"] == "created"
    platform.answer_with(NOT_FOUND)
    assert [r["call_id"] for r in pull.sweep(app, now=time.time() + 8000)] == [known]
    for call_id in (known, orphan):
        call = shown(client, call_id)
        assert call["state"] == "ended" and call["end_reason"] == "unknown_to_platform"
