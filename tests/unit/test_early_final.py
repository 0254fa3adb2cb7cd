"""Free speech: vosk's result is taken 200 ms into a pause (EARLY_FINAL_MS), so the turn's end finds it done.

Real vosk (the Korean model) and espeak-ng Korean; the queue is what the STT greenlet would get."""

from __future__ import annotations

import time
from array import array

import pytest

from emulator.script import speak
from streams.speech.stt import Recognizer, SpeechModels
from streams.turns.rules import TurnDetector
from streams.voice.hearing import EARLY_FINAL_MS, Hearing
from tests.support.korean import SEARCH, needs_model

pytestmark = needs_model
FRAME = 320  # 20 ms at 8 kHz
QUIET = b"\x00\x00" * 160
FIRST, SECOND = "네, 알겠습니다.", "상담원에게 연결해 드리겠습니다."


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    models = SpeechModels(SEARCH)
    models.load_now()
    return models.model_for("ko")


def frames(pcm: bytes) -> list[bytes]:
    """20 ms frames of ``pcm`` without espeak-ng's trailing quiet (the pauses here are the test's own)."""
    cut = [pcm[at : at + FRAME].ljust(FRAME, b"\x00") for at in range(0, len(pcm), FRAME)]
    while cut and max(abs(v) for v in array("h", cut[-1])) < 500:
        cut.pop()
    return cut


def queued(recognizer: Recognizer, audio: list[bytes]) -> list[str]:
    hearing = Hearing(
        TurnDetector(8000), recognizer, None, 1600,  # type: ignore[arg-type]  # never released here
        on_speech=lambda: None, on_partial=lambda text: None, on_turn=lambda heard: None, on_drop=lambda: None,
    )  # fmt: skip
    for n, frame in enumerate(audio):
        hearing.feed(frame, 100.0 + n * 0.02)
    return [item[0] for item in (hearing._queue.get_nowait() for _ in range(hearing._queue.qsize()))]


def kinds(items: list[str]) -> list[str]:
    return [kind for n, kind in enumerate(items) if kind != "audio" or items[n - 1 : n] != ["audio"]]


def test_a_free_speech_pause_is_settled_before_the_turn_ends_and_a_grammar_is_not(model) -> None:  # type: ignore[no-untyped-def]
    speech = frames(speak(FIRST, "ko", 175, 8000))
    pause = [QUIET] * (EARLY_FINAL_MS // 20 + 2)  # past EARLY_FINAL_MS, inside the 300 ms hangover
    turn = [QUIET] * 10 + speech + [QUIET] * 20
    assert kinds(queued(Recognizer(model, 8000), turn)) == ["audio", "settle", "end"]
    resumed = [QUIET] * 10 + speech + pause + speech + [QUIET] * 20
    assert kinds(queued(Recognizer(model, 8000), resumed)) == ["audio", "settle", "audio", "settle", "end"]
    assert kinds(queued(Recognizer(model, 8000, [FIRST]), turn)) == ["audio", "end"]  # a grammar's final is cheap


def test_a_settled_turn_is_heard_as_the_same_words_and_its_end_is_cheap(model) -> None:  # type: ignore[no-untyped-def]
    """The words through a grammar: vosk's free speech is not repeatable (the same audio through two fresh
    recognisers, fed alike, once gave '아욱 이다' and '아욱 들이다'); settling is the same call for both."""
    tail = b"\x00\x00" * 800  # the 100 ms of quiet vosk hears after the speech
    first, second = speak(FIRST, "ko", 175, 8000) + tail, speak(SECOND, "ko", 175, 8000) + tail
    free = Recognizer(model, 8000)
    free.accept(first)
    free.final()  # warm
    free.accept(first)
    free.settle()
    started = time.thread_time()
    assert free.final()[0]  # the settled segment's words, not lost
    assert time.thread_time() - started < 0.005  # the end of the turn had nothing left to decode
    phrases = ["안녕히 계세요", "상담원"]  # demo-ko's, heard exactly through its grammar (python -m bench vosk)
    first, second = speak(phrases[0], "ko", 175, 8000) + tail, speak(phrases[1], "ko", 175, 8000) + tail
    whole, settled = Recognizer(model, 8000, phrases), Recognizer(model, 8000, phrases)
    for recognizer in (whole, settled):  # both warm: a recogniser's first turn costs several times the later ones
        recognizer.accept(first)
        recognizer.final()
    whole.accept(first)
    expected = whole.final()[0]
    settled.accept(first)
    settled.settle()
    assert settled.final()[0] == expected == phrases[0]  # the same words
    settled.accept(first)
    settled.settle()
    settled.accept(second)  # the caller went on after the pause: two segments, one turn
    whole.accept(second)
    assert settled.final()[0] == expected + " " + whole.final()[0] == " ".join(phrases)
