"""End-of-turn detection (pure): a VAD says speech or not per frame; a rule says when a pause ends the turn.

Two rules (the agent's ``turn.end``):

- ``silence``: the turn ends after ``hangover_ms`` of non-speech following speech.
- ``smart``: after ``silence_ms`` of non-speech the detector asks whether the
  utterance is complete (``PauseHeard``; the caller runs the turn model off the
  loop and answers with ``verdict``). Complete: the turn ends at once. Not
  complete, or no answer yet: the turn ends only after ``max_wait_ms`` of
  non-speech. Speech before either resumes the turn, and a late verdict for an
  earlier pause is ignored.

Durations are counted in audio time (frame lengths), timestamps come from the
caller (``now``), so network jitter does not stretch a pause. With the agent's
noise filter (``noise: rnnoise``, streams/turns/noise.py) each frame is denoised
before the VAD hears it, and ``frame`` is what it heard (vosk hears the original).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from streams.audio import duration_ms
from streams.turns.vad import EnergyVad, Vad


class Denoiser(Protocol):
    def process(self, pcm: bytes) -> bytes: ...


@dataclass(frozen=True)
class TurnRule:
    """An agent's ``turn`` settings and its ``noise`` filter (validated in app/agents/book.py)."""

    vad: str = "energy"
    end: str = "silence"
    hangover_ms: int = 300
    silence_ms: int = 150
    max_wait_ms: int = 1000
    threshold: float = 0.5
    noise: str = "none"  # the agent's top-level ``noise``: none or rnnoise (#23.4)

    @staticmethod
    def of(agent: Mapping[str, Any]) -> TurnRule:
        """The agent's ``turn`` mapping and ``noise`` (defaults for what it leaves out)."""
        turn = {**(agent.get("turn") or {}), "noise": agent.get("noise") or "none"}
        return TurnRule(**{f.name: turn[f.name] for f in fields(TurnRule) if f.name in turn})


@dataclass(frozen=True)
class SpeechStarted:
    at: float  # when the first speech frame arrived


@dataclass(frozen=True)
class PauseHeard:
    """Smart rule: the caller paused; is the utterance complete? Answer with ``TurnDetector.verdict(n, p)``."""

    at: float  # the last speech frame
    n: int


@dataclass(frozen=True)
class TurnEnded:
    at: float  # when the last speech frame arrived (the end of the caller's speech)
    speech_ms: float
    by: str = "silence"  # silence (hangover), smart (the model said complete), max_wait (it did not, or too late)
    waited_ms: float = 0.0  # non-speech heard before the turn ended
    checks: tuple[float, ...] = field(default=())  # the model's completeness for each pause of this turn


Event = SpeechStarted | PauseHeard | TurnEnded


class TurnDetector:
    def __init__(
        self,
        rate: int,
        rule: TurnRule | None = None,
        vad: Vad | None = None,
        min_speech_ms: int = 60,
        noise: Denoiser | None = None,
    ) -> None:
        self.rate = rate
        self.rule = rule or TurnRule()
        self.vad: Vad = vad or EnergyVad()
        self.noise = noise  # the call's own filter (its state is the call's), or None
        self.frame = b""  # the last frame as the VAD heard it (denoised, with a filter)
        self.min_speech_ms = min_speech_ms
        self.in_speech = False
        self._run_ms = 0.0  # consecutive speech before a start is declared
        self._silence_ms = 0.0
        self._speech_ms = 0.0
        self._onset = 0.0
        self._last_speech = 0.0
        self._pause = 0  # which pause the model was last asked about
        self._asked = False
        self._checks: list[float] = []

    @property
    def speech_ms(self) -> float:
        """How long the current speech has lasted (0 outside speech)."""
        return self._speech_ms if self.in_speech else 0.0

    @property
    def silence_ms(self) -> float:
        """How long the caller has been quiet within the current speech (0 outside speech or while talking)."""
        return self._silence_ms if self.in_speech else 0.0

    @property
    def hangover_ms(self) -> int:
        return self.rule.hangover_ms

    def feed(self, pcm: bytes, now: float) -> list[Event]:
        if self.noise is not None:
            pcm = self.noise.process(pcm)
        self.frame = pcm
        length = duration_ms(pcm, self.rate)
        if self.vad.is_speech(pcm):
            return self._speech(length, now)
        self._run_ms = 0.0
        if not self.in_speech:
            return []
        self._silence_ms += length
        rule = self.rule
        if rule.end == "silence":
            return [self._end("silence")] if self._silence_ms >= rule.hangover_ms else []
        if self._silence_ms >= rule.max_wait_ms:
            return [self._end("max_wait")]
        if not self._asked and self._silence_ms >= rule.silence_ms:
            self._asked = True
            self._pause += 1
            return [PauseHeard(self._last_speech, self._pause)]
        return []

    def verdict(self, n: int, probability: float | None) -> list[TurnEnded]:
        """The model's answer for pause ``n``: ends the turn if still in that pause and complete."""
        if n != self._pause or not self.in_speech or not self._asked:
            return []  # speech resumed (or the turn ended) since that pause
        if probability is not None:
            self._checks.append(round(probability, 3))
        if probability is not None and probability >= self.rule.threshold:
            return [self._end("smart")]
        return []

    def _speech(self, length: float, now: float) -> list[Event]:
        self._silence_ms = 0.0
        self._asked = False
        self._last_speech = now
        if self.in_speech:
            self._speech_ms += length
            return []
        if self._run_ms == 0:
            self._onset = now
        self._run_ms += length
        if self._run_ms < self.min_speech_ms:
            return []
        self.in_speech = True
        self._speech_ms = self._run_ms
        self._checks = []
        return [SpeechStarted(self._onset)]

    def _end(self, by: str) -> TurnEnded:
        ended = TurnEnded(self._last_speech, self._speech_ms, by, self._silence_ms, tuple(self._checks))
        self.in_speech = False
        self._asked = False
        self._speech_ms = 0.0
        self._silence_ms = 0.0
        return ended
