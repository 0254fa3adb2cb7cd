"""AI to human: the hold line, then a bridge PCMO over the socket; the stream stays open.

    idle --begin--> holding --hold line heard--> bridged
      ^                |
      +----failed------+   (nothing was sent: a later transfer may try again)

Targets are checked before anything changes, so a transfer with nowhere to go
leaves the call as it was. While one transfer is holding, another is refused
with ``TransferInProgress``; once bridged, with ``AlreadyHandedOff``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actions import PCMO, ActionValidationError

from .errors import AlreadyHandedOff, CallError, InvalidTransfer, NoTransferTarget, TransferInProgress
from .playback import Utterance

BRIDGE_OPTIONS = ("timeout", "loop", "duration", "ring_type")


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
        on_bridged: Callable[[list[str], str], None],
        on_failed: Callable[[str, str], None],
    ) -> None:
        self.human = human
        self.default_caller_id = default_caller_id
        self.hold_message = hold_message
        self.state = "idle"
        self._say, self._wait_heard, self._send, self._spawn = say, wait_heard, send, spawn
        self._on_bridged, self._on_failed = on_bridged, on_failed

    @property
    def active(self) -> bool:
        """True from the moment a transfer begins: the bot stops answering."""
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
        if self.state == "holding":
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
        self.state = "bridged"
        self._on_bridged([str(c["number"]) for c in bridge[0]["connect"]], why)
