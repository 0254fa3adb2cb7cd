"""How late the gevent loop runs: the figure that says whether anything blocks it.

A greenlet sleeps ``interval`` again and again and records how much longer than
asked each sleep took. Samples (and STT lag samples from the voice pipeline)
go into bounded reservoirs that /api/v1/runtime reports as percentiles.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from streams.machine import machine_cpu
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


class ReadBatching:
    """Under load, a stream socket's reader waits a moment before it reads, so one wake-up takes several frames.

    Caller audio arrives as one frame every 20 ms per call, and each frame read alone costs the loop a
    wake-up: an epoll round, a watcher started and stopped, two greenlet switches and a timer. At ~100
    calls those were most of the loop's own CPU (py-spy: 51% of its samples in gevent's hub, #21.4). When
    the loop's thread is busy (its CPU over the last ~second at least ``busy`` of a core), each reader
    sleeps ``wait`` seconds before reading again and then takes whatever has arrived in one read: ~3
    frames for 40 ms, a third of the wake-ups, at the price of hearing the caller up to ``wait`` later
    (turn ends and barge-ins). A quiet loop reads each frame at once. ``STREAM_READ_BATCH_MS`` (0: never)
    and ``STREAM_READ_BATCH_BUSY`` (0: always) set them. Measured at 100 phrase calls, one worker, AMD EPYC,
    2 cores (``python -m bench phrase``, loop% column): the loop's thread at 39% of a core batching against
    50% not, the process at 99% against 114%, reply p50 351 -> 384 ms. The default mark (0.4) is where
    this machine's loop stands at ~85 calls.

    The machine counts too: with a worker per core each loop carries half the calls and stays under the
    mark while the cores are full (two workers, 125 calls: loops at ~33%, the box at ~90%), and there
    the CPU batching saves is what the others lack. So readers also batch while the machine's CPUs are
    at least ``MACHINE_BUSY`` busy (``/proc/stat``: every process on it; a container sees its host's).
    """

    MACHINE_BUSY = 0.8

    def __init__(self, wait: float = 0.04, busy: float = 0.4) -> None:
        self.wait_s = wait
        self.busy = busy
        self.share = 0.0  # the loop thread's CPU, in cores, smoothed over ~1 s (watch_loop updates it)
        self.machine = 0.0  # the machine's CPUs, busy share, smoothed alike
        self.waits = 0  # reads that waited, process-wide (not in /metrics yet)

    def configure(self, wait: float, busy: float) -> None:
        self.wait_s, self.busy = wait, busy

    def observe(self, cpu: float, wall: float, machine: float | None = None) -> None:
        """The loop thread's CPU seconds over ``wall`` seconds, one watch interval; ``machine``: the share of
        the machine's CPU time that was busy over it (None: unknown)."""
        if wall > 0:
            self.share += 0.05 * (min(cpu / wall, 1.0) - self.share)
        if machine is not None:
            self.machine += 0.05 * (min(max(machine, 0.0), 1.0) - self.machine)

    def wait(self) -> float:
        """Seconds a reader waits before its next read now (0: read at once)."""
        if self.wait_s <= 0 or (self.share < self.busy and self.machine < self.MACHINE_BUSY):
            return 0.0
        self.waits += 1
        return self.wait_s


READS = ReadBatching()


def watch_loop(interval: float = 0.05) -> None:
    """Run forever in a greenlet of its own."""
    import gevent

    cpu, box = time.thread_time(), machine_cpu()  # this greenlet runs on the loop's thread: its time is the loop's
    while True:
        started = time.monotonic()
        gevent.sleep(interval)
        now, cpu_now, box_now = time.monotonic(), time.thread_time(), machine_cpu()
        lag = max(0.0, now - started - interval)
        LOOP_LAG.add(lag)
        SHEDDING.observe(lag)  # what a late loop stops doing (streams/shedding.py)
        busy = None
        if box and box_now and box_now[1] > box[1]:
            busy = (box_now[0] - box[0]) / (box_now[1] - box[1])
        READS.observe(cpu_now - cpu, now - started, busy)  # how stream sockets read (ReadBatching)
        cpu, box = cpu_now, box_now


def start() -> None:
    import gevent

    gevent.spawn(watch_loop)
