"""The playback clock: what we have sent the caller, and what they have heard.

Piopiy never confirms playback (PROTOCOL.md section 5), so the session keeps
its own clock: audio leaves in whole-frame chunks no further ahead of real time
than ``lead_ms``, each chunk's play time is known, and so at any moment we know
how much of every utterance the caller has heard. Pure: the caller passes
``now`` (monotonic seconds).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.audio import bytes_per_ms, frame_bytes, pad_to_frames

_ids = itertools.count(1)


@dataclass
class Utterance:
    """One thing the caller hears: a reply, a prompt, a piece of music."""

    text: str
    kind: str = "speech"
    pcm: bytearray = field(default_factory=bytearray)
    complete: bool = True  # False while a producer is still appending audio
    id: int = field(default_factory=lambda: next(_ids))
    sent: int = 0
    segments: list[list[float]] = field(default_factory=list)  # [start, seconds] on the clock
    cut: bool = False
    first_sent_at: float | None = None  # when its first audio went on the wire
    on_start: Callable[[Utterance], None] | None = field(default=None, repr=False)  # called once, at first send
    on_sent: Callable[[Utterance], None] | None = field(default=None, repr=False)  # called once, after the last

    def append(self, pcm: bytes) -> None:
        self.pcm.extend(pcm)

    def finish(self, rate: int) -> None:
        """No more audio will come: pad to whole frames."""
        padded = pad_to_frames(bytes(self.pcm), rate)
        self.pcm.extend(padded[len(self.pcm) :])
        self.complete = True

    def heard_ms(self, now: float) -> float:
        return 1000 * sum(min(max(now - start, 0.0), seconds) for start, seconds in self.segments)

    def heard_by(self, now: float) -> bool:
        """True once the caller has heard all of it (or it was cut): the one answer to "has it been heard"."""
        if self.cut:
            return True
        if not self.complete or self.sent < len(self.pcm):
            return False
        end = self.end_time()
        return end is None or end <= now

    def end_time(self) -> float | None:
        if not self.segments:
            return None
        start, seconds = self.segments[-1]
        return start + seconds


class Playback:
    def __init__(self, rate: int, chunk_ms: int = 100, lead_ms: int = 200, max_queued: int = 32) -> None:
        if chunk_ms % 20:
            raise ValueError("chunk_ms must be a multiple of 20")
        self.rate = rate
        self.chunk_bytes = frame_bytes(rate, chunk_ms)
        self.lead = lead_ms / 1000
        self.max_queued = max_queued
        self.queue: deque[Utterance] = deque()
        self.current: Utterance | None = None
        self.clock = 0.0  # when everything sent so far will have been heard
        self.recent: deque[Utterance] = deque(maxlen=8)

    # -- producer side --------------------------------------------------------------
    def enqueue(self, utterance: Utterance) -> bool:
        """Queue an utterance; False when the queue is full (the caller decides what to drop)."""
        if len(self.queue) >= self.max_queued:
            return False
        if utterance.complete:
            utterance.finish(self.rate)
        self.queue.append(utterance)
        return True

    # -- writer side ----------------------------------------------------------------
    def next_chunk(self, now: float) -> tuple[Utterance, bytes, float] | None:
        """The next chunk that may go on the wire now, with its play time, or None."""
        if self.clock - now > self.lead:
            return None
        while True:
            if self.current is None:
                if not self.queue:
                    return None
                self.current = self.queue.popleft()
            utterance = self.current
            available = len(utterance.pcm) - utterance.sent
            if available <= 0 and utterance.complete:
                self.recent.append(utterance)
                self.current = None
                continue
            # A streaming producer's partial audio goes out in whole frames only.
            size = min(self.chunk_bytes, available)
            if not utterance.complete:
                size -= size % frame_bytes(self.rate)
            if size <= 0:
                return None
            chunk = bytes(utterance.pcm[utterance.sent : utterance.sent + size])
            if utterance.sent == 0:
                utterance.first_sent_at = now
            utterance.sent += size
            start = max(now, self.clock)
            seconds = size / bytes_per_ms(self.rate) / 1000
            if utterance.segments and abs(utterance.segments[-1][0] + utterance.segments[-1][1] - start) < 1e-6:
                utterance.segments[-1][1] += seconds
            else:
                utterance.segments.append([start, seconds])
            self.clock = start + seconds
            return utterance, chunk, start

    def wait_hint(self, now: float) -> float | None:
        """Seconds until a chunk may be sent; None when nothing is waiting to be sent."""
        pending = self.queue or (self.current is not None and (len(self.current.pcm) > self.current.sent))
        if not pending:
            return None
        return max(0.0, self.clock - now - self.lead)

    # -- state ----------------------------------------------------------------------
    def audible(self, now: float) -> bool:
        """True while the caller is hearing, or about to hear, something of ours."""
        current = self.current
        pending = current is not None and (not current.complete or len(current.pcm) > current.sent)
        return self.clock > now or bool(self.queue) or pending

    def drained_at(self) -> float:
        return self.clock

    def interrupt(self, now: float) -> list[dict[str, Any]]:
        """Drop everything not yet heard; return what was cut, with how much was heard."""
        cuts = []
        candidates = [u for u in self.recent if (u.end_time() or 0) > now]
        if self.current is not None:
            candidates.append(self.current)
        for utterance in candidates:
            heard = utterance.heard_ms(now)
            total = len(utterance.pcm) / bytes_per_ms(self.rate)
            utterance.cut = True
            # Trim the clock segments to what was actually heard.
            utterance.segments = [[s, min(d, max(now - s, 0.0))] for s, d in utterance.segments if s < now]
            cuts.append(
                {
                    "utterance": utterance.id,
                    "kind": utterance.kind,
                    "text": utterance.text,
                    "heard_ms": round(heard),
                    "total_ms": round(total),
                    "heard_text": heard_prefix(utterance.text, heard / total if total else 0.0),
                }
            )
        dropped = len(self.queue)
        self.queue.clear()
        self.current = None
        self.clock = min(self.clock, now)
        if dropped:
            cuts.append({"dropped_queued": dropped})
        return cuts


def heard_prefix(text: str, fraction: float) -> str:
    """The words of ``text`` the caller roughly heard, by the fraction of audio played."""
    words = text.split()
    if not words:
        return ""
    count = int(len(words) * min(max(fraction, 0.0), 1.0) + 0.5)
    return " ".join(words[:count])
