"""Dialogue policies: text in, decision out (pure, apart from the LLM's HTTP call).

The scripted policy matches the caller's words against the agent's intents;
after ``max_misses`` consecutive misses it hands the caller to a person. The LLM
policy (streams/voice/llm.py) answers what no intent matched and falls back to the
script when the model cannot be reached. ``RetryOffer`` is the short dialogue
after a transfer nobody answered: shall I try again? yes, no, or silence.
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
    interruptible: str | None = None  # true | false | dtmf: may the caller's speech cut the reply (#23.3)


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
            reply=reply, action=action, intent=intent["name"], file=intent.get("file"), voice=intent.get("voice"),
            interruptible=intent.get("interruptible"),
        )  # fmt: skip

    def miss(self) -> Decision:
        self.misses += 1
        if self.misses >= int(self.agent.get("max_misses", 3)):
            self.misses = 0
            return Decision(action="transfer", miss=True, reason="misses")
        return Decision(
            reply=self.agent.get("fallback"),
            miss=True,
            interruptible=(self.agent.get("interruptible") or {}).get("fallback"),
        )


# Yes and no to "shall I ring again?", by language; an agent may give its own (human.retry_yes / retry_no).
RETRY_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("yes", "yeah", "sure", "please", "try again", "okay"), ("no", "nope", "no thanks", "goodbye")),
    "ko": (("네", "다시", "좋아요"), ("아니요",)),  # no near-homophones of each other (예/네, 아니오/아니요)
}
NO_ANSWER_MESSAGE = "Sorry, nobody could take your call just now. Shall I try again?"


def retry_words(agent: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The phrases that mean yes and no to the retry offer, for this agent."""
    human = agent.get("human") or {}
    yes, no = RETRY_WORDS.get(str(agent.get("language", "en")).lower()[:2], RETRY_WORDS["en"])
    return list(human.get("retry_yes") or yes), list(human.get("retry_no") or no)


class RetryOffer:
    """Nobody answered the transfer: offer to ring again while offers are left; the caller decides.

    Yes (or any phrase of a transferring intent) rings again; no says goodbye; an
    unclear answer gets the question once more, a second one a goodbye.
    """

    def __init__(self, agent: Mapping[str, Any], min_confidence: float = 0.5) -> None:
        self.agent = agent
        self.min_confidence = float(agent.get("min_confidence", min_confidence))
        self.yes, self.no = retry_words(agent)
        self.yes += [p for i in agent.get("intents", []) if i.get("action") == "transfer" for p in i["phrases"]]
        self.pending = False
        self.unclear = 0

    def _goodbye(self, reason: str, miss: bool = False, intent: str | None = None) -> Decision:
        self.pending = False
        text = self.agent.get("no_answer_goodbye") or self.agent.get("goodbye") or "Goodbye."
        return Decision(reply=text, action="hangup", reason=reason, miss=miss, intent=intent)

    def open(self, offers_left: int) -> Decision:
        """What the bot says on coming back: the offer, or (no offers left) a goodbye."""
        if offers_left <= 0:
            return self._goodbye("no_answer")
        self.pending, self.unclear = True, 0
        return Decision(reply=self.agent.get("no_answer_message") or NO_ANSWER_MESSAGE)

    def answer(self, text: str, confidence: float) -> Decision:
        heard = text if text.strip() and confidence >= self.min_confidence else ""
        if any(mentions(heard, phrase) for phrase in self.no):
            return self._goodbye("no_answer_declined", intent="retry.no")
        if any(mentions(heard, phrase) for phrase in self.yes):
            self.pending = False
            return Decision(action="transfer", intent="retry.yes", reason="retry")
        self.unclear += 1
        if self.unclear >= 2:
            return self._goodbye("no_answer_declined", miss=True)
        return Decision(reply=self.agent.get("no_answer_message") or NO_ANSWER_MESSAGE, miss=True)

    def silence(self) -> Decision:
        """The caller said nothing to the offer."""
        return self._goodbye("no_answer")
