"""Warm free-speech recognisers, made before calls need them (#21.5).

A free-speech recogniser expands the model's lookahead graph for itself as it decodes and
keeps what it expanded (vosk shares none of it between recognisers): its first turns cost
~1 s of CPU each on a 2-core AMD EPYC, a warm one ~50 ms. Twenty-five calls that start
within seconds on new recognisers fill both cores with that expansion, and every call's
replies wait behind it (bench free: 25 calls collapsed, STT lag 11-17 s, with one warm
recogniser).

So the warm-up makes ``target`` per free-speech model and rate before the node says it is
ready, on as many threads as the worker has cores (``make_one``), each decoding ``turns``
of the agent's own lines: ~2.7 s of CPU each, ~40 s for 30 on 2 cores (free-speech agents
only). Calls give them back warm, so the pool only runs short when more calls than
``target`` overlap: this thread then keeps ``spare`` idle beyond the calls using them,
while ``room()`` says memory allows (35-70 MB each) and only while ``quiet()`` says the
machine is idle. Making one while calls talk is not free even at the lowest priority
(nice 19, set here): measured, a reserve filling during a 10-call step put reply p95 at
480 ms against 390 ms at 25 calls with it full (two vCPUs share caches, and may share a
core).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streams.offload import native_sleep, start_native_thread

if TYPE_CHECKING:
    from streams.speech.stt import Recognizer, SpeechModels

log = logging.getLogger(__name__)

NICE = 19
PER_CORE = 15  # warm free-speech calls a core carries at most (~2.5-4% of a core each, 2-core AMD EPYC)
IDLE_POLL_S = 0.5  # how often a satisfied reserve looks again (a dict read under a lock)


def target_for(setting: int | None, cores: float, workers: int) -> int:
    """Recognisers a worker keeps per kind: ``STT_WARM_FREE``, or (``auto``, None) 15 per core of its share."""
    if setting is not None:
        return setting
    return max(2, math.ceil(PER_CORE * cores / max(1, workers)))


@dataclass
class _Kind:
    """One kind of recogniser to keep: a model at a stream rate, free speech, and speech to warm it with."""

    model: Any
    rate: int
    speech: Sequence[bytes]
    key: tuple[Any, ...] = field(default=())


class Reserve:
    """Keeps warm free-speech recognisers in a ``SpeechModels`` pool, made on a low-priority native thread."""

    def __init__(
        self,
        models: SpeechModels,
        target: int,
        spare: int = 2,
        turns: int = 4,
        room: Callable[[], bool] = lambda: True,
        quiet: Callable[[], bool] = lambda: True,
    ) -> None:
        self.models = models
        self.target = max(0, target)
        self.spare = max(0, spare)
        self.turns = max(1, turns)
        self.room = room
        self.quiet = quiet
        self.made = 0
        self.held_back = ""  # why the reserve is short of what it keeps ("memory", "busy"), for /healthz
        self.priority: int | None = None  # the thread's nice value, read back from the system
        self._kinds: dict[tuple[Any, ...], _Kind] = {}
        self._started = False
        self._stopping = False
        self._lock = threading.Lock()

    def keep(self, model: Any, rate: int, speech: Sequence[bytes]) -> None:
        """Keep recognisers of this kind warm (idempotent per model and rate)."""
        kind = _Kind(model, rate, [s for s in speech if s] or [b"\x00\x00" * rate])
        kind.key = self.models.key(model, rate, None)
        with self._lock:
            self._kinds.setdefault(kind.key, kind)

    def start(self) -> None:
        with self._lock:
            if self._started or not self._kinds or self.target + self.spare == 0:
                return
            self._started = True
        start_native_thread(self._run, "stt-reserve")

    def stop(self) -> None:
        self._stopping = True

    def wanted(self, key: tuple[Any, ...]) -> bool:
        """Whether another recogniser of this kind is to be made now."""
        idle, busy = self.models.counts(key)
        return (idle + busy < self.target or idle < self.spare) and self.models.has_room()

    def describe(self) -> dict[str, Any]:
        kinds = {}
        for key in list(self._kinds):
            idle, busy = self.models.counts(key)
            kinds[f"{key[1]} Hz"] = {"idle": idle, "in_use": busy}
        return {
            "target": self.target,
            "spare": self.spare,
            "made": self.made,
            "held_back": self.held_back,
            "nice": self.priority,
            **kinds,
        }

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
            self.priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        except (AttributeError, OSError) as exc:  # pragma: no cover - not Linux: it still runs, at normal priority
            log.warning("stt reserve: could not lower its priority (%s)", exc)
        while not self._stopping:
            kind = next((k for k in list(self._kinds.values()) if self.wanted(k.key)), None)
            if kind is None:
                self.held_back = ""
                native_sleep(IDLE_POLL_S)
                continue
            if not self.room() or not self.quiet():
                self.held_back = "memory" if not self.room() else "busy"
                native_sleep(IDLE_POLL_S)
                continue
            try:
                self.make_one(kind.model, kind.rate)  # room was just looked at: a False here waits as above
            except Exception:  # noqa: BLE001 - a model that cannot decode: calls will say so; stop trying
                log.exception("stt reserve: making a warm recogniser failed; no more are made")
                return

    def make_one(self, model: Any, rate: int) -> bool:
        """Make and warm one recogniser of a kind ``keep`` was told of, into the pool, in this thread (blocking);
        False when memory has no room for it."""
        if not self.room():
            self.held_back = "memory"
            return False
        kind = self._kinds[self.models.key(model, rate, None)]
        self.models.stock(self._warmed(kind))
        self.made += 1
        return True

    def _warmed(self, kind: _Kind) -> Recognizer:
        from streams.speech.stt import Recognizer

        recognizer = Recognizer(kind.model, kind.rate, None)
        recognizer.pool_key = kind.key
        for turn in range(self.turns):
            recognizer.accept(kind.speech[turn % len(kind.speech)])
            recognizer.final()
        return recognizer
