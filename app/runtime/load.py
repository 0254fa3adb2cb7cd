"""How loaded this node is, measured, and whether it takes another call (#21.1).

A call costs a different share of a machine on every machine (and a PaaS dyno may
have less than the cores it shows), so a fixed ``MAX_CALLS`` either wastes a big
machine or overloads a small one. Instead the node measures what degrades its
admitted calls first, and reports one load figure in 0..1 (as LiveKit Agents'
workers do for their dispatcher; the idea only, not their code):

* event-loop lag (``streams/loopwatch.py``): every frame, timer and reply waits on it;
* STT wait (audio queued for vosk until its result came back);
* the process's CPU against the cores it may use (affinity, cgroup ``cpu.max``),
  shared by the workers of this machine;
* the event loop's own CPU (the main thread's, ``time.thread_time``) against one core:
  a gevent worker's Python runs on one core at a time, so its loop saturates at one
  core however many the machine has (measured: one worker on 2 cores held 75 phrase
  calls at 98% of a core and failed at 112 at the same 98%; its share of 2 cores never
  passed 0.5, so the CPU signal alone never refused a call).

Each is divided by the level at which calls degrade (``ADMIT_LOOP_LAG_MS``,
``ADMIT_STT_WAIT_MS``, ``ADMIT_CPU``) and averaged over ``ADMIT_WINDOW`` seconds;
the load is the largest, at most 1. Hysteresis: the node stops taking calls at
``ADMIT_HIGH`` and takes them again only at or below ``ADMIT_LOW``, so it does
not flap on every sample. ``headroom`` is the pure part, tested with made-up samples.

A burst outruns any measurement: 150 calls offered within 7 s were all admitted,
as their load showed only once they talked. So each admission is also projected
(``Load.admit``): the linear signals (the two CPU shares) now, plus the calls admitted
within the window times the load one call adds (learned as load over live calls; before
there is anything to learn from, ``ADMIT_HIGH / ADMIT_BURST``, i.e. a fresh node takes
``ADMIT_BURST`` calls at once and then as many as it has measured room for).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.loopwatch import LOOP_LAG, STT_LAG, Samples
from streams.machine import usable_cores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    loop_lag: float = 0.06  # seconds of loop lag at which calls degrade (load 1)
    stt_wait: float = 0.4  # seconds of STT wait at which calls degrade
    cpu: float = 0.85  # share of the process's cores at which calls degrade
    loop_cpu: float = 0.85  # share of one core the event loop's thread uses at which calls degrade
    burst: int = 30  # calls a node takes at once before it has measured what one costs
    free_weight: float = 3.0  # a free-speech call counts as this many in a burst's projection
    high: float = 0.8  # stop taking calls at this load
    low: float = 0.6  # take them again at or below this one
    window: float = 5.0  # seconds the figures are averaged over

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Limits:
        return cls(
            loop_lag=config["ADMIT_LOOP_LAG_MS"] / 1000,
            stt_wait=config["ADMIT_STT_WAIT_MS"] / 1000,
            cpu=config["ADMIT_CPU"],
            loop_cpu=config["ADMIT_LOOP_CPU"],
            burst=config["ADMIT_BURST"],
            free_weight=config["ADMIT_FREE_WEIGHT"],
            high=config["ADMIT_HIGH"],
            low=min(config["ADMIT_LOW"], config["ADMIT_HIGH"]),
            window=config["ADMIT_WINDOW"],
        )


@dataclass(frozen=True)
class Sample:
    """One tick: the worst loop lag and STT wait seen since the last one, and the CPU share over it."""

    at: float
    loop_lag: float
    stt_wait: float
    cpu: float
    loop_cpu: float = 0.0
    active: int = 0  # live calls in this process at the tick


@dataclass(frozen=True)
class Figures:
    loop_lag: float  # seconds, mean over the window
    stt_wait: float
    cpu: float  # share of the cores this process may use
    load: float  # 0..1
    loop_cpu: float = 0.0  # share of one core the loop's thread used
    linear: float = 0.0  # the part of the load that grows with the calls (the CPU shares), uncapped
    per_call: float | None = None  # linear load per live call, when there were enough calls to say

    def to_dict(self) -> dict[str, float | None]:
        return {
            "load": round(self.load, 3),
            "loop_lag_ms": round(self.loop_lag * 1000, 1),
            "stt_wait_ms": round(self.stt_wait * 1000, 1),
            "cpu": round(self.cpu, 3),
            "loop_cpu": round(self.loop_cpu, 3),
            "per_call": round(self.per_call, 5) if self.per_call is not None else None,
        }


IDLE = Figures(0.0, 0.0, 0.0, 0.0)


def headroom(samples: list[Sample], now: float, limits: Limits) -> Figures:
    """The window's figures: each signal's mean over the samples of the last ``limits.window`` seconds."""
    recent = [s for s in samples if now - s.at <= limits.window]
    if not recent:
        return IDLE
    n = len(recent)
    lag = sum(s.loop_lag for s in recent) / n
    wait = sum(s.stt_wait for s in recent) / n
    cpu = sum(s.cpu for s in recent) / n
    loop_cpu = sum(s.loop_cpu for s in recent) / n
    linear = max(cpu / limits.cpu, loop_cpu / limits.loop_cpu)
    load = max(lag / limits.loop_lag, wait / limits.stt_wait, linear)
    active = sum(s.active for s in recent) / n
    per_call = linear / active if active >= MIN_CALLS_TO_LEARN else None
    return Figures(lag, wait, cpu, min(1.0, load), loop_cpu, linear, per_call)


MIN_CALLS_TO_LEARN = 3  # fewer live calls say little about what one costs (the idle loop's own work dominates)


def projected(linear: float, per_call: float | None, recent_admissions: float, limits: Limits) -> float:
    """The linear load once the calls admitted within the window talk too (they are not all measured yet)."""
    cost = per_call if per_call is not None else limits.high / max(1, limits.burst)
    return linear + recent_admissions * cost


def call_weight(agent: Mapping[str, Any] | None, limits: Limits) -> float:
    """What a call for ``agent`` counts as in a burst's projection: a free-speech call decodes with the model's
    whole graph, and its final results cost ~50-100 ms of CPU each against a few for a phrase grammar's
    (measured, bench free against bench phrase: 2.8-3.4% of a core a call against 1.0-1.2%)."""
    return limits.free_weight if agent is not None and not agent.get("grammar") else 1.0


def refusing_next(refusing: bool, load: float, limits: Limits) -> bool:
    """Hysteresis: start refusing at ``high``, stop only at or below ``low``."""
    if refusing:
        return load > limits.low
    return load >= limits.high


class _Newest:
    """The values a reservoir got since the last look (it counts what it was given)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.seen = samples.count

    def worst(self) -> float:
        new = min(self.samples.count - self.seen, len(self.samples.values))
        self.seen = self.samples.count
        if new <= 0:
            return 0.0
        values = self.samples.values
        return max(values[i] for i in range(len(values) - new, len(values)))


