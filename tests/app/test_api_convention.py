"""One API convention (#24.5): ISO 8601 times everywhere, created ≤ answered ≤ ended, every stored direction
filterable, and a clear 503 when outbound calls cannot be placed for lack of Piopiy credentials."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest

from app.services import bus, store
from streams.events import HandoffStarted, Spoken, StateChanged, Turn
from tests.conftest import api_headers, hook_url

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def inbound(client, cmiuuid: str) -> str:
    pcmo = client.post(hook_url("answer"), json={"from": 919876543210, "to": 919111111111, "cmiuuid": cmiuuid})
    return urlparse(pcmo.get_json()[0]["ws_url"]).path.rsplit("/", 1)[1]


def shown(client, call_id: str) -> dict:
    return client.get(f"/api/v1/calls/{call_id}", headers=api_headers()).get_json()


def in_order(call: dict) -> bool:
    times = [call[k] for k in ("created_at", "answered_at", "ended_at") if call[k] is not None]
    return times == sorted(times)


def test_a_handoffs_time_is_iso_8601_and_its_ringing_ends_with_the_call(app, client) -> None:
    call_id = inbound(client, "handoff-1")
    with app.app_context():
        bus().publish(HandoffStarted(call_id=call_id, numbers=["919000000001"], why="asked for a person"))
        bus().publish(StateChanged(call_id=call_id, state="handed_off"))
    ringing = shown(client, call_id)["handoff"]
    assert ringing["state"] == "ringing" and ringing["attempts"] == 1
    assert isinstance(ringing["at"], str)
    assert re.fullmatch(ISO, ringing["at"]), ringing["at"]
    with app.app_context():
        bus().publish(StateChanged(call_id=call_id, state="ended", reason="socket_closed"))
    ended = shown(client, call_id)
    assert ended["state"] == "ended" and ended["handoff"]["state"] == "ended"  # never `ringing` on an ended call
    listed = client.get("/api/v1/calls", headers=api_headers()).get_json()["items"][0]
    assert listed["handoff"]["state"] == "ended" and listed["handoff"]["at"] == ringing["at"]


def test_an_answer_time_before_the_call_was_created_moves_created_at_back(client) -> None:
    """The platform's clock is behind ours: its answer time is kept (what it bills), created_at moves to it."""
    call_id = inbound(client, "skew-early")
    before = shown(client, call_id)["created_at"]
    early = time.time() - 3.0
    client.post(hook_url("events"), json={"type": "in_answered", "cmiuuid": "skew-early", "answered_time": early})
    call = shown(client, call_id)
    assert call["answered_at"] < before and call["created_at"] == call["answered_at"]
    assert in_order(call)


def test_an_answer_time_after_the_end_moves_ended_at_forward(client) -> None:
    """A late CDR from a clock ahead of ours: ended_at (ours) moves to the answer time, never before it."""
    call_id = inbound(client, "skew-late")
    client.post(hook_url("events"), json={"type": "in_missed", "cmiuuid": "skew-late"})  # ends it now
    ended = shown(client, call_id)
    assert ended["state"] == "ended" and ended["ended_at"] is not None and ended["answered_at"] is None
    ahead = time.time() + 60.0
    cdr = {"type": "cdr", "status": "answered", "cmiuuid": "skew-late", "direction": "inbound",
           "answer_time": ahead, "end_time": ahead + 5, "duration": 5}  # fmt: skip
    client.post(hook_url("events"), json=cdr)
    call = shown(client, call_id)
    assert call["answered_at"] > ended["ended_at"] and call["ended_at"] == call["answered_at"]
    assert in_order(call)


def test_an_answer_time_ahead_of_the_end_makes_the_end_wait_for_it(client) -> None:
    """Answered (platform clock ahead) while live, then ended by us: ended_at is not before answered_at."""
    call_id = inbound(client, "skew-ahead")
    ahead = {"type": "in_answered", "cmiuuid": "skew-ahead", "answered_time": time.time() + 30}
    client.post(hook_url("events"), json=ahead)
    client.post(hook_url("events"), json={"type": "in_missed", "cmiuuid": "skew-ahead"})
    call = shown(client, call_id)
    assert call["state"] == "ended" and in_order(call)


def test_times_inside_the_timeline_and_turns_are_iso_8601_too(app, client) -> None:
    call_id = inbound(client, "inner-times")
    spoke = time.time()
    with app.app_context():
        bus().publish(Turn(call_id=call_id, n=1, text="네", confidence=0.9, intent="yes", ended_at=spoke))
        bus().publish(Spoken(call_id=call_id, utterance=1, line_kind="reply", text="네.", started_at=spoke + 1, ms=500))
    call = shown(client, call_id)
    [turn] = call["turns"]
    assert re.fullmatch(ISO, turn["ended_at"]) and turn["n"] == 1
    [spoken] = [e for e in call["timeline"] if e["kind"] == "spoken"]
    assert re.fullmatch(ISO, spoken["detail"]["started_at"]) and spoken["detail"]["ms"] == 500


@pytest.mark.parametrize("direction", ["inbound", "outbound", "browser"])
def test_every_stored_direction_is_filterable(app, client, direction) -> None:
    with app.app_context():
        for stored in ("inbound", "outbound", "browser"):
            store().create(direction=stored, from_number=None, to_number=None, agent="demo-en")
    response = client.get(f"/api/v1/calls?direction={direction}", headers=api_headers())
    assert response.status_code == 200, response.get_json()
    assert [c["direction"] for c in response.get_json()["items"]] == [direction]


def test_an_unknown_direction_is_still_a_400_naming_the_choices(client) -> None:
    response = client.get("/api/v1/calls?direction=sideways", headers=api_headers())
    assert response.status_code == 400
    assert "browser" in str(response.get_json()["errors"]["direction"])


@pytest.mark.parametrize(
    ("version", "unset", "missing"),
    [
        ("v2", {"PIOPIY_APP_ID": "", "PIOPIY_APP_SECRET": ""}, ["PIOPIY_APP_ID", "PIOPIY_APP_SECRET"]),
        ("v2", {"PIOPIY_APP_SECRET": ""}, ["PIOPIY_APP_SECRET"]),
        ("v3", {"PIOPIY_TOKEN": ""}, ["PIOPIY_TOKEN"]),
    ],
)
def test_outbound_without_piopiy_credentials_is_a_503_naming_them_and_stores_nothing(
    make_app, platform, version, unset, missing
) -> None:
    app = make_app(CALLSTREAM_ENV="development", PIOPIY_API_VERSION=version, **unset)
    client = app.test_client()
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers(app.config["API_KEY"]))
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "platform_not_configured" and body["errors"] == {"settings": missing}
    assert all(name in body["message"] for name in missing)
    assert platform.requests == []  # nothing was sent
    listed = client.get("/api/v1/calls", headers=api_headers(app.config["API_KEY"])).get_json()
    assert listed["total"] == 0  # and no failed call stored
