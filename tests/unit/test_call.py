"""The call and its media link, driven directly: an in-memory socket, a hand-driven clock, no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gevent
import pytest
from marshmallow import ValidationError

from streams.errors import (
    AlreadyHandedOff,
    BadMedia,
    CallNotLive,
    CommandUnavailable,
    NoTransferTarget,
    TransferInProgress,
)
from streams.events import CallEnded, CallEvent, EventBus, HandoffStarted, Interrupted, Note, StateChanged
from streams.playback import Utterance
from streams.session import commands
from tests.support.memory_call import FRAME, HUMAN
from tests.support.memsocket import MemorySocket, settle

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_frame_makes_the_call_live_and_states_are_published(harness) -> None:
    h = harness()
    assert h.call.state == "connecting"
    h.live()
    assert [(e.state, e.info) for e in h.of(StateChanged)] == [("connecting", {"rate": 8000}), ("live", {})]
    assert h.link.counters["frames_in"] == 1


def test_audio_is_paced_on_the_playback_clock(harness) -> None:
    h = harness().live()
    one_second = Utterance(text="music", kind="music", pcm=bytearray(b"\x02\x00" * 8000))
    h.link.enqueue(one_second)

    def sent_ms() -> int:
        h.link.wake()
        settle()
        return 100 * len(h.sock.audio())  # 100 ms chunks

    def play_for(seconds: float) -> None:  # time passes in 20 ms steps, as it does for the writer
        for _ in range(round(seconds / 0.02)):
            h.clock.advance(0.02)
            sent_ms()

    assert 200 <= sent_ms() <= 300  # never more than lead_ms (200) ahead of what was heard
    assert not h.link.heard(one_second)
    play_for(0.5)
    assert 700 <= sent_ms() <= 800
    play_for(0.4)
    assert sent_ms() == 1000 and not h.link.heard(one_second)  # all sent, not all heard yet
    play_for(0.12)
    assert h.link.heard(one_second)


def test_break_goes_ahead_of_queued_audio_and_says_what_was_heard(harness) -> None:
    h = harness().live()
    h.link.enqueue(Utterance(text="one two three four", kind="reply", pcm=bytearray(b"\x02\x00" * 8000)))
    settle()
    h.play_for(0.24)
    result = h.call.handle("break", {}, "test")
    settle()
    assert h.sock.controls()[-1] == {"action": "break"}
    cut = result["cuts"][0]
    assert cut["heard_ms"] == 240 and cut["total_ms"] == 1000 and cut["heard_text"] == "one"
    assert h.of(Interrupted)[0].why == "supervisor"
    sent = len(h.sock.audio())
    h.clock.advance(2)
    h.link.wake()
    settle()
    assert len(h.sock.audio()) == sent  # nothing queued survives a break


def test_pause_holds_audio_until_resume(harness) -> None:
    h = harness().live()
    h.call.handle("pause", {}, "test")
    h.link.enqueue(Utterance(text="x", pcm=bytearray(b"\x02\x00" * 1600)))
    settle()
    assert h.sock.controls() == [{"action": "pause"}] and h.sock.audio() == []
    h.call.handle("resume", {}, "test")
    settle()
    assert h.sock.controls()[-1] == {"action": "resume"} and len(h.sock.audio()) == 2


def test_a_command_to_an_ended_call_is_refused_with_its_own_code(harness) -> None:
    h = harness().live()
    h.call.end("test_over")
    with pytest.raises(CallNotLive) as refused:
        h.call.handle("pause", {}, "test")
    assert (refused.value.status, refused.value.code) == (409, "call_not_live")


def test_say_without_text_to_speech_is_501(harness) -> None:
    h = harness().live()
    with pytest.raises(CommandUnavailable) as refused:
        h.call.handle("say", {"text": "hi"}, "test")
    assert refused.value.status == 501


def test_a_failed_transfer_does_not_block_the_next(harness) -> None:
    h = harness(agent={}).live()  # an agent with no people to call
    with pytest.raises(NoTransferTarget) as refused:
        h.call.handle("transfer", {}, "test")
    assert refused.value.status == 422 and h.call.handoff.state == "idle"
    result = h.call.handle("transfer", {"numbers": ["919000000088"]}, "test")
    assert result == {"queued": "transfer", "numbers": ["919000000088"]}
    settle(0.05)
    bridge = h.sock.controls()[-1]
    assert bridge[0]["action"] == "bridge" and bridge[0]["connect"] == [{"type": "pstn", "number": 919000000088}]
    assert h.call.state == "handed_off"


def test_two_transfers_racing_never_end_the_call(harness) -> None:
    h = harness().live()
    h.call.handle("transfer", {}, "api")
    with pytest.raises(TransferInProgress):
        h.call.handle("transfer", {}, "dashboard")
    with pytest.raises(TransferInProgress):
        h.call.hand_off("no_stt")  # the voice pipeline's own transfer, racing the REST one
    settle(0.05)
    with pytest.raises(TransferInProgress):  # the bridge is out and ringing
        h.call.handle("transfer", {}, "api")
    assert h.call.bridge_outcome("answered") == "answered"
    with pytest.raises(AlreadyHandedOff):
        h.call.handle("transfer", {}, "api")
    assert not h.call.ended and h.call.state == "handed_off"
    assert len(h.of(HandoffStarted)) == 1
    assert sum(1 for m in h.sock.controls() if isinstance(m, list) and m[0]["action"] == "bridge") == 1
    h.sock.push(FRAME)  # the stream stays open after the handoff: a supervisor can listen
    settle()
    assert h.link.counters["frames_in"] == 2


def test_idle_calls_end_with_a_hangup_and_a_normal_close(harness) -> None:
    h = harness(idle_timeout=5).live()
    h.clock.advance(6)
    h.sock.push(b"\x01")  # any message wakes the reader, which checks the limits
    assert h.call.wait_ended(2)
    assert h.sock.controls()[-1] == [{"action": "hangup"}]
    assert (h.sock.close_code, h.sock.close_reason) == (1000, "idle_timeout")
    ended = h.of(CallEnded)[0]
    assert ended.reason == "idle_timeout" and ended.stats["dropped"] == {"odd_frame": 1}
    assert h.of(StateChanged)[-1].state == "ended"


def test_the_close_frame_says_why_even_while_the_caller_keeps_talking(harness) -> None:
    h = harness().live()

    def caller() -> None:
        for _ in range(100):
            h.sock.push(FRAME)
            gevent.sleep(0.001)

    talking = gevent.spawn(caller)
    h.call.handle("hangup", {}, "test")  # ends from another greenlet, while the reader is busy
    assert h.call.wait_ended(2)
    talking.kill()
    assert (h.sock.close_code, h.sock.close_reason) == (1000, "hangup_requested")


def test_the_peer_closing_ends_the_call_without_a_hangup(harness) -> None:
    h = harness().live()
    h.sock.hang_up()
    assert h.call.wait_ended(2)
    assert h.call.end_reason == "socket_closed" and [{"action": "hangup"}] not in h.sock.controls()


def test_a_second_socket_replaces_the_first(harness) -> None:
    h = harness().live()
    second = MemorySocket()
    h.call.attach(second)
    assert h.sock.close_code == 4001
    assert [e.what for e in h.of(Note)] == ["socket.replaced"]
    h.call.handle("pause", {}, "test")
    settle()
    assert second.controls() == [{"action": "pause"}]


def test_bad_frames_are_counted_and_the_call_goes_on(harness) -> None:
    h = harness().live()
    deep = "[" * 5000 + "]" * 5000  # nested past Python's recursion limit
    for bad in (b"", b"\x01\x02\x03", b"\x00" * 40000, "not json", deep, '"' + "x" * 40000 + '"', "[1, 2]"):
        h.sock.push(bad)
    h.sock.push(json.dumps({"event": "media", "blob": "x" * 10000}))
    h.sock.push(FRAME)
    settle()
    assert not h.call.ended and h.link.counters["frames_in"] == 2
    assert h.link.stats()["dropped"] == {
        "empty_frame": 1,
        "odd_frame": 1,
        "oversized_frame": 1,
        "oversized_text": 1,
        "malformed_text": 2,
        "unexpected_json": 1,
    }
    stored = [e for e in h.of(Note) if e.what == "stream.event"][0].info
    assert stored["kind"] == "media" and stored["data"]["truncated"] is True  # not 10 kB on the timeline


def test_play_in_pcmo_mode_sends_our_quoted_url_and_refuses_paths(harness) -> None:
    h = harness().live()
    h.call.handle("play", {"file": "hold.wav", "mode": "pcmo"}, "test")
    settle()
    assert h.sock.controls()[-1] == [{"action": "play", "file_url": "https://svc.test/media/hold.wav"}]
    for bad in ("../secrets.wav", "file:///etc/passwd", "/etc/passwd"):
        with pytest.raises(BadMedia) as refused:  # the call refuses, even if the schema were bypassed
            h.call.handle("play", {"file": bad, "mode": "pcmo"}, "test")
        assert refused.value.status == 422 and refused.value.field == "file"
        with pytest.raises(ValidationError) as invalid:  # and the REST schema never lets it through
            commands.load({"action": "play", "file": bad})
        assert "file" in invalid.value.messages


def test_every_command_has_a_schema_and_a_handler() -> None:
    assert set(commands.REGISTRY) >= {"pause", "resume", "stop", "break", "say", "play", "transfer", "hangup"}
    for name, command in commands.REGISTRY.items():
        assert command.name == name and command.summary and command.label
        assert command.request_schema()().load({"action": name, **_example(name)})["action"] == name


def _example(name: str) -> dict[str, Any]:
    return {"say": {"text": "hi"}, "play": {"file": "hold.wav"}}.get(name, {})


def test_commands_load_names_the_bad_fields() -> None:
    for body, field in (
        ({"action": "dance"}, "action"),
        ({"action": "say"}, "text"),
        ({"action": "say", "text": "hi", "numbers": ["1"]}, "numbers"),
        ({"action": "transfer", "numbers": ["abc"]}, "numbers"),
        ([], "_schema"),
    ):
        with pytest.raises(ValidationError) as bad:
            commands.load(body)
        assert field in bad.value.messages, (body, bad.value.messages)


def test_every_event_round_trips_through_json() -> None:
    from streams.events import EVENT_TYPES, CallEvent

    samples = {
        "call": {"direction": "inbound"},
        "state": {"state": "live", "info": {"rate": 8000}},
        "ended": {"reason": "x", "stats": {"frames_in": 3}},
        "transcript": {"speaker": "caller", "text": "네", "confidence": 0.9},
        "transcript.partial": {"text": "ne"},
        "speech.started": {},
        "turn": {"n": 1, "text": "yes", "confidence": 0.9, "intent": "yes"},
        "reply": {"n": 1, "latency_ms": 312.5},
        "interrupt": {"why": "barge_in", "cuts": [{"heard_ms": 10}]},
        "control": {"action": "pause", "by": "api"},
        "handoff": {"numbers": ["9190"], "why": "intent"},
        "handoff.failed": {"why": "api", "error": "gone"},
        "handoff.brief": {"context": {"summary": "wants a person", "intents": ["human"]}},
        "answered": {"by": "machine", "why": "a beep"},
        "spoken": {"utterance": 3, "line_kind": "reply", "text": "네.", "started_at": 12.5, "ms": 640},
        "play": {"file": "hold.wav", "ms": 3000},
        "play.failed": {"file": "x.wav", "error": "nope"},
        "note": {"what": "socket.replaced"},
    }
    assert set(samples) == set(EVENT_TYPES)
    for kind, fields in samples.items():
        event = EVENT_TYPES[kind](call_id="c1", at=5.0, **fields)
        wire = json.loads(json.dumps(event.to_dict()))
        assert CallEvent.from_dict(wire) == event and wire["kind"] == kind


def test_a_failing_subscriber_never_reaches_the_publisher() -> None:
    bus = EventBus()
    seen: list[CallEvent] = []

    def broken(event: CallEvent) -> None:
        raise RuntimeError("dashboard tab went away")

    bus.on_local(broken)
    bus.on_local(seen.append)
    bus.publish(Note(call_id="c1", what="x"))
    assert len(seen) == 1


def test_a_warm_transfer_briefs_the_person_and_posts_to_the_handoff_url(harness) -> None:
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from streams.events import HandoffBriefed, TranscriptLine, Turn

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(_json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.handle_request, daemon=True).start()
    human = {**HUMAN, "handoff_url": f"http://127.0.0.1:{server.server_port}/handoff"}
    h = harness(agent={"human": human}).live()
    h.call.publish(TranscriptLine(call_id="c1", speaker="bot", text="How can I help?"))
    h.call.publish(TranscriptLine(call_id="c1", speaker="caller", text="my card was charged twice"))
    h.call.publish(Turn(call_id="c1", n=1, text="my card was charged twice", confidence=0.9, intent="billing"))
    h.call.handle("transfer", {}, "intent")
    for _ in range(100):
        if received:
            break
        gevent.sleep(0.02)
    server.server_close()
    context = h.of(HandoffBriefed)[0].context
    assert context["intents"] == ["billing"] and context["summary_by"] == "transcript"
    assert "charged twice" in context["summary"] and context["lines"][-1]["speaker"] == "caller"
    assert received and received[0]["call_id"] == "c1" and received[0]["summary"] == context["summary"]
    assert [e.info for e in h.of(Note) if e.what == "handoff.posted"] == [
        {"status": 204, "attempts": 1, "signed": False}
    ]


def test_the_brief_uses_the_llm_summary_when_there_is_one() -> None:
    from streams.events import TranscriptLine
    from streams.session.briefing import Memory, brief

    memory = Memory()
    memory.observe(TranscriptLine(call_id="c", speaker="caller", text="I want to cancel"))
    assert brief(memory, "intent", ["1"], lambda lines: "Wants to cancel.")["summary_by"] == "llm"
    assert brief(memory, "intent", ["1"], lambda lines: None)["summary_by"] == "transcript"  # the LLM failed


def test_the_brief_takes_the_summary_the_model_gave_its_transfer_call_first() -> None:
    from streams.events import Note, TranscriptLine
    from streams.session.briefing import Memory, brief

    memory = Memory()
    memory.observe(TranscriptLine(call_id="c", speaker="caller", text="I want to cancel"))
    memory.observe(Note(call_id="c", what="transfer.summary", info={"summary": "  Wants to\ncancel order 12. "}))
    asked: list[object] = []
    context = brief(memory, "tool", ["1"], lambda lines: asked.append(lines) or "Another summary.")
    assert (context["summary"], context["summary_by"]) == ("Wants to cancel order 12.", "model")
    assert asked == []  # no second round trip to the LLM while the caller waits
    memory.observe(Note(call_id="c", what="transfer.summary", info={"summary": ["not", "text"]}))
    assert brief(memory, "tool", ["1"])["summary"] == "Wants to cancel order 12."  # a bad one changes nothing
