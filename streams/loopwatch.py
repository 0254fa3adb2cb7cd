"""How late the gevent loop runs: the figure that says whether anything blocks it.

A greenlet sleeps ``interval`` again and again and records how much longer than
asked each sleep took. Samples (and STT lag samples from the voice pipeline)
go into bounded reservoirs that /api/v1/runtime reports as percentiles.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from streams.shedding import SHEDDING


class Samples:
    """The last ``size`` measurements in seconds, with percentiles on demand."""

    def __init__(self, size: int = 20000) -> None:
        self.values: deque[float] = deque(maxlen=size)
        self.count = 0  # values ever added (a reader takes those since its last look: app/runtime/load.py)

    def add(self, value: float) -> None:
        self.values.append(value)
        self.count += 1

    def reset(self) -> None:
        self.values.clear()

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        if not ordered:
            return {"n": 0}

        def pct(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

        return {
            "n": len(ordered),
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "max_ms": round(1000 * ordered[-1], 2),
        }


LOOP_LAG = Samples()
STT_LAG = Samples()


def watch_loop(interval: float = 0.05) -> None:
    """Run forever in a greenlet of its own."""
    import gevent

    while True:
        started = time.monotonic()
        gevent.sleep(interval)
        lag = max(0.0, time.monotonic() - started - interval)
        LOOP_LAG.add(lag)
        SHEDDING.observe(lag)  # what a late loop stops doing (streams/shedding.py)


def start() -> None:
    import gevent

    gevent.spawn(watch_loop)
