"""Hearing one caller: turn detection, then vosk in the thread pool, in ~100 ms chunks.

Caller frames arrive in the reader greenlet (``feed``); speech (with ~200 ms
of pre-roll) goes through a bounded queue to one STT greenlet, which runs
vosk off the event loop and reports partial text and each turn's final text.
With a ``judge`` (the smart end-of-turn rule), each pause the detector reports
sends the turn's last 8 s to the turn model in the thread pool, in a greenlet
of its own; its verdict may end the turn while the reader keeps feeding frames.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.queue import Queue

from streams.audio import Resampler
from streams.loopwatch import STT_LAG
from streams.offload import run_blocking, submit
from streams.speech.stt import Recognizer, SpeechModels
from streams.turns.rules import Event, PauseHeard, SpeechStarted, TurnDetector, TurnEnded

log = logging.getLogger(__name__)
STT_MAX_RATE = 16000
BACKLOG_SECONDS = 120  # caller audio waiting for vosk beyond this is dropped (counted: dropped_stt_backlog)
JUDGED_FRAMES = 400  # the last 8 s of 20 ms frames: what the turn model reads
# Quiet after the caller's last loud frame that vosk still hears (#21.4). The rest of a pause is held back
# and fed only if speech resumes; a turn's final result does not need it: on demo-ko's phrases (espeak-ng,
# three speeds) 100 ms of tail gave the same words as the whole 300 ms hangover, at 15% less vosk CPU.
STT_TAIL_MS = 100
# Free speech only: at this much quiet, vosk's result for the turn so far is taken (``Recognizer.settle``), while
# the hangover runs on. A free-speech final costs 20-200 ms of CPU (a grammar's a few ms); taken here, the turn's
# end finds it done. vosk has heard the same audio either way (the tail past STT_TAIL_MS is held back), so a turn
# that ends gets the same words; one the caller resumes after a pause this long is heard as two segments, as
# vosk's own endpointing does at 500 ms.
EARLY_FINAL_MS = 200
Judge = Callable[[bytes, int], float]  # (L16 audio, its rate) -> P(complete); blocking


def stt_rate(stream_rate: int) -> int:
    """The rate recognisers run at for a stream: its own, at most 16 kHz."""
    return min(stream_rate, STT_MAX_RATE)


@dataclass(frozen=True)
class Heard:
    """One caller turn, recognised."""

    text: str
    confidence: float
    speech_end: float  # when the caller's speech ended (monotonic)
    speech_ms: float
    ended_by: str = "silence"  # what ended the turn: silence, smart or max_wait (streams/turns/rules.py)
    waited_ms: float = 0.0  # the pause before the turn ended
    checks: tuple[float, ...] = ()  # the turn model's completeness at each pause


class Hearing:
    def __init__(
        self,
        turns: TurnDetector,
        recognizer: Recognizer,
        models: SpeechModels,
        chunk_bytes: int,
        *,
        on_speech: Callable[[], None],
        on_partial: Callable[[str], None],
        on_turn: Callable[[Heard], None],
        on_drop: Callable[[], None],
        judge: Judge | None = None,
        spawn: Callable[..., Any] = gevent.spawn,
    ) -> None:
        self.turns = turns
        self.to_stt = Resampler(turns.rate, STT_MAX_RATE)  # 32 kHz streams, frame by frame with kept state (#23.7)
        self.recognizer = recognizer
        self.models = models
        self.chunk_bytes = chunk_bytes
        self.partial_words = 0
        self.closing = False
        self._on_speech, self._on_partial, self._on_turn, self._on_drop = on_speech, on_partial, on_turn, on_drop
        # Bounded in seconds of audio, not items: when vosk falls behind, the turn's audio waits (never
        # dropped for lateness, #21.2); only a backlog of BACKLOG_SECONDS, no phone call's, is dropped.
        self._queue: Queue = Queue()
        self._queued = 0  # bytes of audio in the queue
        self._backlog = int(BACKLOG_SECONDS * turns.rate * 2)
        self._buffer = bytearray()
        self._tail: list[bytes] = []  # quiet frames past STT_TAIL_MS, held back from vosk (fed if speech resumes)
        self._preroll: deque[bytes] = deque(maxlen=10)  # ~200 ms before speech is declared
        self._job: _Job | None = None  # the latest vosk call handed to the thread pool
        self._settles = recognizer is not None and not recognizer.grammar  # free speech: see EARLY_FINAL_MS
        self._settled = False  # this pause's result is already taken
        self._judge, self._spawn = judge, spawn
        self._recent: deque[bytes] = deque(maxlen=JUDGED_FRAMES)  # the turn so far, for the judge

    # -- the reader's side ---------------------------------------------------------------
    def feed(self, pcm: bytes, now: float) -> None:
        # With the agent's noise filter (#23.4) the VAD hears the denoised frame, vosk this original one: on the
        # bench, recognition of denoised audio was no better (README, Turn-taking), and RNNoise's artefacts can hurt.
        for event in self.turns.feed(pcm, now):
            self._handle(event)
        if not self.turns.in_speech and not self._buffer:
            self._preroll.append(pcm)
        if self.turns.in_speech or self._buffer:
            if self._judge is not None:
                self._recent.append(pcm)
            if self.turns.silence_ms > STT_TAIL_MS:
                self._tail.append(pcm)  # a long pause's quiet: vosk hears it only if the caller goes on
                if self._settles and not self._settled and self.turns.silence_ms >= EARLY_FINAL_MS:
                    self._settled = True
                    self._push_audio()
                    self._push(("settle", None, time.monotonic()))
                return
            if self._tail:
                self._buffer.extend(b"".join(self._tail))
                self._tail.clear()
            self._settled = False
            self._buffer.extend(pcm)
            if len(self._buffer) >= self.chunk_bytes:
                self._push_audio()

    def _handle(self, event: Event) -> None:
        if isinstance(event, SpeechStarted):
            self._buffer.extend(b"".join(self._preroll))
            self._recent.clear()
            self._recent.extend(self._preroll)
            self.partial_words = 0
            self._on_speech()
        elif isinstance(event, PauseHeard):
            if self._judge is not None:
                self._spawn(self._ask, b"".join(self._recent), event.n)
        elif isinstance(event, TurnEnded):
            self._tail.clear()
            self._settled = False
            self._push_audio()
            self._push(("end", event, time.monotonic()))

    def _ask(self, pcm: bytes, n: int) -> None:
        """The turn model's verdict on pause ``n`` (off the loop); a failure leaves the turn to max_wait."""
        try:
            probability: float | None = run_blocking(self._judge, pcm, self.turns.rate)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a broken model must not end the call: the turn ends at max_wait
            log.exception("the turn model failed")
            probability = None
        for event in self.turns.verdict(n, probability):
            self._handle(event)

    def _push_audio(self) -> None:
        if self._buffer:
            self._push(("audio", bytes(self._buffer), time.monotonic()))
            self._buffer.clear()

    def _push(self, item: tuple[Any, ...]) -> None:
        size = len(item[1]) if item[0] == "audio" else 0
        if self._queued + size > self._backlog:
            self._on_drop()
            return
        self._queued += size
        self._queue.put_nowait(item)

    # -- the STT greenlet ------------------------------------------------------------------
    def run(self) -> None:
        """Recognise until closed; the recogniser goes back to the pool afterwards."""
        try:
            while not self.closing:
                item = self._queue.get()
                if item[0] == "audio":
                    self._queued -= len(item[1])
                    self._accept(item[1], item[2])
                elif item[0] == "settle":
                    self._blocking(self.recognizer.settle)
                else:
                    end: TurnEnded = item[1]
                    text, confidence, _words = self._blocking(self.recognizer.final)
                    # The final result is what the caller waits for: its queueing counts as STT wait too (a
                    # free-speech final costs ~50-100 ms of CPU, and turns that end together queue behind it).
                    STT_LAG.add(time.monotonic() - item[2])
                    self._on_turn(
                        Heard(text, confidence, end.at, end.speech_ms, end.by, round(end.waited_ms), end.checks)
                    )
        finally:
            # Back to the pool once no thread-pool call is inside it or queued for it: now, in a greenlet of its
            # own (this one is usually being killed with the call's tasks), or by the pool thread when its call
            # returns. Dropping it instead (as before) lost a free-speech recogniser, ~2.7 s of CPU to make
            # again, for each call that hung up mid-decode or waiting for a pool thread: 9-15 of 25 calls
            # ending together in a bench burst, and the next step paid for them (+30-100% of a core).
            if self._job is None or self._job.last_out():
                gevent.spawn(run_blocking, self.models.release, self.recognizer)

    def _accept(self, pcm: bytes, queued_at: float) -> None:
        if self.turns.rate > STT_MAX_RATE:  # 32 kHz streams: vosk models are 8-16 kHz
            pcm = self.to_stt(pcm)
        partial = self._blocking(self.recognizer.accept, pcm)
        STT_LAG.add(time.monotonic() - queued_at)  # audio in -> its result out
        if partial:
            self.partial_words = len(partial.split())
            self._on_partial(partial)

    def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        job = _Job()
        result = submit(self._in_thread, job, fn, args)  # may wait for a free pool thread: killed there, no job
        self._job = job  # queued: a pool thread will run it, and meet it at its end
        return result()

    def _in_thread(self, job: _Job, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        try:
            return fn(*args)
        finally:
            if job.last_out():  # the call closed while this ran: the recogniser is ours to give back
                self.models.release(self.recognizer)


class _Job:
    """One vosk call in the thread pool, met at its end by the pool thread and, if the call closes, by the STT
    greenlet; the later of the two gives the recogniser back. ``next`` on a C counter is atomic under the GIL,
    which both hold: no lock shared by a native thread and the event loop."""

    def __init__(self) -> None:
        self._arrivals = itertools.count()

    def last_out(self) -> bool:
        return next(self._arrivals) == 1
