"""Turn-taking parts alone: the smart rule, log-mel features, Silero VAD and Smart Turn on generated audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from marshmallow import ValidationError

from app.agents.book import TurnSchema
from emulator.turnset import Clip, turnset
from streams.audio import silence, tone
from streams.turns.models import SILERO_FILE, TurnModels
from streams.turns.rules import PauseHeard, SpeechStarted, TurnDetector, TurnEnded, TurnRule
from streams.turns.smart_turn import log_mel
from streams.turns.vad import SileroVad
from tests.support.turn_models import installed_turn_models

RATE = 8000
SMART = TurnRule(end="smart", silence_ms=60, max_wait_ms=600)


@pytest.fixture(scope="module")
def models() -> TurnModels:
    return installed_turn_models()


@pytest.fixture(scope="module")
def clips() -> dict[str, Clip]:
    return {clip.name: clip for clip in turnset()}


def feed(detector: TurnDetector, pcm: bytes, t: float = 0.0) -> tuple[list, float]:
    events = []
    for start in range(0, len(pcm), 320):
        t += 0.02
        events += detector.feed(pcm[start : start + 320], t)
    return events, t


def test_smart_rule_ends_at_once_when_complete_and_waits_when_not() -> None:
    detector = TurnDetector(RATE, SMART)
    events, t = feed(detector, tone(RATE, 400) + silence(RATE, 100))
    assert [type(e) for e in events] == [SpeechStarted, PauseHeard]
    assert detector.verdict(events[1].n, 0.2) == []  # not complete: the turn waits
    events, t = feed(detector, silence(RATE, 300), t)
    assert events == []
    events, t = feed(detector, silence(RATE, 300), t)
    assert [(type(e), e.by, e.checks) for e in events] == [(TurnEnded, "max_wait", (0.2,))]

    events, t = feed(detector, tone(RATE, 400) + silence(RATE, 100), t)
    (ended,) = detector.verdict(events[-1].n, 0.9)
    assert ended.by == "smart" and ended.waited_ms == pytest.approx(100, abs=20) and not detector.in_speech


def test_a_verdict_on_an_earlier_pause_is_ignored_once_speech_resumes() -> None:
    detector = TurnDetector(RATE, SMART)
    events, t = feed(detector, tone(RATE, 400) + silence(RATE, 100))
    stale = events[-1].n
    events, t = feed(detector, tone(RATE, 300), t)  # the caller goes on before the model answers
    assert detector.verdict(stale, 0.99) == [] and detector.in_speech


def test_turn_settings_are_checked_at_load() -> None:
    with pytest.raises(ValidationError) as caught:
        TurnSchema().load({"end": "smart", "silence_ms": 800, "max_wait_ms": 500})
    assert "longer than silence_ms" in str(caught.value.messages["max_wait_ms"])
    with pytest.raises(ValidationError) as caught:
        TurnSchema().load({"vad": "webrtc", "threshold": 2})
    assert set(caught.value.messages) == {"vad", "threshold"}
    assert TurnSchema().load({})["vad"] == "energy"


def test_log_mel_is_whisper_shaped_and_pads_short_audio_in_front() -> None:
    short = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440).astype(np.float32)
    features = log_mel(short)
    assert features.shape == (80, 800) and features.dtype == np.float32
    assert np.ptp(features[:, :600]) < 1e-3 < np.ptp(features[:, -90:])  # zeros first, the tone at the end
    assert log_mel(np.tile(short, 10)).shape == (80, 800)  # 10 s: only the last 8 s are read


@pytest.mark.parametrize("rate", [8000, 16000])
def test_silero_hears_speech_and_not_white_noise(models: TurnModels, clips: dict[str, Clip], rate: int) -> None:
    speech, noise = SileroVad(models.silero(), rate), SileroVad(models.silero(), rate)
    size = rate // 50 * 2
    said = clips["complete-en-0"].pcm(rate)
    heard = [speech.is_speech(said[i : i + size]) for i in range(0, len(said), size)]
    hiss = clips["noise-white-20"].pcm(rate)
    assert sum(heard) > 0.6 * len(heard)
    assert not any(noise.is_speech(hiss[i : i + size]) for i in range(0, len(hiss), size))
    assert speech.windows == len(said) // (speech.window * 2)  # each call keeps its own state and buffer


def test_smart_turn_tells_a_finished_sentence_from_a_cut_one(models: TurnModels, clips: dict[str, Clip]) -> None:
    done = clips["complete-en-2"].pcm(RATE) + silence(RATE, 150)  # "Yes, that is correct."
    paused = clips["paused-en-2"]  # "I was hoping you could help me with" …
    cut = paused.pcm(RATE)[: int(paused.pause[0] / 1000 * RATE) * 2] + silence(RATE, 150)
    smart = models.smart()
    assert smart.probability(done, RATE) > 0.5 > smart.probability(cut, RATE)


def test_the_test_set_is_generated_once_and_is_the_same_each_time(tmp_path: Path) -> None:
    first = turnset(tmp_path / "a")
    kinds = [c.kind for c in first]
    assert kinds.count("complete") == kinds.count("paused") == kinds.count("noise") == 12
    assert all(400 <= c.pause[1] - c.pause[0] <= 700 for c in first if c.pause)
    stamp = Path(first[0].path).stat().st_mtime_ns
    assert turnset(tmp_path / "a") == first and Path(first[0].path).stat().st_mtime_ns == stamp  # cached
    other = turnset(tmp_path / "b")
    assert [c.pcm() for c in other] == [c.pcm() for c in first]


def test_healthz_names_an_agent_whose_turn_model_is_not_installed(tmp_path: Path, make_app) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "smart.yaml").write_text("name: smart\nlanguage: ko\nvoice: ko\nturn: {vad: silero, end: smart}\n")
    app = make_app(AGENTS_DIR=str(agents), DEFAULT_AGENT="smart", TURN_MODELS_DIR=str(tmp_path / "empty"))
    problems = {p["code"]: p for p in app.test_client().get("/healthz").get_json()["problems"]}
    detail = problems["turn_model_missing"]["detail"]
    assert detail == {"agent": "smart", "missing": ["silero", "smart"], "file": "smart.yaml"}


def test_a_model_file_that_will_not_load_is_named_on_healthz(tmp_path: Path, make_app) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / SILERO_FILE).write_bytes(b"not an onnx file")
    app = make_app(TURN_MODELS_DIR=str(tmp_path / "models"))
    models = app.extensions["callstream"].voice.turn_models
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own exception types
        models.silero()
    problems = {p["code"]: p for p in app.test_client().get("/healthz").get_json()["problems"]}
    assert problems["turn_model_failed"]["detail"] == {"model": "silero"}
