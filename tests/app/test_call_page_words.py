"""The call page tells the story in words (#24.2, #24.3, #24.4): end reasons, events, turns not understood,
the transfer's state, empty states, agents that cannot hear."""

from __future__ import annotations

import html
import re
import time

import pytest

from app.dashboard.feed import feed_form
from app.services import bus, store
from streams.events import HandoffStarted, Note, StateChanged, TranscriptLine, Turn
from tests.app.test_dashboard import PASSWORD, dash_app, sign_in  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("dash_app")


@pytest.fixture
def client(dash_app):  # noqa: F811 - the dashboard's app, signed in
    client = dash_app.test_client()
    sign_in(client)
    return client


def softphone_call(app, events_of) -> str:
    """A softphone call (direction browser) that went through ``events_of(call_id)``."""
    with app.app_context():
        call = store().create(direction="browser", from_number=None, to_number=None, agent="demo-ko")
        for event in events_of(call["id"]):
            bus().publish(event)
    return call["id"]


def not_understood_then_handoff(call_id: str) -> list:
    now = time.time()
    turns = []
    for n, (text, ms) in enumerate([("", 1200), ("", 900), ("상담원", 700)], start=1):
        turns += [TranscriptLine(call_id=call_id, speaker="caller", text=text, at=now + n),
                  Turn(call_id=call_id, n=n, text=text, confidence=0.9 if text else 0.0, intent="human" if text
                       else None, miss=not text, speech_ms=ms, at=now + n + 0.01)]  # fmt: skip
    return [
        StateChanged(call_id=call_id, state="connecting", at=now),
        StateChanged(call_id=call_id, state="live", at=now + 0.1),
        *turns,
        HandoffStarted(call_id=call_id, numbers=["919000000003"], why="intent", at=now + 5),
        StateChanged(call_id=call_id, state="handed_off", at=now + 5.1),
        TranscriptLine(call_id=call_id, speaker="caller", text="", at=now + 6),  # after the handoff: no turn
        StateChanged(call_id=call_id, state="ended", reason="socket_closed", at=now + 8),
    ]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_an_ended_softphone_call_reads_as_sentences(dash_app, client) -> None:  # noqa: F811
    call_id = softphone_call(dash_app, not_understood_then_handoff)
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    words = text_of(page)
    assert "softphone call from the dashboard" in words and "from ?" not in words and "browser ·" not in words
    assert 'title="end reason: socket_closed"' in page
    assert "the platform closed the stream (the caller hung up, or the call moved on)" in words
    # turns heard but not understood: one line for the run, with how long the caller spoke; none empty
    lines = re.findall(r'<div class="line caller[^"]*"[^>]*><span class="who">caller</span>([^<]*)</div>', page)
    assert lines == ["(not understood, twice, 2.1 s of speech)", "상담원", "(not understood)"]
    # the Events card: sentences, the key/value details folded away
    events = page[page.index('id="timeline"') :]
    assert "The caller spoke for 1.2 s: not understood." in events and "The caller said “상담원”" in events
    assert "Transfer to 919000000003 (intent)." in events and "The call is transferred to a person." in events
    assert events.count("<details>") >= 5 and "miss: " not in events.split("<details>")[0]
    # the transfer ended with the call: never "ringing" on an ended call
    assert re.search(r'id="ring"[^>]*>transfer: the call ended before the platform said', page) or "ringing" not in page


def test_the_brief_on_the_page_counts_turns_not_understood(dash_app, client) -> None:  # noqa: F811
    def briefed(call_id: str) -> list:
        from streams.events import HandoffBriefed
        from streams.session.briefing import Memory, brief

        memory = Memory()
        for _ in range(2):
            memory.observe(TranscriptLine(call_id=call_id, speaker="caller", text=""))
        context = brief(memory, "misses", ["919000000003"])
        return [HandoffStarted(call_id=call_id, numbers=["919000000003"], why="misses"),
                HandoffBriefed(call_id=call_id, context=context),
                StateChanged(call_id=call_id, state="handed_off")]  # fmt: skip

    call_id = softphone_call(dash_app, briefed)
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    brief = page[page.index('id="brief"') :]
    assert "The caller spoke twice, not understood." in brief and "has not spoken yet" not in brief
    assert 'id="ring" title="transfer state: ringing">transfer: ringing' in brief  # still live: it rings


def test_the_live_feed_carries_the_sentence(dash_app) -> None:  # noqa: F811
    name, payload = feed_form(Note(call_id="c", what="socket.redialled", info={"attempt": 2}))
    assert name == "timeline" and payload["sentence"] == "The audio stream came back."
    name, payload = feed_form(StateChanged(call_id="c", state="ended", reason="no_stt"))
    assert payload["reason"] == "no_stt" and payload["reason_words"].startswith("no speech model")


def test_empty_states_are_sentences(client) -> None:
    page = client.get("/dashboard/calls").get_data(as_text=True)
    assert "No live calls right now." in page and "No calls yet." in page
    assert '<option value="browser" >softphone</option>' in page  # every stored direction filters, in words
    assert '<option value="handed_off" >transferred</option>' in page
    assert client.get("/dashboard/calls?direction=browser").status_code == 200


def test_the_agents_page_explains_the_rate_and_marks_an_agent_that_cannot_hear(make_app, tmp_path) -> None:
    app = make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, VOSK_MODEL_PATH="off")
    client = app.test_client()
    sign_in(client)
    page = client.get("/dashboard/agents").get_data(as_text=True)
    assert "165 words a minute" in page and "(165)" not in page
    assert page.count("cannot hear callers") == 2  # demo-en and demo-ko: no model at all here


def test_the_supervisor_form_explains_its_fields_and_stop_versus_hang_up(dash_app, client) -> None:  # noqa: F811
    with dash_app.app_context():
        call = store().create(direction="inbound", from_number="919876543210", to_number="919111111111",
                              agent="demo-ko", state="live")  # fmt: skip
    page = client.get(f"/dashboard/calls/{call['id']}").get_data(as_text=True)
    words = text_of(page)
    assert "the bot leaves the call; the call itself goes on on the platform" in words  # Stop stream
    assert "end the call for the caller" in words  # Hang up
    assert 'placeholder="ring seconds"' in page and 'placeholder="ring rounds"' in page
    assert "timeout: seconds each ring lasts; loop: how many rounds" in words
