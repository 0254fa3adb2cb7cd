"""The dashboard's live feed: call events as Server-Sent Events.

Pages listen for a handful of names: ``call`` (a new call), ``state``,
``transcript``, ``transcript.partial``, ``speech.started`` and ``timeline``
(everything else, as it is stored: kind and detail, and the sentence the page shows).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from gevent.queue import Empty, Full, Queue

from streams.events import (
    CallCreated,
    CallEvent,
    EventBus,
    Note,
    PartialTranscript,
    SpeechStarted,
    StateChanged,
    TranscriptLine,
)
from streams.shedding import SHEDDING
from streams.words import end_reason, event_sentence

# Shown even when the feed is shed: a page always knows which calls exist, their states and what was said.
KEPT = (CallCreated, StateChanged, TranscriptLine)


def feed_form(event: CallEvent) -> tuple[str, dict[str, Any]]:
    """The SSE event name and JSON payload a page gets for ``event``."""
    base = {"call_id": event.call_id, "at": event.at}
    if isinstance(event, CallCreated):
        return "call", {**base, **event.detail(), "created_at": event.at}
    if isinstance(event, StateChanged):
        words = {"reason_words": end_reason(event.reason)} if event.reason else {}
        return "state", {**base, **event.info, "state": event.state, "reason": event.reason, **words}
    if isinstance(event, TranscriptLine):
        return "transcript", {**base, "speaker": event.speaker, "text": event.text}
    if isinstance(event, (PartialTranscript, SpeechStarted)):
        return event.kind, {**base, **event.detail()}
    kind, detail = (event.what, event.info) if isinstance(event, Note) else (event.kind, event.detail())
    return "timeline", {**base, "kind": kind, "detail": detail, "sentence": event_sentence(kind, detail)}


def stream_events(
    bus: EventBus,
    only: str | None = None,
    keepalive: float = 15.0,
    still_signed_in: Callable[[], bool] = lambda: True,
    recheck: float = 2.0,
) -> Iterator[str]:
    """SSE text for every live event (or one call's); a stalled browser loses events, never the call.

    The stream outlives the request that opened it, so ``still_signed_in`` is asked again at least every
    ``recheck`` seconds, before an event goes out as well as while idle: a feed whose sign-in has ended (signed
    out, everywhere, a new password) or whose node is shutting down stops within ``recheck``, and sends nothing
    after it (it once kept sending for 15 s, and held a draining worker open)."""
    queue: Queue = Queue(maxsize=500)
    next_check = time.monotonic() + recheck
    last_beat = time.monotonic()

    def receive(event: CallEvent) -> None:
        if only and event.call_id != only:
            return
        if not isinstance(event, KEPT) and SHEDDING.sheds("feed"):
            return  # the loop is late: the page misses this line, the calls lose nothing (streams/shedding.py)
        try:
            queue.put_nowait(event)
        except Full:
            pass

    bus.on_feed(receive)
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                event = queue.get(timeout=recheck)
            except Empty:
                event = None
            now = time.monotonic()
            if now >= next_check:
                if not still_signed_in():
                    return
                next_check = now + recheck
            if event is None:
                if now - last_beat >= keepalive:
                    last_beat = now
                    yield ": keep-alive\n\n"
                continue
            name, payload = feed_form(event)
            yield f"event: {name}\ndata: {json.dumps(payload, default=str, ensure_ascii=False)}\n\n"
    finally:
        bus.off_feed(receive)
