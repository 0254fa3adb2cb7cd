"""Answering-machine detection for outbound calls: a person says "hello?", a machine talks on, then beeps.

Pure and cheap (audioop's C functions, per 20 ms frame): the detector watches
the callee's first seconds.

- **human**: the first speech ends (a pause of ``pause_ms``) before
  ``greeting_ms`` of speech, as a person's "hello?" does;
- **machine**: speech runs past ``greeting_ms`` with no such pause, or a beep
  arrives (a steady tone: loud frames whose zero-crossing rate stays within a
  few percent for ``beep_ms``, at a pitch between 300 and 2,500 Hz);
- **unknown**: nothing decisive within ``decide_within_ms``.

After "machine" it keeps listening for the beep (or the end of the greeting),
which is when a voicemail message should start.
"""

from __future__ import annotations

import audioop
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.audio import SAMPLE_WIDTH


@dataclass(frozen=True)
class AmdRule:
    action: str = "voicemail"  # voicemail | hangup | continue
    voicemail: str = ""
    greeting_ms: int = 2500
    pause_ms: int = 600
    beep_ms: int = 200
    decide_within_ms: int = 4500
    threshold: int = 500

    @staticmethod
    def of(agent: Mapping[str, Any]) -> AmdRule | None:
        amd = agent.get("answering_machine")
        if not amd:
            return None
        known = {k: amd[k] for k in ("action", "voicemail", "greeting_ms") if k in amd}
        return AmdRule(threshold=int(agent.get("vad_threshold", 500)), **known)


class AmdDetector:
    def __init__(self, rule: AmdRule, rate: int) -> None:
        self.rule = rule
        self.rate = rate
        self.verdict: str | None = None  # human | machine | unknown
        self.why = ""
        self.ready_for_message = False  # machine: the beep (or the end of its greeting) has come
        self._ms = 0.0
        self._speech_ms = 0.0
        self._silence_ms = 0.0
        self._heard_speech = False
        self._tone: list[int] = []  # zero crossings of the current run of steady loud frames

    def feed(self, pcm: bytes) -> str | None:
        """Feed one frame; returns "human", "machine" or "unknown" once, when decided."""
        frame_ms = len(pcm) / SAMPLE_WIDTH / self.rate * 1000
        self._ms += frame_ms
        loud = audioop.rms(pcm, SAMPLE_WIDTH) >= self.rule.threshold
        beep = self._beep(pcm, loud, frame_ms)
        if self.verdict == "machine":
            if beep or (self._pause(loud, frame_ms) and self._silence_ms >= 1000):
                self.ready_for_message = True
            return None
        if self.verdict is not None:
            return None
        if beep:
            return self._decide("machine", "a beep")
        if loud:
            self._heard_speech, self._silence_ms = True, 0.0
            self._speech_ms += frame_ms
            if self._speech_ms >= self.rule.greeting_ms:
                return self._decide("machine", f"{self.rule.greeting_ms} ms of greeting without a pause")
        elif self._heard_speech:
            self._silence_ms += frame_ms
            if self._silence_ms >= self.rule.pause_ms:
                return self._decide("human", f"a short greeting ({self._speech_ms:.0f} ms), then a pause")
        if self._ms >= self.rule.decide_within_ms:
            return self._decide("unknown", "nothing decisive")
        return None

    def _decide(self, verdict: str, why: str) -> str:
        self.verdict, self.why = verdict, why
        if verdict == "machine" and why == "a beep":
            self.ready_for_message = True
        return verdict

    def _pause(self, loud: bool, frame_ms: float) -> bool:
        self._silence_ms = 0.0 if loud else self._silence_ms + frame_ms
        return not loud

    def _beep(self, pcm: bytes, loud: bool, frame_ms: float) -> bool:
        """True when the last ``beep_ms`` were one steady tone."""
        crossings = audioop.cross(pcm, SAMPLE_WIDTH)
        hz = crossings / 2 / (frame_ms / 1000)
        if not loud or not 300 <= hz <= 2500:
            self._tone.clear()
            return False
        if self._tone and abs(crossings - sum(self._tone) / len(self._tone)) > 0.06 * crossings + 1:
            self._tone.clear()
        self._tone.append(crossings)
        return len(self._tone) * frame_ms >= self.rule.beep_ms


class Screening:
    """An outbound call's first seconds: hold the greeting until a person answers; leave a machine a message."""

    def __init__(self, rule: AmdRule, port: Any, greet: Any, say: Any, fallback_message: str = "") -> None:
        self.rule = rule
        self.port = port
        self.detector = AmdDetector(rule, port.rate)
        self.pending = True  # no dialogue until a person (or nobody decisive) answers
        self._greet, self._say = greet, say
        self._message = rule.voicemail or fallback_message
        self._leaving = False
        self._machine_ms = 0.0

    def feed(self, pcm: bytes) -> None:
        detector = self.detector
        if detector.verdict is None:
            verdict = detector.feed(pcm)
            if verdict is not None:
                self._decided(verdict)
        elif detector.verdict == "machine" and self.rule.action == "voicemail" and not self._leaving:
            detector.feed(pcm)
            self._machine_ms += len(pcm) / SAMPLE_WIDTH / self.rate * 1000
            if detector.ready_for_message or self._machine_ms > 15000:  # no beep in 15 s: speak anyway
                self._leave()

    @property
    def rate(self) -> int:
        return self.detector.rate

    def _decided(self, verdict: str) -> None:
        from streams.events import Answered

        self.port.publish(Answered(call_id=self.port.call_id, by=verdict, why=self.detector.why))
        if verdict != "machine" or self.rule.action == "continue":
            self.pending = False
            self._greet()
        elif self.rule.action == "hangup":
            self.port.spawn(self.port.end, "answering_machine")
        elif self.detector.ready_for_message:
            self._leave()

    def _leave(self) -> None:
        self._leaving = True
        self.port.spawn(self._leave_message)

    def _leave_message(self) -> None:
        self.port.wait_heard(self._say(self._message, "voicemail"))
        self.port.end("voicemail_left")
