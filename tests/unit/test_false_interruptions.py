"""#23.5 Which turn after a barge-in was no turn at all, as the agent file and the pipeline read it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from marshmallow import ValidationError

from app.agents.book import parse_agent
from streams.voice.hearing import Heard
from streams.voice.resumption import FalseInterruption
from streams.voice.services import grammar_phrases

CUT = [{"utterance": 7, "kind": "reply", "heard_ms": 900, "total_ms": 2400, "heard_text": "one two"}]


def heard(text: str, ms: float = 800) -> Heard:
    return Heard(text, 1.0, speech_end=5.0, speech_ms=ms)


@pytest.mark.parametrize(
    ("text", "ms", "why"),
    [("", 900, "no_words"), ("Uh-huh!", 500, "backchannel"), ("okay", 500, "backchannel"),
     ("wait", 200, "short"), ("wait a second", 900, None)],
)  # fmt: skip
def test_a_false_interruption_is_no_words_a_backchannel_or_short(text: str, ms: float, why: str | None) -> None:
    rule = FalseInterruption({"language": "en", "interruption": {"resume": {"min_ms": 300}}})
    rule.barged([*CUT, {"dropped_queued": 1}, {"utterance": 8, "kind": "music"}])
    assert rule.cuts == CUT  # music and queue counts do not come back
    assert rule.why(heard(text, ms)) == why


def test_without_a_barge_in_or_the_rule_nothing_resumes() -> None:
    rule = FalseInterruption({"language": "ko", "interruption": {"resume": {}}})
    assert rule.why(heard("네")) is None  # no barge-in before this turn
    rule.barged(CUT)
    assert rule.why(heard("네")) == "backchannel"  # Korean defaults
    off = FalseInterruption({"interruption": {"enabled": True}})
    off.barged(CUT)
    assert off.cuts == [] and off.why(heard("")) is None


def test_the_agent_file_sets_backchannels_and_min_ms(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        yaml.safe_dump({"name": "a", "interruption": {"resume": {"backchannels": ["sure"], "min_ms": 400}}})
    )
    rule = FalseInterruption(parse_agent(path))
    rule.barged(CUT)
    assert rule.backchannels == {"sure"} and rule.min_ms == 400 and rule.why(heard("sure")) == "backchannel"
    path.write_text(yaml.safe_dump({"name": "a", "interruption": {"resume": {"min_ms": 9000}}}))
    with pytest.raises(ValidationError) as caught:
        parse_agent(path)
    assert "min_ms" in caught.value.messages["interruption"]["resume"]


def test_the_backchannels_an_agent_names_are_in_vosks_grammar() -> None:
    intents = [{"name": "yes", "phrases": ["yes", "ok"]}]
    agent = {"grammar": True, "intents": intents, "interruption": {"resume": {"backchannels": ["uh-huh", "ok"]}}}
    assert grammar_phrases(agent) == ["yes", "ok", "uh-huh"]
    assert grammar_phrases({**agent, "interruption": {"resume": {}}}) == ["yes", "ok"]  # defaults are not added
