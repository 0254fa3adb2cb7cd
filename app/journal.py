"""Storage as a subscriber: every call event this node publishes is written here, once.

The call and the voice pipeline never touch the database; they publish, and
this turns each event into a timeline line, a transcript line or a state
change. Live-only events (partial transcripts, speech starts) are not stored.
"""

from __future__ import annotations

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

from .calls import CallStore

LIVE_ONLY = (CallCreated, PartialTranscript, SpeechStarted)


class Journal:
    def __init__(self, store: CallStore) -> None:
        self.store = store

    def __call__(self, event: CallEvent) -> None:
        store = self.store
        if isinstance(event, LIVE_ONLY):
            return
        if isinstance(event, StateChanged):
            store.set_state(event.call_id, event.state, reason=event.reason, at=event.at, **event.info)
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
