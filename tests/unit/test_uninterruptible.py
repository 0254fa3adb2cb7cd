"""#23.3 Lines that cannot be cut: the modes as the agent file, the say command and the pipeline read them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from marshmallow import ValidationError

from app.agents.book import parse_agent
from streams.session import commands
from streams.voice.dialogue import ScriptedPolicy
from streams.voice.guard import SpeechGuard
from streams.voice.hearing import Heard


@pytest.mark.parametrize(("given", "mode"), [(False, "false"), (True, "true"), ("dtmf", "dtmf"), ("false", "false")])
def test_say_takes_a_mode(given: object, mode: str) -> None:
    assert commands.load({"action": "say", "text": "x", "interruptible": given}) == (
        "say", {"text": "x", "interruptible": mode},
    )  # fmt: skip


def test_say_is_interruptible_by_default_and_refuses_other_modes() -> None:
    assert commands.load({"action": "say", "text": "x"})[1]["interruptible"] == "true"
    with pytest.raises(ValidationError) as caught:
        commands.load({"action": "say", "text": "x", "interruptible": "never"})
    assert "interruptible" in caught.value.messages
    field = {f["name"]: f for f in commands.get("say").form_fields()}["interruptible"]
    assert field["choices"] == ["true", "false", "dtmf"]  # the dashboard's say offers it


def test_the_agent_file_marks_lines_and_intents(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    modes = {"greeting": False, "fallback": "dtmf"}
    legal = {"name": "legal", "phrases": ["terms"], "reply": "Notice.", "interruptible": False}
    agent = {"name": "a", "greeting": "Hi.", "fallback": "Sorry?", "interruptible": modes, "intents": [legal]}
    path.write_text(yaml.safe_dump(agent))
    loaded = parse_agent(path)
    assert loaded["interruptible"] == {"greeting": "false", "fallback": "dtmf"}
    policy = ScriptedPolicy(loaded)
    assert policy.on_turn("terms", 1.0).interruptible == "false"
    assert policy.on_turn("what", 1.0).interruptible == "dtmf"  # the fallback line
    guard = SpeechGuard(loaded)
    assert guard.mode("greeting") == "false" and guard.mode("reply") == "true" and guard.mode("reply", "dtmf") == "dtmf"
    path.write_text(yaml.safe_dump({**agent, "interruptible": {"hold": False}}))
    with pytest.raises(ValidationError) as caught:
        parse_agent(path)
    assert "interruptible" in caught.value.messages


def test_speech_that_started_over_a_guarded_line_is_not_a_turn_and_later_speech_is() -> None:
    guard = SpeechGuard({})
    guard.now = 10.1
    guard.speech_started(True)  # the caller spoke over the line
    assert guard.ignores(Heard("네", 1.0, speech_end=10.8, speech_ms=800))
    guard.now = 14.0
    guard.speech_started(False)  # after it
    assert not guard.ignores(Heard("네", 1.0, speech_end=14.6, speech_ms=700))
