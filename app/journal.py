"""Storage as a subscriber: every call event this node publishes is written here, once.

The call and the voice pipeline never touch the database; they publish, and
this turns each event into a timeline line, a transcript line or a state
change. Live-only events (partial transcripts, speech starts) are not stored.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from streams.events import (
    Answered,
    CallCreated,
    CallEnded,
    CallEvent,
    EventBus,
    Note,
    PartialTranscript,
    SpeechStarted,
    StateChanged,
    TranscriptLine,
)

from .calls import STREAM_STATES, CallStore
from .writes import Writes

LIVE_ONLY = (CallCreated, PartialTranscript, SpeechStarted)


class Journal:
    """Writes each event through ``writes``: at once, or after a database outage, in order (app/writes.py)."""

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
