"""Storage as a subscriber: every call event this node publishes is written here, once.

The call and the voice pipeline never touch the database; they publish, and
this turns each event into a timeline line, a transcript line or a state
change. Live-only events (partial transcripts, speech starts) are not stored.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from app.storage.calls import STREAM_STATES, CallStore
from app.storage.outbox import Outbox
from app.storage.writes import Writes
from streams.events import (
    Answered,
    CallCreated,
    CallEnded,
    CallEvent,
    EventBus,
    HandoffFailed,
    HandoffStarted,
    Note,
    PartialTranscript,
    SpeechStarted,
    StateChanged,
    TranscriptLine,
)

LIVE_ONLY = (CallCreated, PartialTranscript, SpeechStarted)
# Where a transfer stands, for the API's ``handoff``: the timeline line that moved it -> its state.
HANDOFF_STATES = {"handoff": "holding", "handoff.failed": "failed", "handoff.answered": "bridged",
                  "handoff.unanswered": "unanswered", "handoff.retry": "retrying",
                  "handoff.declined": "declined"}  # fmt: skip

# A transfer's states that are announced to CALL_WEBHOOK_URL, as the event that announces them.
TRANSFER_EVENTS = {"holding": "transfer.started", "bridged": "transfer.answered", "unanswered": "transfer.unanswered"}


def handoff_state(event: CallEvent, before: dict[str, Any] | None) -> dict[str, Any] | None:
    """The call's transfer state after ``event`` (None: the event does not move it)."""
    if isinstance(event, StateChanged) and event.state == "handed_off":
        return {**(before or {}), "state": "ringing", "at": event.at}
    kind = event.what if isinstance(event, Note) else event.kind
    if kind not in HANDOFF_STATES or not isinstance(event, (Note, HandoffStarted, HandoffFailed)):
        return None
    state = {**(before or {}), "state": HANDOFF_STATES[kind], "at": event.at}
    if isinstance(event, HandoffStarted):
        state.update(numbers=event.numbers, why=event.why, attempts=state.get("attempts", 0) + 1)
    elif isinstance(event, Note) and "by" in event.info:
        state["by"] = event.info["by"]  # platform, or timer: the backstop decided
    return state


class Journal:
    """Stores each event through ``writes``: queued, in order, kept through a database outage (storage/writes.py)."""

    def __init__(self, store: CallStore, writes: Writes | None = None, node: str | None = None) -> None:
        self.store = store
        self.writes = writes or Writes()
        self.node = node  # stored as the holder of the calls this node streams

    def __call__(self, event: CallEvent) -> None:
        if isinstance(event, LIVE_ONLY):
            return
        self.writes.submit(f"call {event.call_id}: {event.kind}", partial(self.store_event, event))

    def store_event(self, event: CallEvent) -> None:
        store = self.store
        self._track_handoff(event)
        if isinstance(event, StateChanged):
            held_by = self.node if event.state in STREAM_STATES else None
            store.set_state(event.call_id, event.state, reason=event.reason, at=event.at, held_by=held_by, **event.info)
        elif isinstance(event, TranscriptLine):
            store.add_transcript(event.call_id, event.speaker, event.text, at=event.at)
        elif isinstance(event, Answered):
            store.update(event.call_id, extra={"answered_by": event.by})
            store.add_timeline(event.call_id, event.kind, event.detail(), at=event.at)
        elif isinstance(event, CallEnded):
            extra: dict[str, Any] = {"stream": event.stats}
            if event.recording:
                extra["recording"] = event.recording
            store.update(event.call_id, extra=extra)
        elif isinstance(event, Note):
            store.add_timeline(event.call_id, event.what, event.info, at=event.at)
        else:
            store.add_timeline(event.call_id, event.kind, event.detail(), at=event.at)

    def _track_handoff(self, event: CallEvent) -> None:
        """Keep ``extra.handoff`` (state, numbers, attempts, by) as the transfer moves."""
        if handoff_state(event, None) is None:
            return  # cheap: most events never touch a transfer
        call = self.store.get(event.call_id)
        if call is not None:
            state = handoff_state(event, call["extra"].get("handoff"))
            self.store.update(event.call_id, extra={"handoff": state})
            if state is not None and state["state"] in TRANSFER_EVENTS and self.store.announce():  # webhook (#23.2)
                Outbox(self.store.db).add(event.call_id, TRANSFER_EVENTS[state["state"]], {"handoff": state})


def create_call(store: CallStore, bus: EventBus, **fields: Any) -> dict[str, Any]:
    """Insert a call (and its first timeline lines) and announce it on the live feed."""
    call = store.create(**fields)
    bus.publish(
        CallCreated(
            call_id=call["id"],
            at=call["created_at"],
            direction=call["direction"],
            from_number=call["from_number"],
            to_number=call["to_number"],
            agent=call["agent"],
            state=call["state"],
        )
    )
    return call
