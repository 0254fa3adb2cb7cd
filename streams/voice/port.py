"""The narrow interfaces between a call and its voice pipeline.

The pipeline never sees the call: it speaks through ``CallPort`` and is spoken
to through ``VoiceHandler``. Either side can be read, changed and tested alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from streams.events import CallEvent
from streams.playback import Utterance
from streams.speech.tts import TtsVoice


class CallPort(Protocol):
    """What the voice pipeline may ask of its call."""

    call_id: str
    rate: int
    log: logging.LoggerAdapter

    def say(
        self, text: str, kind: str = "speech", voice: TtsVoice | None = None, interruptible: str = "true"
    ) -> Utterance | None:
        """Queue speech for the caller; None when the call cannot speak (no TTS, ended).

        ``interruptible``: ``true``, or ``false`` / ``dtmf``: the caller's speech may not cut it (#23.3).
        """

    def play(self, file: str) -> None: ...

    def interrupt(self, why: str) -> list[dict[str, Any]]:
        """Stop what the caller is hearing now (barge-in); return what was cut."""

    def hand_off(self, why: str, on_start: Callable[[Utterance], None] | None = None) -> list[str]:
        """Transfer to the agent's people; raises CallError when it cannot (another transfer, no numbers).

        ``on_start`` is called when the hold line's first audio goes out.
        """

    def end(self, reason: str) -> None: ...

    def audible(self) -> bool:
        """True while the caller is hearing (or about to hear) something of ours."""

    def guarded(self) -> bool:
        """True while a line speech may not cut is queued or playing: no barge-in, speech is not a turn."""

    def resume_line(self, cut: dict[str, Any]) -> Utterance | None:
        """Play the rest of a line that ``interrupt`` cut (one of its ``cuts``), from where it was cut."""

    def wait_heard(self, utterance: Utterance | None, limit: float = 30.0) -> bool:
        """Block this greenlet until the caller has heard ``utterance`` (bounded)."""

    def wait_started(self, utterance: Utterance, limit: float) -> bool:
        """Block until ``utterance`` starts playing.

        False if the call could have played it for ``limit`` seconds and did not.
        """

    def publish(self, event: CallEvent) -> None: ...

    def diagnose(self) -> dict[str, Any]:
        """Where the call's audio out stands (writer, playback, TTS): for the log when it cannot speak."""

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` in a greenlet that dies with the call."""

    def count(self, counter: str) -> None:
        """Add one to a stream counter (drops, backlogs)."""


class VoiceHandler(Protocol):
    """What the call tells its voice pipeline."""

    def on_live(self) -> None:
        """The stream is live: greet, start hearing."""

    def on_audio(self, pcm: bytes, now: float) -> None: ...

    def on_handoff(self) -> None:
        """A transfer has begun: stop answering the caller (keep transcribing)."""

    def on_handoff_unanswered(self, offers_left: int) -> None:
        """Nobody answered: speak again; offer to ring again (``offers_left`` > 0) or say goodbye."""

    def close(self) -> None: ...


VoiceFactory = Callable[[CallPort], VoiceHandler]
