"""The voice pipeline on a call driven directly (in-memory socket), with real pyttsx3 and no speech model."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest

from app.agents.book import fill_default_lines
from streams.events import CallEvent, EventBus, Note, TranscriptLine
from streams.link.media_link import MediaLink
from streams.link.settings import LinkSettings
from streams.session.call import Call
from streams.session.media_files import MediaFiles
from streams.session.settings import CallSettings
from streams.speech.stt import ModelSearch, SpeechModels, find_models
from streams.speech.tts import TTSPool
from streams.voice.services import VoiceServices
from streams.voice.voice_pipeline import VoicePipeline
from tests.support.memsocket import MemorySocket

FRAME = b"\x01\x00" * 160


@pytest.fixture(scope="module")
def tts():
    pool = TTSPool(1, 10.0)
    pool.start()
    yield pool
    pool.close()


def _call(
    agent: dict, tts: TTSPool, models: SpeechModels | None = None, outbound: bool = False
) -> tuple[Call, MemorySocket, list[CallEvent]]:
    bus, events, sock = EventBus(), [], MemorySocket()
    bus.on_local(events.append)
    services = VoiceServices(models=models or SpeechModels(ModelSearch()), tts=tts)
    call = Call(
        "v1",
        agent=agent,
        settings=CallSettings(caller_id="919000000000"),
        link=MediaLink(LinkSettings()),
        bus=bus,
        media=MediaFiles(Path("media"), "https://svc.test"),
        tts=tts,
        make_voice=lambda port: VoicePipeline(port, agent, services, outbound=outbound),
    )
    call.attach(sock)
    call.start()
    gevent.spawn(call.serve, sock)
    return call, sock, events


def test_a_handoff_with_nowhere_to_go_is_a_polite_goodbye(tts: TTSPool) -> None:
    agent = fill_default_lines({"name": "mini", "language": "en", "voice": "en-us", "greeting": "Hello."}, "mini")
    call, sock, events = _call(agent, tts)  # no speech model: the no-STT rule wants a person, there is none
    sock.push(FRAME)
    for _ in range(200):  # keep the caller's side alive while the bot speaks (bounded)
        if call.ended:
            break
        sock.push(FRAME)
        gevent.sleep(0.05)
    assert call.wait_ended(1) and call.end_reason == "no_human"
    said = [(e.line_kind, e.text) for e in events if isinstance(e, TranscriptLine)]
    assert said == [("greeting", "Hello."), ("goodbye", "Goodbye.")]
    assert sock.audio() and sock.controls()[-1] == [{"action": "hangup"}] and sock.close_code == 1000


def test_an_idle_caller_is_reprompted_then_told_goodbye(tts: TTSPool) -> None:
    agent = fill_default_lines(
        {
            "name": "idle",
            "language": "ko",
            "voice": "ko",
            "greeting": "안녕하세요.",
            "grammar": True,
            "intents": [{"name": "yes", "phrases": ["네"], "reply": "네."}],
            "idle": {"after": 1.0, "max_reprompts": 1},
        },
        "idle",
    )
    models = SpeechModels(find_models("", Path("/nonexistent")))  # the installed Korean model
    call, sock, events = _call(agent, tts, models)
    for _ in range(300):  # a silent caller (bounded: 15 s)
        if call.ended:
            break
        sock.push(FRAME)
        gevent.sleep(0.05)
    assert call.wait_ended(1) and call.end_reason == "caller_idle"
    said = [e.line_kind for e in events if isinstance(e, TranscriptLine)]
    assert said == ["greeting", "reprompt", "goodbye"]
    notes = [e.what for e in events if isinstance(e, Note) and e.what.startswith("idle.")]
    assert notes == ["idle.reprompt", "idle.goodbye"]


def _greeted(events: list[CallEvent]) -> bool:
    return any(isinstance(e, TranscriptLine) and e.line_kind == "greeting" for e in events)


def _callee(agent: dict, tts: TTSPool, audio: bytes) -> tuple[Call, MemorySocket, list[CallEvent]]:
    """An outbound call whose callee plays ``audio`` (then silence) in real time."""
    models = SpeechModels(find_models("", Path("/nonexistent")))  # the installed Korean model
    call, sock, events = _call(agent, tts, models, outbound=True)
    audio += b"\x00" * (-len(audio) % 320)  # whole 20 ms frames
    frames = [audio[i : i + 320] for i in range(0, len(audio), 320)] + [b"\x00" * 320] * 500
    for frame in frames:  # bounded: the audio plus 10 s
        if call.ended or _greeted(events):
            break
        sock.push(frame)
        gevent.sleep(0.02)
    return call, sock, events


SCREENING = {
    "name": "out",
    "language": "ko",
    "voice": "ko",
    "greeting": "안녕하세요.",
    "intents": [{"name": "yes", "phrases": ["네"], "reply": "네."}],
    "answering_machine": {"action": "voicemail", "voicemail": "다시 전화 드리겠습니다.", "greeting_ms": 2500},
}


def test_an_answering_machine_gets_the_voicemail_after_its_beep(tts: TTSPool) -> None:
    from emulator.script import speak
    from streams.audio import silence, tone
    from streams.events import Answered

    greeting = "안녕하세요. 지금은 전화를 받을 수 없습니다. 삐 소리 후에 메시지를 남겨 주세요."
    machine = speak(greeting, "ko", 175, 8000) + silence(8000, 300) + tone(8000, 600, 1000)
    call, sock, events = _callee(fill_default_lines(dict(SCREENING), "out"), tts, machine)
    assert call.wait_ended(5) and call.end_reason == "voicemail_left"
    answered = [e for e in events if isinstance(e, Answered)]
    assert [a.by for a in answered] == ["machine"]
    said = [(e.line_kind, e.text) for e in events if isinstance(e, TranscriptLine) and e.speaker == "bot"]
    assert said == [("voicemail", "다시 전화 드리겠습니다.")]  # no greeting to a machine; the message after the beep


def test_a_person_saying_hello_gets_the_greeting(tts: TTSPool) -> None:
    from emulator.script import speak
    from streams.events import Answered

    call, sock, events = _callee(fill_default_lines(dict(SCREENING), "out"), tts, speak("여보세요?", "ko", 175, 8000))
    answered = [e for e in events if isinstance(e, Answered)]
    call.end("test_over", hangup=False)
    assert [a.by for a in answered] == ["human"]
    said = [e.line_kind for e in events if isinstance(e, TranscriptLine) and e.speaker == "bot"]
    assert said[0] == "greeting"


def test_a_caller_nobody_can_hear_gets_a_goodbye_when_nobody_answers(tts: TTSPool) -> None:
    human = {"numbers": ["919000000077"], "retry_offers": 1}
    agent = fill_default_lines(
        {"name": "deaf", "language": "en", "voice": "en-us", "greeting": "Hi.", "human": human}, "d"
    )
    agent.update(hold_message="Hold on.", no_answer_goodbye="Bye.")  # short lines: a short real-time test
    call, sock, events = _call(agent, tts)  # no speech model: the no-STT rule hands the caller to a person
    for _ in range(200):
        if any(isinstance(m, list) and m[0]["action"] == "bridge" for m in sock.controls()):
            break
        sock.push(FRAME)
        gevent.sleep(0.05)
    assert call.bridge_outcome("unanswered", leg="b-1") == "unanswered"
    for _ in range(200):
        if call.ended:
            break
        sock.push(FRAME)
        gevent.sleep(0.05)
    assert call.wait_ended(1) and call.end_reason == "no_answer"  # no offer: the caller could not answer it
    said = [(e.line_kind, e.text) for e in events if isinstance(e, TranscriptLine)]
    assert said[-1] == ("goodbye", agent["no_answer_goodbye"]) and ("offer", agent["no_answer_message"]) not in said
    declined = [e.info for e in events if isinstance(e, Note) and e.what == "handoff.declined"]
    assert declined == [{"why": "no_offers_left"}]
