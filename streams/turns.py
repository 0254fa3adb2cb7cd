"""End-of-turn detection: an energy VAD with a hangover (pure).

Speech is audio whose level clears both a fixed floor and three times the
running noise level; a turn ends after ``hangover_ms`` of non-speech following
speech. Durations are counted in audio time (frame lengths), timestamps come
from the caller (``now``), so network jitter does not stretch a pause.
"""

from __future__ import annotations

from dataclasses import dataclass

from .audio import duration_ms, rms


@dataclass(frozen=True)
class SpeechStarted:
    at: float  # when the first speech frame arrived


@dataclass(frozen=True)
class TurnEnded:
    at: float  # when the last speech frame arrived (the end of the caller's speech)
    speech_ms: float


class TurnDetector:
    def __init__(self, rate: int, hangover_ms: int = 300, threshold: int = 500, min_speech_ms: int = 60) -> None:
        self.rate = rate
        self.hangover_ms = hangover_ms
        self.threshold = threshold
        self.min_speech_ms = min_speech_ms
        self.noise = 0.0
        self.in_speech = False
        self._run_ms = 0.0  # consecutive speech before a start is declared
        self._silence_ms = 0.0
        self._speech_ms = 0.0
        self._onset = 0.0
        self._last_speech = 0.0

    @property
    def speech_ms(self) -> float:
        """How long the current speech has lasted (0 outside speech)."""
        return self._speech_ms if self.in_speech else 0.0

    def is_speech(self, level: int) -> bool:
        return level >= max(self.threshold, 3 * self.noise)

    def feed(self, pcm: bytes, now: float) -> list[SpeechStarted | TurnEnded]:
        events: list[SpeechStarted | TurnEnded] = []
        length = duration_ms(pcm, self.rate)
        level = rms(pcm)
        if self.is_speech(level):
            self._silence_ms = 0.0
            self._last_speech = now
            if self.in_speech:
                self._speech_ms += length
            else:
                if self._run_ms == 0:
                    self._onset = now
                self._run_ms += length
                if self._run_ms >= self.min_speech_ms:
                    self.in_speech = True
                    self._speech_ms = self._run_ms
                    events.append(SpeechStarted(self._onset))
            return events
        # Not speech: learn the noise level (slowly), and count the pause.
        self.noise = level if self.noise == 0 else 0.95 * self.noise + 0.05 * level
        self._run_ms = 0.0
        if self.in_speech:
            self._silence_ms += length
            if self._silence_ms >= self.hangover_ms:
                self.in_speech = False
                events.append(TurnEnded(self._last_speech, self._speech_ms))
                self._speech_ms = 0.0
        return events
