"""#23.6 Fillers: a line only when the policy is slower than ``after_ms``, then the policy's own decision."""

from __future__ import annotations

import gevent

from streams.voice.dialogue import Decision
from streams.voice.filler import Filler


def slow(seconds: float) -> Decision:
    gevent.sleep(seconds)
    return Decision(reply="the answer")


def test_a_slow_policy_gets_a_filler_then_its_answer() -> None:
    filler, said = Filler({"filler": {"after_ms": 100, "lines": ["Hmm.", "Let me see."]}}), []
    assert filler.decide(lambda: slow(0.3), said.append).reply == "the answer"
    assert filler.decide(lambda: slow(0.3), said.append).reply == "the answer"
    assert said == ["Hmm.", "Let me see."]  # in turn


def test_a_quick_policy_or_no_filler_rule_says_nothing_extra() -> None:
    said: list[str] = []
    assert Filler({"filler": {"after_ms": 500, "lines": ["Hmm."]}}).decide(lambda: slow(0.01), said.append).reply
    assert Filler({}).decide(lambda: slow(0.2), said.append).reply == "the answer"
    assert said == []
