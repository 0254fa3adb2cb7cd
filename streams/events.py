"""Call events: what happened to a call, typed, JSON-serialisable, published on one bus.

An event is never refused: it says what already happened. The call, the voice
pipeline and the HTTP edges publish; storage, metrics and the dashboard's live
feed subscribe. ``to_dict``/``from_dict`` round-trip every event, so the same
objects can cross processes (Redis) unchanged.

    bus.publish(Turn(call_id=cid, n=1, text="yes", ...))
      -> local subscribers (storage, metrics: this node's own calls)
      -> feed subscribers (the dashboard: every node's calls)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blinker import Signal

log = logging.getLogger(__name__)

EVENT_TYPES: dict[str, type[CallEvent]] = {}


@dataclass(frozen=True, kw_only=True)
class CallEvent:
    """Base of every event. ``kind`` names it on the wire and on the stored timeline."""

    kind: ClassVar[str] = ""
    call_id: str
    at: float = field(default_factory=time.time)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            EVENT_TYPES[cls.kind] = cls

    def detail(self) -> dict[str, Any]:
        """The event's own fields (everything but call id and time)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("call_id", "at")}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "at": self.at, **self.detail()}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CallEvent:
        cls = EVENT_TYPES.get(str(data.get("kind")))
        if cls is None:
            raise ValueError(f"unknown event kind {data.get('kind')!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# -- the call's life ---------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CallCreated(CallEvent):
    kind = "call"
    direction: str
    from_number: str | None = None
    to_number: str | None = None
    agent: str | None = None
    state: str = "created"


@dataclass(frozen=True, kw_only=True)
class StateChanged(CallEvent):
    kind = "state"
    state: str
    reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CallEnded(CallEvent):
    """The stream session is over: its counters and recording (the state change follows)."""

    kind = "ended"
    reason: str
    stats: dict[str, Any] = field(default_factory=dict)
    recording: str | None = None


# -- speech ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TranscriptLine(CallEvent):
    kind = "transcript"
    speaker: str  # caller | bot
    text: str
    line_kind: str | None = None  # for the bot: greeting, reply, hold, goodbye, speech
    confidence: float | None = None


@dataclass(frozen=True, kw_only=True)
class PartialTranscript(CallEvent):
    kind = "transcript.partial"
    text: str


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(CallEvent):
    kind = "speech.started"


@dataclass(frozen=True, kw_only=True)
class Turn(CallEvent):
    """One caller turn and what the policy made of it."""

    kind = "turn"
    n: int
    text: str
    confidence: float
    intent: str | None = None
    miss: bool = False
    action: str | None = None
    speech_ms: int = 0
    ended_at: float | None = None  # epoch seconds when the caller's speech ended
    ended_by: str = "silence"  # what ended the turn: silence (hangover), smart (the model), max_wait
    waited_ms: float = 0.0  # the caller's pause before the turn was ended
    completeness: list[float] = field(default_factory=list)  # the turn model's P(complete), one per pause


@dataclass(frozen=True, kw_only=True)
class ReplyTimed(CallEvent):
    """End of the caller's speech to the reply's first audio on the wire."""

    kind = "reply"
    n: int
    latency_ms: float


@dataclass(frozen=True, kw_only=True)
class Spoken(CallEvent):
    """Our audio for one utterance has all gone out: when it started playing and how long it lasts."""

    kind = "spoken"
    utterance: int
    line_kind: str
    text: str
    started_at: float  # epoch seconds of its first audio on the wire
    ms: int


@dataclass(frozen=True, kw_only=True)
class Interrupted(CallEvent):
    """Our audio was cut (barge-in or a supervisor's break): what the caller had heard."""

    kind = "interrupt"
    why: str
    cuts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Answered(CallEvent):
    """Who answered an outbound call: human, machine or unknown (answering-machine detection)."""

    kind = "answered"
    by: str
    why: str = ""


# -- control and handoff -------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CommandApplied(CallEvent):
    kind = "control"
    action: str
    by: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HandoffStarted(CallEvent):
    kind = "handoff"
    numbers: list[str]
    why: str


@dataclass(frozen=True, kw_only=True)
class HandoffBriefed(CallEvent):
    """The context for the person taking the call (warm transfer): summary, intents, last lines."""

    kind = "handoff.brief"
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HandoffFailed(CallEvent):
    kind = "handoff.failed"
    why: str
    error: str


# -- media and everything else on the timeline --------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Played(CallEvent):
    kind = "play"
    file: str
    ms: int | None = None
    mode: str = "stream"


@dataclass(frozen=True, kw_only=True)
class PlayFailed(CallEvent):
    kind = "play.failed"
    file: str
    error: str


@dataclass(frozen=True, kw_only=True)
class Note(CallEvent):
    """Anything else worth a timeline line: ``what`` becomes the stored kind.

    Used for rarer facts (a replaced socket, a platform text event, a voice
    switch, a webhook repeat) so that the vocabulary above stays small.
    """

    kind = "note"
    what: str
    info: dict[str, Any] = field(default_factory=dict)


# -- the bus ---------------------------------------------------------------------------------
Subscriber = Callable[[CallEvent], None]


class EventBus:
    """One in-process bus (blinker). ``publish`` is for events that happened on this node.

    Local subscribers (storage, metrics) see only this node's events; feed
    subscribers (the dashboard) also see events relayed from other nodes by
    ``deliver``. A failing subscriber is logged and never reaches the publisher:
    a broken dashboard tab must not end a call.
    """

    def __init__(self) -> None:
        self._local = Signal("call-events-local")
        self._feed = Signal("call-events-feed")
        self.relay: Subscriber | None = None  # set by a cross-process bus, if any

    def publish(self, event: CallEvent) -> None:
        self._send(self._local, event)
        self._send(self._feed, event)
        if self.relay is not None:
            self._call(self.relay, event)

    def deliver(self, event: CallEvent) -> None:
        """An event from another node: the live feed only (that node stored it)."""
        self._send(self._feed, event)

    def on_local(self, fn: Subscriber) -> None:
        self._local.connect(fn, weak=False)

    def on_feed(self, fn: Subscriber) -> None:
        self._feed.connect(fn, weak=False)

    def off_feed(self, fn: Subscriber) -> None:
        self._feed.disconnect(fn)

    def _send(self, signal: Signal, event: CallEvent) -> None:
        for receiver in list(signal.receivers_for(event)):
            self._call(receiver, event)

    @staticmethod
    def _call(receiver: Subscriber, event: CallEvent) -> None:
        try:
            receiver(event)
        except Exception:  # noqa: BLE001 - one subscriber's failure is its own
            log.exception("call %s: a subscriber failed on %s", event.call_id, event.kind)
