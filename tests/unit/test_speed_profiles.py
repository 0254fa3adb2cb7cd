"""vosk speed profiles (#21.5): a folder per profile with its own conf, the same words, another model per agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from marshmallow import ValidationError

from app.agents.book import AgentSchema
from app.config import load_config
from emulator.script import speak
from streams.speech.profiles import PROFILES, profiled
from streams.speech.stt import Recognizer, SpeechModels, find_models
from tests.support.korean import SEARCH, needs_model

KOREAN = SEARCH.found.get("ko")
PHRASES = ["네", "아니요", "상담원"]


def conf(folder: Path) -> dict[str, str]:
    lines = (folder / "conf" / "model.conf").read_text().split()
    return dict(line.lstrip("-").split("=", 1) for line in lines)


@needs_model
def test_a_profile_is_the_models_files_with_its_own_conf(tmp_path) -> None:
    assert profiled(KOREAN, "accurate", tmp_path) == KOREAN  # the model's own folder, untouched
    fast = profiled(KOREAN, "fast", tmp_path)
    assert fast.parent == tmp_path and fast != KOREAN
    assert {k: conf(fast)[k] for k in PROFILES["fast"]} == PROFILES["fast"]
    assert conf(fast)["min-active"] == conf(KOREAN)["min-active"]  # the rest of the model's options kept
    assert len([k for k in conf(fast) if k == "beam"]) == 1
    assert (fast / "am").resolve() == (KOREAN / "am").resolve()  # links, not copies
    assert profiled(KOREAN, "fast", tmp_path) == fast  # made once: a second worker finds it
    assert len(list(tmp_path.iterdir())) == 1  # no staging folder left behind


@needs_model
def test_every_profile_hears_the_phrases(tmp_path) -> None:
    import vosk

    vosk.SetLogLevel(-1)
    for name in PROFILES:
        model = vosk.Model(str(profiled(KOREAN, name, tmp_path)))
        recognizer = Recognizer(model, 8000, PHRASES)
        for phrase in PHRASES:
            pcm = b"\x00" * 1600 + speak(phrase, "ko", 175, 8000) + b"\x00" * 1600
            for at in range(0, len(pcm), 1600):
                recognizer.accept(pcm[at : at + 1600])
            assert recognizer.final()[0] == phrase, name


@needs_model
def test_an_agents_other_profile_loads_the_model_once_more() -> None:
    models = SpeechModels(find_models("", Path("/nonexistent")), profile="balanced")
    models.load_now()
    default = models.model_for("ko")
    assert models.model_for("ko", profile="balanced") is default
    fast = models.model_for("ko", profile="fast")
    assert fast is not None and fast is not default
    assert models.model_for("ko", profile="fast") is fast  # once
    assert models.describe()["profile"] == "balanced"
    assert models.describe()["other_profiles"] == ["ko:fast"]
    assert models.model_for("xx", profile="fast") is None


@needs_model
def test_a_profile_that_cannot_be_made_falls_back_to_the_models_own(tmp_path, monkeypatch, caplog) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(
        "tempfile.tempdir", str(not_a_folder / "tmp")
    )  # where profiles go: cannot be made, even by root
    models = SpeechModels(find_models("", Path("/nonexistent")), profile="fast")
    models.load_now()
    assert models.model_for("ko") is not None and models.errors == {}
    assert "cannot be made" in caplog.text


def test_profiles_are_checked_where_they_are_set() -> None:
    assert load_config({"SECRET_KEY": "x"})["STT_PROFILE"] == "balanced"
    assert load_config({"SECRET_KEY": "x", "STT_PROFILE": "fast"})["STT_PROFILE"] == "fast"
    with pytest.raises(Exception, match="STT_PROFILE"):
        load_config({"SECRET_KEY": "x", "STT_PROFILE": "turbo"})
    with pytest.raises(ValidationError) as raised:
        AgentSchema().load({"name": "a", "stt_profile": "turbo"})
    assert "stt_profile" in raised.value.messages
    assert AgentSchema().load({"name": "a", "stt_profile": "fast"})["stt_profile"] == "fast"
    with pytest.raises(ValueError, match="unknown speed profile"):
        SpeechModels(find_models("off", Path("/nonexistent")), profile="turbo")
    assert json.dumps(PROFILES)  # plain data: shown as is by bench vosk
