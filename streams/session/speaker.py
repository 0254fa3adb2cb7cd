"""A call's voice out: text to an utterance on the playback clock, sentence by sentence.

The utterance is queued at once and filled as the TTS pool synthesises each
sentence, so the first sentence plays while the next is still being made.
The speaker keeps the call's current voice: the last one asked for, and the lines speech may not cut
(``interruptible: false | dtmf``, #23.3) until the caller has heard them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from gevent.pool import Group

from streams.events import Spoken
from streams.link.media_link import MediaLink
from streams.playback import Utterance
from streams.speech.tts import TTSPool, TtsVoice

log = logging.getLogger(__name__)

_SENTENCE = re.compile(r"(?<=[.!?。？！])\s+")


def spoken(call_id: str, utterance: Utterance, now: float, rate: int) -> Spoken:
    """The timeline's record of an utterance whose audio has all gone out: its start (wall clock) and length."""
    started = time.time() - (now - (utterance.first_sent_at or now))
    ms = round(len(utterance.pcm) / rate / 2 * 1000)
    return Spoken(
        call_id=call_id, utterance=utterance.id, line_kind=utterance.kind, text=utterance.text,
        started_at=round(started, 3), ms=ms,
    )  # fmt: skip


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


class Speaker:
    def __init__(
        self, tts: TTSPool, link: MediaLink, voice: TtsVoice, tasks: Group, on_failure: Callable[[str], None]
    ) -> None:
        self.tts = tts
        self.rate = link.out_rate
        self.voice = voice
        self._enqueue = link.enqueue
        self._wake = link.wake
        self._tasks = tasks
        self._on_failure = on_failure
        self._guarded: list[Utterance] = []  # lines speech may not cut, queued or playing

    def guarded(self, now: float) -> bool:
        """True while a line that speech may not cut is queued or playing (a cut one no longer is)."""
        self._guarded = [u for u in self._guarded if not u.heard_by(now)]
        return bool(self._guarded)

    def say(
        self, text: str, kind: str = "speech", voice: TtsVoice | None = None, interruptible: str = "true"
    ) -> Utterance:
        """Queue ``text`` now (raises CallNotLive/CallBusy from the link); audio follows as it is made."""
        if voice is not None:
            self.voice = voice
        utterance = self._enqueue(Utterance(text=text, kind=kind, complete=False))
        if interruptible != "true":
            self._guarded.append(utterance)
        self._tasks.spawn(self._synthesise, utterance, self.voice)
        return utterance

    def _synthesise(self, utterance: Utterance, voice: TtsVoice) -> None:
        try:
            for sentence in sentences(utterance.text):
                utterance.append(self.tts.synthesize(sentence, voice.name, voice.rate, self.rate))
                self._wake()
        except Exception as exc:  # noqa: BLE001 - speech failed: this call ends, no other
            utterance.finish(self.rate)
            self._on_failure(str(exc)[:200])
            return
        utterance.finish(self.rate)
        self._wake()
