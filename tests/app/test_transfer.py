"""A transfer's ring, unit by unit: the handoff's states, the backstop timer, what the platform says and when.

The call runs for real on the in-memory socket and the hand-driven clock
(tests/support/memsocket.py); the webhook tests go through the real Flask app.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.services import registry, store
from streams.errors import TransferInProgress
from streams.events import Note, StateChanged
from streams.session.handoff import Handoff
from streams.voice.dialogue import RetryOffer
from tests.conftest import hook_url
from tests.support.memory_call import FRAME, HUMAN, MemoryCall
from tests.support.memsocket import settle

GROUP = {**HUMAN, "numbers": ["919000000077", "919000000078"], "ring_type": "group"}


def ringing(h: MemoryCall) -> MemoryCall:
    h.live()
    h.call.handle("transfer", {}, "test")
    settle(0.05)  # no TTS here: no hold line, the bridge goes at once
    assert h.call.handoff.state == "ringing" and h.call.state == "handed_off"
    return h


def notes(h: MemoryCall, what: str) -> list[dict[str, Any]]:
    return [e.info for e in h.of(Note) if e.what == what]


def test_the_backstop_calls_a_silent_ring_unanswered_after_timeout_and_margin(harness) -> None:
    h = ringing(harness(agent={"human": {**HUMAN, "timeout": 20, "loop": 2, "ring_margin": 5}}))
    h.clock.advance(44)  # 20 s x 2 rounds + 5 s margin = 45 s: not yet
    h.sock.push(FRAME)  # any message wakes the reader, which checks the call's clocks
    settle()
    assert h.call.handoff.state == "ringing" and notes(h, "handoff.unanswered") == []
    h.clock.advance(2)
    h.sock.push(FRAME)
    assert h.call.wait_ended(2)  # no voice to take the caller back: the call ends rather than sit in silence
    assert notes(h, "handoff.unanswered") == [
        {"numbers": ["919000000077"], "by": "timer", "attempt": 1, "offers_left": 1}
    ]
    states = [(e.state, e.reason) for e in h.of(StateChanged)]
    assert states[-2:] == [("live", "handoff_unanswered"), ("ended", "handoff_unanswered")]


def test_repeats_and_late_words_from_the_platform_change_nothing(harness) -> None:
    h = ringing(harness())
    assert h.call.bridge_outcome("answered", leg="b-1") == "answered"
    assert h.call.bridge_outcome("answered", leg="b-1") == "ignored: bridged"  # a repeat
    assert h.call.bridge_outcome("unanswered", leg="b-1") == "ignored: bridged"  # a late CDR of the same leg
    h.clock.advance(3600)
    h.call.handoff.tick(h.clock())  # the backstop has nothing left to decide
    assert h.call.handoff.state == "bridged" and len(notes(h, "handoff.answered")) == 1
    assert notes(h, "handoff.unanswered") == [] and not h.call.ended


def test_a_group_ring_is_unanswered_only_when_every_leg_missed(harness) -> None:
    h = ringing(harness(agent={"human": GROUP}))
    assert h.call.bridge_outcome("unanswered", leg="b-1") == "missed 1 of 2 legs"
    assert h.call.bridge_outcome("unanswered", leg="b-1") == "missed 1 of 2 legs"  # the same leg twice: once
    assert h.call.handoff.state == "ringing"
    assert h.call.bridge_outcome("answered", leg="b-2") == "answered"  # the other phone was picked up
    assert h.call.bridge_outcome("unanswered", leg="b-2") == "ignored: bridged"


def test_a_leg_of_an_earlier_ring_never_settles_the_next() -> None:
    sent: list[Any] = []
    outcomes: list[tuple[str, dict[str, Any]]] = []
    handoff = Handoff(
        {**HUMAN, "retry_offers": 1},
        "919000000000",
        None,  # no hold line: the bridge goes at once
        say=lambda text, kind: None,
        wait_heard=lambda utterance: True,
        send=sent.append,
        spawn=lambda fn, *args: fn(*args),
        clock=lambda: 0.0,
        on_bridged=lambda numbers, why: None,
        on_failed=lambda why, error: None,
        on_outcome=lambda outcome, info: outcomes.append((outcome, info)),
    )
    handoff.begin()
    assert handoff.settle("unanswered", leg="b-1") == "unanswered" and handoff.state == "idle"
    handoff.begin(why="retry")  # the caller said yes
    assert handoff.settle("unanswered", leg="b-1") == "ignored: stale leg"  # the first ring's CDR, late
    assert handoff.state == "ringing" and len(sent) == 2
    with pytest.raises(TransferInProgress):
        handoff.begin()
    assert handoff.settle("unanswered", leg="b-2") == "unanswered"
    assert [(o, i["attempt"], i["offers_left"]) for o, i in outcomes] == [("unanswered", 1, 1), ("unanswered", 2, 0)]


def test_a_word_after_the_call_ended_is_ignored(harness) -> None:
    h = ringing(harness())
    h.sock.hang_up()
    assert h.call.wait_ended(2)
    assert h.call.bridge_outcome("answered") == "ignored: call ended"
    assert notes(h, "handoff.answered") == []


def test_the_retry_offer_hears_yes_no_and_unclear_answers() -> None:
    agent = {"language": "ko", "human": HUMAN, "goodbye": "안녕히 계세요.",
             "intents": [{"name": "human", "phrases": ["상담원"], "action": "transfer"}]}  # fmt: skip
    offer = RetryOffer(agent)
    assert offer.open(0).action == "hangup" and not offer.pending  # no offers left: goodbye at once
    assert offer.open(1).reply and offer.pending
    assert offer.answer("네", 0.9).action == "transfer" and not offer.pending
    offer.open(1)
    assert offer.answer("상담원", 0.9).reason == "retry"  # asking for a person again is a yes
    offer.open(1)
    declined = offer.answer("아니요", 0.9)
    assert (declined.action, declined.reason, declined.reply) == ("hangup", "no_answer_declined", "안녕히 계세요.")
    offer.open(1)
    assert offer.answer("네", 0.1).miss and offer.pending  # too unsure to act on: asked again
    assert offer.answer("음악", 0.9).action == "hangup"  # a second unclear answer: goodbye
    english = RetryOffer({"language": "en", "human": {**HUMAN, "retry_yes": ["go ahead"]}})
    english.open(1)
    assert english.answer("yes", 0.9).action is None  # the agent's own words replace the defaults
    assert english.answer("go ahead please", 0.9).action == "transfer"


# -- the events webhook -------------------------------------------------------------------------
def leg_b(conversation: str, status: str, leg: str = "leg-b-1", **extra: Any) -> dict[str, Any]:
    return {"type": "event", "leg": "b", "cmiuuid": leg, "conversation_uuid": conversation, "status": status,
            "direction": "outbound", "to": "919000000077", "time": 1764500000000, **extra}  # fmt: skip


def test_a_leg_b_event_for_an_unknown_call_is_stored_once_and_ignored(app, client) -> None:
    event = leg_b("no-such-conversation", "missed", type="cdr", hangup_reason="recv_cancel")
    first = client.post(hook_url("events"), json=event).get_json()["results"][0]
    again = client.post(hook_url("events"), json=event).get_json()["results"][0]
    assert first == {"call_id": None, "kind": "bridge.missed", "stored": True, "applied": "ignored: unknown call"}
    assert again["stored"] is False
    with app.app_context():
        assert store().list()[1] == 0  # a person's leg never makes a call of its own


def test_the_platform_word_reaches_the_live_call(app, client, harness) -> None:
    client.post(hook_url("answer"), json={"from": "919876543210", "to": "919111111111", "cmiuuid": "conv-1"})
    with app.app_context():
        call_id = store().find_by_platform_id("conv-1")["id"]
        h = ringing(harness(call_id=call_id))
        registry().add(h.call)
    missed = leg_b("conv-1", "missed", type="cdr", hangup_reason="recv_cancel")
    started = client.post(hook_url("events"), json=leg_b("conv-1", "started")).get_json()["results"][0]
    assert started["applied"] == "noted" and h.call.handoff.state == "ringing"
    result = client.post(hook_url("events"), json=missed).get_json()["results"][0]
    assert (result["call_id"], result["kind"], result["applied"]) == (call_id, "bridge.missed", "unanswered")
    again = client.post(hook_url("events"), json=missed).get_json()["results"][0]
    assert again["stored"] is False  # the platform's retry: stored once, applied once
    assert len(notes(h, "handoff.unanswered")) == 1
    with app.app_context():
        timeline = [(e["kind"], e["detail"].get("kind")) for e in store().timeline(call_id)]
        registry().remove(h.call)
    assert ("event", "bridge.started") in timeline and ("event", "bridge.missed") in timeline


# -- configuration: the agent's human section, the emulator's person ------------------------------
def test_the_agents_ring_settings_are_validated_with_field_messages(tmp_path) -> None:
    from app.agents.book import load_agents

    (tmp_path / "ok.yaml").write_text("name: ok\nlanguage: ko\nhuman: {numbers: ['919000000077']}\n")
    bad = "name: bad\nhuman: {numbers: ['9190000077'], ring_margin: -1, retry_offers: 9, offer_wait: 0, "
    bad += "retry_yes: []}\n"
    (tmp_path / "bad.yaml").write_text(bad)
    book = load_agents(tmp_path, "ok")
    human = book.get("ok")["human"]
    assert (human["ring_margin"], human["retry_offers"], human["offer_wait"]) == (10.0, 1, 8.0)  # the defaults
    assert book.get("ok")["no_answer_message"].endswith("다시 연결해 드릴까요?")  # in the agent's language
    [error] = book.errors
    assert error.file == "bad.yaml"
    assert set(error.errors["human"]) == {"ring_margin", "retry_offers", "offer_wait", "retry_yes"}


def test_the_emulators_person_is_checked_before_dialling() -> None:
    from emulator.script import ScriptError, parse_script

    script = parse_script({"steps": [], "human": ["no_answer", "answer"], "ring_seconds": 0.5})
    assert [script.human_for(n) for n in range(3)] == ["no_answer", "answer", "answer"]  # the last repeats
    assert parse_script({"steps": []}).human_for(0) == "answer"
    for bad in ("maybe", [], ["answer", "later"], 3):
        with pytest.raises(ScriptError, match="human: one of"):
            parse_script({"steps": [], "human": bad})


def test_the_ring_is_marked_on_the_handoff_lane() -> None:
    from app.dashboard.timeline import lanes

    def line(at: float, kind: str, **detail: Any) -> dict[str, Any]:
        return {"at": at, "kind": kind, "detail": detail}

    timeline = [
        line(100.0, "state", state="connecting"),
        line(105.0, "handoff", numbers=["919000000077"], why="intent"),
        line(106.0, "state", state="handed_off"),
        line(112.0, "handoff.unanswered", by="timer", attempt=1, offers_left=1),
        line(118.0, "handoff.retry", answer="네"),
        line(125.0, "handoff.answered", by="platform", attempt=2),
    ]
    marks = [(lane, at, label) for lane, at, label in lanes(timeline).marks if lane == "handoff"]
    assert [(at, label) for _, at, label in marks] == [
        (5.0, "transfer started"),
        (6.0, "transferred"),
        (12.0, "nobody answered (no word from the platform)"),
        (18.0, "caller asked to try again"),
        (25.0, "a person answered"),
    ]
