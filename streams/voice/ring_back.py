"""The bot back on the line after nobody answered a transfer: the offer, the caller's answer, silence.

The words are the dialogue's (``streams.voice.dialogue.RetryOffer``); this runs them
on the call: says the offer, puts the answer on the timeline (``handoff.retry``,
``handoff.declined``), and, when the agent has no ``idle`` rule of its own,
ends a silence of ``human.offer_wait`` seconds with a goodbye.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import gevent

from streams import events as ev
from streams.playback import Utterance
from streams.voice.dialogue import Decision, RetryOffer
from streams.voice.port import CallPort

DEFAULT_OFFER_WAIT = 8.0  # seconds of silence after the offer before the goodbye


class RingBack:
    def __init__(
        self,
        port: CallPort,
        agent: Mapping[str, Any],
        say: Callable[[str, str], Utterance | None],
        speaking: Callable[[], bool],
        min_confidence: float = 0.5,
    ) -> None:
        self.port, self.say, self.speaking = port, say, speaking
        self.offer = RetryOffer(agent, min_confidence)
        human = agent.get("human") or {}
        self.wait = None if agent.get("idle") else float(human.get("offer_wait", DEFAULT_OFFER_WAIT))

    @property
    def pending(self) -> bool:
        return self.offer.pending

    def start(self, offers_left: int) -> None:
        """Say the offer (or, with none left, goodbye); runs in its own greenlet."""
        decision = self.offer.open(offers_left)
        if decision.action == "hangup":
            self._note("declined", why="no_offers_left")
            self.finish(decision)
            return
        self.port.wait_heard(self.say(decision.reply or "", "offer"))
        if self.wait is not None:
            self._await_answer(self.wait)

    def answer(self, text: str, confidence: float) -> Decision:
        """The caller's turn while the offer stands."""
        decision = self.offer.answer(text, confidence)
        if decision.intent == "retry.yes":
            self._note("retry", answer=text)
        elif decision.action == "hangup":
            self._note("declined", why="no" if decision.intent else "unclear", answer=text)
        return decision

    def cancel(self) -> None:
        """Another transfer began (the API, the dashboard): the offer no longer stands."""
        self.offer.pending = False

    def finish(self, decision: Decision) -> None:
        self.port.wait_heard(self.say(decision.reply or "", "goodbye"))
        self.port.end(decision.reason or "no_answer")

    def _await_answer(self, wait: float) -> None:
        last = time.monotonic()
        while self.offer.pending:
            gevent.sleep(0.1)
            if self.speaking() or self.port.audible():
                last = time.monotonic()
            elif time.monotonic() - last >= wait:
                self._note("declined", why="silence")
                self.finish(self.offer.silence())
                return

    def _note(self, what: str, **info: Any) -> None:
        self.port.publish(ev.Note(call_id=self.port.call_id, what=f"handoff.{what}", info=info))
