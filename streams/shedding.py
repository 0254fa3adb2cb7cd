"""What a node behind on its event loop stops doing, least important first: the one place the order lives (#21.2).

When the loop runs late, every greenlet waits: the readers of every call's socket
among them. Work that only copies or shows a call is given up, in this order, as the
measured loop lag (``streams/loopwatch.py``) passes each mark:

1. ``listen_in``: the supervisor's copy of both legs (app/dashboard/listen_in.py);
2. ``partials``: partial transcripts (published per call, shown live);
3. ``feed``: the dashboard's live feed, except a call's arrival, its states and its final transcript;
4. ``recording``: the caller's leg of the stereo WAV (the gap is written as silence).

Never shed: a caller frame's way to the recogniser, which is what a turn is heard
from, nor its counting (``frames_in``). Each thing shed is counted here (for
/metrics) and, for a call's own copies, in the call's stats (``shed``).

``SHED_MARKS_MS`` (app/config.py) moves the marks; ``off`` for one kind never sheds it (a
deployment whose recordings must be whole sets the last one off).

The level rises at once with a late sample and falls back gradually (``decay`` per
sample), so one stall sheds for a moment after it rather than for one frame.
"""

from __future__ import annotations

from collections import Counter

ORDER = ("listen_in", "partials", "feed", "recording")  # shed first ... shed last
MARKS = (0.05, 0.1, 0.2, 0.5)  # seconds of loop lag at which each of ORDER is shed


class Shedding:
    def __init__(self, marks: tuple[float, ...] = MARKS, decay: float = 0.9) -> None:
        assert len(marks) == len(ORDER) and list(marks) == sorted(marks), "one mark per kind, rising"
        self.marks = dict(zip(ORDER, marks, strict=True))
        self.decay = decay
        self.level = 0.0  # seconds: the loop lag as shedding sees it
        self.counts: Counter[str] = Counter()  # what was shed, process-wide

    def configure(self, marks: tuple[float, ...]) -> None:
        """Each kind's mark in ORDER (seconds; ``math.inf``: never shed it), e.g. from SHED_MARKS_MS."""
        assert len(marks) == len(ORDER), "one mark per kind"
        self.marks = dict(zip(ORDER, marks, strict=True))

    def observe(self, lag: float) -> None:
        """One loop-lag sample (seconds)."""
        self.level = max(lag, self.level * self.decay)

    def sheds(self, what: str, counters: Counter[str] | None = None) -> bool:
        """True when ``what`` (one of ORDER) is given up now; counted when it is, here and in a call's
        ``counters`` (``shed_<what>``) when given."""
        if self.level < self.marks[what]:
            return False
        self.counts[what] += 1
        if counters is not None:
            counters[f"shed_{what}"] += 1
        return True

    def shed_now(self) -> list[str]:
        return [what for what in ORDER if self.level >= self.marks[what]]

    def reset(self) -> None:
        self.level = 0.0


SHEDDING = Shedding()
