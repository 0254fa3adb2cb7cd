"""The call's side of a transfer to a person: start it, hear how the ring went, take the caller back.

A mixin of ``Call`` (streams/session/call.py), kept apart so the call's lifecycle reads on
its own. ``Handoff`` (streams/session/handoff.py) is the state machine; this is what the
call does at each of its steps: states and events, the brief, and, when nobody
answered, the voice pipeline's turn to speak again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from streams import events as ev
from streams.playback import Utterance
from streams.session.briefing import brief_person
from streams.session.handoff import Handoff

if TYPE_CHECKING:
    from streams.session.call import Call


class Transfers:
    """Mixed into ``Call``: ``self`` is the call."""

    def _make_handoff(self: Call) -> Handoff:
        return Handoff(
            self.agent.get("human"),
            self.settings.caller_id,
            self.agent.get("hold_message"),
            say=lambda text, kind: self.say(text, kind),
            wait_heard=self.wait_heard,
            send=self.link.send,
            spawn=self.tasks.spawn,
            clock=self.clock,
            on_bridged=self._bridged,
            on_failed=self._transfer_failed,
            on_outcome=self._ring_outcome,
        )

    def transfer(
        self: Call,
        numbers: list[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        why: str = "api",
        on_start: Callable[[Utterance], None] | None = None,
    ) -> list[str]:
        """AI to human; raises CallError (nothing changes) when it cannot."""
        targets = self.handoff.begin(numbers, overrides, why, on_start)
        if self.voice is not None:
            self.voice.on_handoff()  # from now on the bot only listens: no replies, no barge-in
        self.publish(ev.HandoffStarted(call_id=self.call_id, numbers=targets, why=why))
        human = self.agent.get("human") or {}
        self.spawn(brief_person, self, targets, why, self._summarize, human.get("handoff_url"))
        return targets

    def hand_off(self: Call, why: str, on_start: Callable[[Utterance], None] | None = None) -> list[str]:
        return self.transfer(why=why, on_start=on_start)

    def bridge_outcome(self: Call, outcome: str, by: str = "platform", leg: str | None = None) -> str:
        """What the platform says of the ring (``answered``/``unanswered``); returns what came of it."""
        if self.ended:
            return "ignored: call ended"
        result = self.handoff.settle(outcome, by, leg)
        self.log.info("bridge %s (%s, leg %s): %s", outcome, by, leg, result)
        return result

    def _bridged(self: Call, numbers: list[str], why: str) -> None:
        self._set_state("handed_off", why=why, numbers=numbers)
        self.log.info("bridge to %s sent; ringing", numbers)

    def _transfer_failed(self: Call, why: str, error: str) -> None:
        self.log.warning("transfer (%s) failed: %s", why, error)
        self.publish(ev.HandoffFailed(call_id=self.call_id, why=why, error=error))

    def _ring_outcome(self: Call, outcome: str, info: dict[str, Any]) -> None:
        """A person answered (the bot stays quiet), or nobody did: the bot has the caller back."""
        self.publish(ev.Note(call_id=self.call_id, what=f"handoff.{outcome}", info=info))
        if outcome == "answered":
            self.log.info("%s answered", info["numbers"])
            return
        self.log.info("nobody answered %s (%s); the bot takes the caller back", info["numbers"], info["by"])
        self._set_state("live", reason="handoff_unanswered")
        if self.voice is not None:
            voice, offers = self.voice, info["offers_left"]
            self._guard(lambda: voice.on_handoff_unanswered(offers), "voice failed after the ring", "voice_error")
        else:  # no bot to come back: end rather than leave the caller in silence
            self.spawn(self._end_soon, "handoff_unanswered", True)
