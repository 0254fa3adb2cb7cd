"""Dialogue policies: text in, decision out (pure, apart from the LLM's HTTP call).

The scripted policy matches the caller's words against the agent's intents;
after ``max_misses`` consecutive misses it hands the caller to a person. The LLM
policy (streams/llm.py) answers what no intent matched and falls back to the
script when the model cannot be reached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Decision:
    reply: str | None = None
    action: str | None = None  # transfer | hangup | play | switch_voice
    intent: str | None = None
    file: str | None = None
    voice: str | None = None
    miss: bool = False
    reason: str | None = None


class Policy(Protocol):
    def greeting(self) -> Decision: ...
    def on_turn(self, text: str, confidence: float) -> Decision: ...


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return " ".join(_PUNCT.sub(" ", text).split())


def mentions(text: str, phrase: str) -> bool:
    """True when ``phrase`` occurs in ``text`` as whole words."""
    haystack, needle = f" {normalize(text)} ", f" {normalize(phrase)} "
    return needle.strip() != "" and needle in haystack


class ScriptedPolicy:
    def __init__(self, agent: Mapping[str, Any], min_confidence: float = 0.5) -> None:
        self.agent = agent
        self.min_confidence = float(agent.get("min_confidence", min_confidence))
        self.misses = 0

    def greeting(self) -> Decision:
        return Decision(reply=self.agent.get("greeting") or None, intent="greeting")

    def match(self, text: str) -> Mapping[str, Any] | None:
        for intent in self.agent.get("intents", []):
            if any(mentions(text, phrase) for phrase in intent["phrases"]):
                return intent
        return None

    def on_turn(self, text: str, confidence: float) -> Decision:
        intent = self.match(text) if text.strip() and confidence >= self.min_confidence else None
        if intent is None:
            return self.miss()
        self.misses = 0
        action = None if intent["action"] == "none" else intent["action"]
        reply = intent.get("reply")
        if action == "hangup" and not reply:
            reply = self.agent.get("goodbye")
        return Decision(
            reply=reply, action=action, intent=intent["name"], file=intent.get("file"), voice=intent.get("voice")
        )

    def miss(self) -> Decision:
        self.misses += 1
        if self.misses >= int(self.agent.get("max_misses", 3)):
            self.misses = 0
            return Decision(action="transfer", miss=True, reason="misses")
        return Decision(reply=self.agent.get("fallback"), miss=True)
