"""Hearing one caller: turn detection, then vosk in the thread pool, in ~100 ms chunks.

Caller frames arrive in the reader greenlet (``feed``); speech (with ~200 ms
of pre-roll) goes through a bounded queue to one STT greenlet, which runs
vosk off the event loop and reports partial text and each turn's final text.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.queue import Full, Queue

from .audio import resample
from .loopwatch import STT_LAG
from .offload import run_blocking
from .stt import Recognizer, SpeechModels
from .turns import SpeechStarted, TurnDetector, TurnEnded

STT_MAX_RATE = 16000


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
    ) -> None:
        self.turns = turns
        self.recognizer = recognizer
        self.models = models
        self.chunk_bytes = chunk_bytes
        self.partial_words = 0
        self.closing = False
        self._on_speech, self._on_partial, self._on_turn, self._on_drop = on_speech, on_partial, on_turn, on_drop
        self._queue: Queue = Queue(maxsize=50)
        self._buffer = bytearray()
        self._preroll: deque[bytes] = deque(maxlen=10)  # ~200 ms before speech is declared
        self._busy = False

    # -- the reader's side ---------------------------------------------------------------
    def feed(self, pcm: bytes, now: float) -> None:
        for event in self.turns.feed(pcm, now):
            if isinstance(event, SpeechStarted):
                self._buffer.extend(b"".join(self._preroll))
                self.partial_words = 0
                self._on_speech()
            elif isinstance(event, TurnEnded):
                self._push_audio()
                self._push(("end", event.at, event.speech_ms))
        if not self.turns.in_speech and not self._buffer:
            self._preroll.append(pcm)
        if self.turns.in_speech or self._buffer:
            self._buffer.extend(pcm)
            if len(self._buffer) >= self.chunk_bytes:
                self._push_audio()

    def _push_audio(self) -> None:
        if self._buffer:
            self._push(("audio", bytes(self._buffer), time.monotonic()))
            self._buffer.clear()

    def _push(self, item: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(item)
        except Full:
            self._on_drop()

    # -- the STT greenlet ------------------------------------------------------------------
    def run(self) -> None:
        """Recognise until closed; the recogniser goes back to the pool afterwards."""
        try:
            while not self.closing:
                item = self._queue.get()
                if item[0] == "audio":
                    self._accept(item[1], item[2])
                else:
                    text, confidence, _words = self._blocking(self.recognizer.final)
                    self._on_turn(Heard(text, confidence, item[1], item[2]))
        finally:
            # Back to the pool only if no thread-pool call is still inside it; in a greenlet of its
            # own, because this one is usually being killed with the call's tasks.
            if not self._busy:
                gevent.spawn(run_blocking, self.models.release, self.recognizer)

    def _accept(self, pcm: bytes, queued_at: float) -> None:
        if self.turns.rate > STT_MAX_RATE:  # 32 kHz streams: vosk models are 8-16 kHz
            pcm = resample(pcm, self.turns.rate, STT_MAX_RATE)
        partial = self._blocking(self.recognizer.accept, pcm)
        STT_LAG.add(time.monotonic() - queued_at)  # audio in -> its result out
        if partial:
            self.partial_words = len(partial.split())
            self._on_partial(partial)

    def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._busy = True
        result = run_blocking(fn, *args)
        self._busy = False
        return result
