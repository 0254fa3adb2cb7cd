"""AI to human: the hold line, then a bridge PCMO over the socket; the stream stays open.

    idle --begin--> holding --hold line heard, bridge sent--> ringing --a person answered--> bridged
     ^ ^               |                                          |
     | +----failed-----+  (nothing was sent: try again later)     |
     +--------nobody answered (the platform, or the backstop)-----+

Targets are checked before anything changes, so a transfer with nowhere to go
leaves the call as it was. While one transfer is holding or ringing, another is
refused with ``TransferInProgress``; once a person has answered, with
``AlreadyHandedOff``.

The platform says how the ring went (``settle``: a leg-b event routed from the
events webhook). A bridge rings ``timeout`` seconds per round for ``loop``
rounds; if the platform has said nothing by then plus ``human.ring_margin``,
the backstop (``tick``, on the call's clock) calls it unanswered. Unanswered
needs every rung leg to have missed (a group ring cancels the other phones
once one answers), and a leg that already settled an earlier ring is stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actions import PCMO, ActionValidationError
from streams.errors import AlreadyHandedOff, CallError, InvalidTransfer, NoTransferTarget, TransferInProgress
from streams.playback import Utterance

BRIDGE_OPTIONS = ("timeout", "loop", "duration", "ring_type")
DEFAULT_RING_MARGIN = 10.0  # seconds past timeout x loop before the backstop calls a ring unanswered
DEFAULT_RETRY_OFFERS = 1  # times the bot offers to ring again after nobody answered


def add_bridge(
    pcmo: PCMO,
    human: Mapping[str, Any] | None,
    default_caller_id: str,
    numbers: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PCMO:
    """Add the bridge to the agent's people (or to ``numbers``), options overridable."""
    human = dict(human or {})
    targets = list(numbers or human.get("numbers") or [])
    if not targets:
        raise NoTransferTarget(
            "No numbers to transfer to: give numbers, or set human.numbers in the agent.", field="numbers"
        )
    options = {key: human[key] for key in BRIDGE_OPTIONS if key in human}
    options.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return pcmo.call(targets, human.get("caller_id") or default_caller_id, options)


@dataclass
class Ring:
    """One bridge that is ringing: who, until when (the backstop), which legs have missed."""

    numbers: list[str]
    why: str
    deadline: float
    legs_expected: int
    missed: set[str] = field(default_factory=set)


class Handoff:
    """One call's transfer to a person. ``begin`` returns at once; the bridge follows the hold line."""

    def __init__(
        self,
        human: Mapping[str, Any] | None,
        default_caller_id: str,
        hold_message: str | None,
        *,
        say: Callable[[str, str], Utterance | None],
        wait_heard: Callable[[Utterance | None], bool],
        send: Callable[[list[dict[str, Any]]], None],
        spawn: Callable[..., Any],
        clock: Callable[[], float],
        on_bridged: Callable[[list[str], str], None],
        on_failed: Callable[[str, str], None],
        on_outcome: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.human = dict(human or {})
        self.default_caller_id = default_caller_id
        self.hold_message = hold_message
        self.state = "idle"
        self.unanswered = 0  # rings nobody answered, this call
        self.ring: Ring | None = None
        self._stale: set[str] = set()  # legs that settled an earlier ring
        self._say, self._wait_heard, self._send, self._spawn = say, wait_heard, send, spawn
        self._clock = clock
        self._on_bridged, self._on_failed, self._on_outcome = on_bridged, on_failed, on_outcome

    @property
    def active(self) -> bool:
        """True from the moment a transfer begins until nobody answered: the bot does not answer."""
        return self.state != "idle"

    def begin(
        self,
        numbers: list[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        why: str = "api",
        on_start: Callable[[Utterance], None] | None = None,
    ) -> list[str]:
        """Start a transfer; return who will ring. Refused (and nothing changes) when it cannot happen."""
        if self.state == "bridged":
            raise AlreadyHandedOff("The call has already been handed to a person.")
        if self.state in ("holding", "ringing"):
            raise TransferInProgress("A transfer of this call is already under way.")
        try:
            bridge = add_bridge(PCMO(), self.human, self.default_caller_id, numbers, overrides).PCMO()
        except ActionValidationError as exc:
            raise InvalidTransfer(f"The transfer is not valid: {exc.messages}") from None
        self.state = "holding"
        self._spawn(self._run, bridge, why, on_start)
        return [str(c["number"]) for c in bridge[0]["connect"]]

    def _run(self, bridge: list[dict[str, Any]], why: str, on_start: Callable[[Utterance], None] | None = None) -> None:
        try:
            utterance = self._say(self.hold_message, "hold") if self.hold_message else None
        except CallError:
            utterance = None  # no hold line is better than no transfer
        if utterance is not None and on_start is not None:
            utterance.on_start = on_start
        self._wait_heard(utterance)  # bounded: a hold line that never finishes still ends in a bridge
        try:
            self._send(bridge)
        except CallError as exc:
            self.state = "idle"
            self._on_failed(why, exc.message)
            return
        action = bridge[0]
        numbers = [str(c["number"]) for c in action["connect"]]
        window = float(action.get("timeout", 40)) * int(action.get("loop", 1))
        margin = float(self.human.get("ring_margin", DEFAULT_RING_MARGIN))
        legs = len(numbers) * int(action.get("loop", 1))  # every number rings once a round, together or in turn
        self.ring = Ring(numbers, why, self._clock() + window + margin, legs)
        self.state = "ringing"
        self._on_bridged(numbers, why)

    # -- how the ring went -------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """The backstop: a ring the platform said nothing about is unanswered once its window has passed."""
        if self.state == "ringing" and self.ring is not None and now >= self.ring.deadline:
            self.settle("unanswered", "timer")

    def settle(self, outcome: str, by: str = "platform", leg: str | None = None) -> str:
        """Apply what the platform (or the timer) says of the ring; return what came of it.

        Anything that does not fit (no ring under way, a repeat, a leg of an earlier ring) is
        ``ignored`` and changes nothing.
        """
        ring = self.ring
        if self.state != "ringing" or ring is None:
            return f"ignored: {self.state}"
        if leg is not None and leg in self._stale:
            return "ignored: stale leg"
        if outcome == "answered":
            self.state = "bridged"
            self._finish(ring, leg)
            self._on_outcome("answered", {"numbers": ring.numbers, "by": by, "attempt": self.unanswered + 1})
            return "answered"
        if by != "timer":
            ring.missed.add(leg or f"leg{len(ring.missed)}")
            if len(ring.missed) < ring.legs_expected:
                return f"missed {len(ring.missed)} of {ring.legs_expected} legs"
        self.state = "idle"
        self.unanswered += 1
        self._finish(ring, leg)
        retry_offers = int(self.human.get("retry_offers", DEFAULT_RETRY_OFFERS))
        info = {"numbers": ring.numbers, "by": by, "attempt": self.unanswered,
                "offers_left": max(0, retry_offers - self.unanswered + 1)}  # fmt: skip
        self._on_outcome("unanswered", info)
        return "unanswered"

    def _finish(self, ring: Ring, leg: str | None) -> None:
        self._stale |= ring.missed | ({leg} if leg else set())
        self.ring = None
