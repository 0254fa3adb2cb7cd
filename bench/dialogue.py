"""The capacity dialogue: a Korean caller who says "네" or "아니요" on its own clock, every PERIOD_S.

The caller does not wait for the bot: each utterance starts PERIOD_S after the
previous one started, whatever the bot is doing (a long reply gets barged in
on, as callers do). The phrases are in the bench agents' grammar, so every
utterance should get a reply. The duty cycle (the share of time the caller
speaks) is printed with the figures, because vosk only runs on speech.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import script
from emulator.script import speak

PERIOD_S = 3.6
PHRASES = ("네", "아니요")
VOICE, SPEED, RATE = "ko", 175, 8000


def speech_seconds(text: str) -> float:
    """How long espeak-ng's ``text`` lasts, as the emulator sends it."""
    return len(speak(text, VOICE, SPEED, RATE)) / (RATE * 2)


def duty_cycle() -> dict[str, Any]:
    spoken = sum(speech_seconds(p) for p in PHRASES)
    return {
        "period_s": PERIOD_S,
        "phrases": list(PHRASES),
        "speech_s": round(spoken / len(PHRASES), 3),
        "duty_pct": round(100 * spoken / (PERIOD_S * len(PHRASES)), 1),
    }


def caller_script(tmp: Path) -> Path:
    """A repeating script: silence, then an utterance, PERIOD_S from one utterance's start to the next's."""
    steps: list[dict[str, Any]] = []
    for i, phrase in enumerate(PHRASES):
        before = PHRASES[i - 1]  # the silence fills the period of the utterance before (the last, at first)
        steps += [{"listen": round(PERIOD_S - speech_seconds(before), 3)}, {"say": phrase}]
    return script(tmp, "capacity-caller", {"voice": VOICE, "speed": SPEED, "repeat": True, "linger": 0, "steps": steps})