class Load:
    """This node's load, sampled every ``tick`` seconds by a greenlet, and why calls were refused."""

    def __init__(
        self,
        limits: Limits,
        cores: float | None = None,
        workers: int = 1,
        tick: float = 0.5,
        active: Callable[[], int] = lambda: 0,
    ) -> None:
        self.limits = limits
        self.active = active  # live calls in this process (the call registry's size)
        self.admitted: deque[tuple[float, float]] = deque()  # when calls were admitted (and their weights)
        self.cores = (cores or usable_cores()) / max(1, workers)  # the workers of a machine share its cores
        self.tick = tick
        self.samples: deque[Sample] = deque(maxlen=max(4, int(limits.window / tick) * 2 + 4))
        self.figures = IDLE
        self.refusing = False
        self.refused: Counter[str] = Counter()  # calls turned away, by reason
        self._lag, self._wait = _Newest(LOOP_LAG), _Newest(STT_LAG)
        self._cpu = (time.monotonic(), time.process_time(), time.thread_time())
        self.task: Any = None  # the sampling greenlet, once started

    def sample(self, now: float | None = None) -> Figures:
        """Take one sample (from the loop watch, the STT waits and the CPU clock) and update the decision."""
        wall, cpu, loop = time.monotonic(), time.process_time(), time.thread_time()  # called on the loop's thread
        elapsed = max(1e-6, wall - self._cpu[0])
        share, loop_share = (cpu - self._cpu[1]) / (elapsed * self.cores), (loop - self._cpu[2]) / elapsed
        self._cpu = (wall, cpu, loop)
        at = wall if now is None else now
        self.samples.append(Sample(at, self._lag.worst(), self._wait.worst(), share, loop_share, self.active()))
        self.figures = headroom(list(self.samples), at, self.limits)
        was, self.refusing = self.refusing, refusing_next(self.refusing, self.figures.load, self.limits)
        if was != self.refusing:
            log.warning("load %s: %s calls", self.figures.to_dict(), "refusing" if self.refusing else "taking")
        return self.figures

    def admit(self, now: float | None = None, weight: float = 1.0) -> str:
        """Whether this node takes one more call now: "" (taken, and counted), or the reason it does not.

        ``load``: the measured load is past ``ADMIT_HIGH`` (hysteresis); ``burst``: it is not, but the
        calls admitted within the window would take it there once they talk. ``weight``: what the call
        counts as in that projection before anything is measured (a free-speech call: ``free_weight``, see
        ``call_weight``); once live calls are, their cost per call is what they cost, whatever their mix.
        """
        at = time.monotonic() if now is None else now
        while self.admitted and at - self.admitted[0][0] > self.limits.window:
            self.admitted.popleft()
        if self.refusing:
            return "load"
        if self.limits.high > 1:  # ADMIT_HIGH above 1: admission is off (the load never passes 1)
            return ""
        figures = self.figures
        if figures.per_call is not None:  # measured on the calls this node has: their own mix, unweighted
            weight = 1.0
        recent = sum(w for _, w in self.admitted) + weight
        if projected(figures.linear, figures.per_call, recent, self.limits) > self.limits.high:
            return "burst"
        self.admitted.append((at, weight))
        return ""

    def forget(self) -> None:
        """Start the window afresh (after the warm-up: loading models stalls the loop for 100+ ms, and with
        those samples kept the node refused its first calls for a window after it said it was ready)."""
        self.samples.clear()
        self.figures, self.refusing = IDLE, False
        self._cpu = (time.monotonic(), time.process_time(), time.thread_time())
        self._lag.worst(), self._wait.worst()  # what the reservoirs got so far is read, and dropped

    def refuse(self, reason: str) -> None:
        self.refused[reason] += 1

    def describe(self) -> dict[str, Any]:
        return {
            **self.figures.to_dict(),
            "taking_calls": not self.refusing,
            "high": self.limits.high,
            "low": self.limits.low,
            "cores": round(self.cores, 2),
            "refused": dict(self.refused),
        }

    def watch(self) -> None:
        """Run forever in a greenlet of its own."""
        import gevent

        while True:
            gevent.sleep(self.tick)
            self.sample()

    def start(self) -> None:
        """In the worker (after fork: its CPU clock starts again), sample from now on."""
        import gevent

        self._cpu = (time.monotonic(), time.process_time(), time.thread_time())
        self._lag, self._wait = _Newest(LOOP_LAG), _Newest(STT_LAG)
        self.task = gevent.spawn(self.watch)

    def stop(self) -> None:
        if self.task is not None:
            self.task.kill(block=False)
