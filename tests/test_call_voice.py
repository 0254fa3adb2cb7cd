"""The voice pipeline on a call driven directly (in-memory socket), with real pyttsx3 and no speech model."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest

from app.agents import fill_default_lines
from streams.call import Call, CallSettings
from streams.events import CallEvent, EventBus, Note, TranscriptLine
from streams.media import LinkSettings, MediaLink
from streams.media_files import MediaFiles
from streams.stt import ModelSearch, SpeechModels, find_models
from streams.tts import TTSPool
from streams.voice import VoicePipeline, VoiceServices

from .memsocket import MemorySocket

FRAME = b"\x01\x00" * 160


@pytest.fixture(scope="module")
def tts():
    pool = TTSPool(1, 10.0)
    pool.start()
    yield pool
    pool.close()


def _call(agent: dict, tts: TTSPool, models: SpeechModels | None = None) -> tuple[Call, MemorySocket, list[CallEvent]]:
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
        make_voice=lambda port: VoicePipeline(port, agent, services),
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


def test_idle_watch_counts_silence_only_after_the_bot_stops() -> None:
    from streams.idle import IdleRule, IdleWatch

    watch = IdleWatch(IdleRule(after=2, reprompt="?", max_reprompts=1, goodbye="bye"), now=0)
    assert watch.observe(5, caller_speaking=False, bot_audible=True) is None  # the bot talks: not idle
    assert watch.observe(6.9, caller_speaking=False, bot_audible=False) is None
    assert watch.observe(7.1, caller_speaking=False, bot_audible=False) == "reprompt"
    assert watch.observe(8, caller_speaking=True, bot_audible=False) is None  # speech resets the count
    assert watch.observe(10.1, caller_speaking=False, bot_audible=False) == "reprompt"
    assert watch.observe(12.2, caller_speaking=False, bot_audible=False) == "goodbye"
