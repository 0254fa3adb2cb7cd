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
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import gevent
from gevent.pool import Group

from streams.audio import frame_bytes
from streams.events import Spoken
from streams.link.media_link import MediaLink
from streams.playback import Utterance
from streams.speech.tts import TTSPool, TtsVoice

if TYPE_CHECKING:
    from streams.session.call import Call

log = logging.getLogger(__name__)
FOLLOW_LIMIT_S = 30.0  # a resumed line follows its original's synthesis at most this long

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
        self._playback = link.playback
        self._wake = link.wake
        self._tasks = tasks
        self._on_failure = on_failure
        self._guarded: list[Utterance] = []  # lines speech may not cut, queued or playing
        self._recent: deque[Utterance] = deque(maxlen=8)  # what a false interruption may resume

    def guarded(self, now: float) -> bool:
        """True while a line that speech may not cut is queued or playing (cut or dropped ones no longer are)."""
        playback = self._playback
        self._guarded = [
            u for u in self._guarded
            if not u.cut
            and (u is playback.current or any(q is u for q in playback.queue) or (u.end_time() or 0.0) > now)
        ]  # fmt: skip
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
        self._recent.append(utterance)
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

    def resume(self, utterance_id: int, heard_ms: float, heard_words: int) -> Utterance | None:
        """The rest of a cut line, from where the caller stopped hearing it (#23.5); None if it is not ours."""
        original = next((u for u in self._recent if u.id == utterance_id), None)
        if original is None:
            return None
        frame = frame_bytes(self.rate)
        offset = int(heard_ms * self.rate / 1000) * 2 // frame * frame
        if original.complete and offset >= len(original.pcm):
            return None  # it had all been heard
        words = original.text.split()
        rest = self._enqueue(Utterance(text=" ".join(words[heard_words:]), kind=original.kind, complete=False))
        self._recent.append(rest)  # a resumed line cut by another false interruption resumes too
        self._tasks.spawn(self._follow, original, rest, offset)
        return rest

    def _follow(self, original: Utterance, rest: Utterance, offset: int) -> None:
        """Copy the original's audio past ``offset`` into ``rest``, as its synthesis goes on (bounded)."""
        for _ in range(int(FOLLOW_LIMIT_S / 0.02)):
            if len(original.pcm) > offset:
                rest.append(bytes(original.pcm[offset:]))
                offset = len(original.pcm)
                self._wake()
            if original.complete:
                break
            gevent.sleep(0.02)
        rest.finish(self.rate)
        self._wake()


class SpeechPort:
    """Mixed into ``Call`` (``self`` is the call): the ``CallPort``'s view of what the caller hears."""

    def audible(self: Call) -> bool:
        return self.link.playback.audible(self.clock())

    def guarded(self: Call) -> bool:
        return self.speaker is not None and self.speaker.guarded(self.clock())

    def wait_heard(self: Call, utterance: Utterance | None, limit: float = 30.0) -> bool:
        return self.link.wait_heard(utterance, limit)

    def wait_started(self: Call, utterance: Utterance, limit: float) -> bool:
        return self.link.wait_started(utterance, limit)

    def resume_line(self: Call, cut: Mapping[str, Any]) -> Utterance | None:
        """Play the rest of a line a false interruption cut, from ``cut["heard_ms"]`` (#23.5)."""
        if self.speaker is None or self.ended or "utterance" not in cut:
            return None
        heard_words = len(str(cut.get("heard_text") or "").split())
        rest = self.speaker.resume(int(cut["utterance"]), float(cut.get("heard_ms", 0)), heard_words)
        if rest is not None:
            rest.on_sent = lambda u: self.publish(spoken(self.call_id, u, self.clock(), self.link.out_rate))
        return rest
