"""Lines that cannot be cut (#23.3): which mode each line has, and which caller speech is not a turn.

A line is ``interruptible: true`` (the default), ``false`` or ``dtmf``. While a line that is not ``true``
is queued or playing (the call's ``guarded()``), the caller's speech does not barge in, and speech that
started then is not a turn (it is still transcribed, and noted as ``turn.ignored``); listening resumes
once the line has been heard. The agent's own lines take their mode from its ``interruptible`` map
(``greeting``, ``fallback``, ``goodbye``, ``reprompt``); an intent's reply from the intent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.voice.hearing import Heard

LEAD_S = 0.5  # speech is declared a little after it starts: a start this close before a turn belongs to it


class SpeechGuard:
    def __init__(self, agent: Mapping[str, Any]) -> None:
        self.lines = {key: str(value) for key, value in (agent.get("interruptible") or {}).items()}
        self.now = 0.0  # the link clock of the frame being heard
        self._starts: list[float] = []  # when speech started over a guarded line

    def mode(self, kind: str, given: str | None = None) -> str:
        """The line's own mode, else the agent's for that kind of line, else ``true``."""
        return given or self.lines.get(kind, "true")

    def speech_started(self, guarded: bool) -> None:
        if guarded:
            self._starts.append(self.now)

    def ignores(self, heard: Heard) -> bool:
        """True when ``heard`` began while a guarded line played: not a turn."""
        start = heard.speech_end - heard.speech_ms / 1000 - LEAD_S
        hit = any(start <= t <= heard.speech_end for t in self._starts)
        self._starts = [t for t in self._starts if t > heard.speech_end]
        return hit
