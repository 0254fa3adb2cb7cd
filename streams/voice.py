"""The voice half of a call: caller audio -> turns -> vosk -> policy -> pyttsx3 -> the caller.

One ``VoicePipeline`` per session. Caller frames arrive from the session's
reader; the turn detector marks speech and the end of each turn; audio goes to
the call's STT greenlet in ~100 ms chunks through a bounded queue, and vosk
runs in gevent's thread pool. At the end of a turn the final text goes to the
policy, and its reply is synthesised by the TTS pool and queued on the
session's playback clock. Speech over the bot's own audio triggers barge-in by
the agent's interruption strategy.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.queue import Full, Queue

from .dialogue import Decision, Policy, ScriptedPolicy
from .events import publish
from .loopwatch import STT_LAG
from .offload import run_blocking
from .playback import Utterance
from .stt import Recognizer, SpeechModels
from .tts import TTSError, TTSPool
from .turns import SpeechStarted, TurnDetector, TurnEnded

log = logging.getLogger(__name__)

_SENTENCE = re.compile(r"(?<=[.!?。？！])\s+")


@dataclass
class VoiceServices:
    """What every call's pipeline shares: models, the TTS pool, tuning, hooks."""

    models: SpeechModels
    tts: TTSPool
    stt_chunk_ms: int = 100
    min_confidence: float = 0.5
    vad_threshold: int = 500
    make_policy: Callable[[Mapping[str, Any]], Policy] | None = None
    on_latency: Callable[[float], None] | None = None


class VoicePipeline:
    def __init__(self, session: Any, agent: Mapping[str, Any], services: VoiceServices) -> None:
        self.session = session
        self.agent = agent
        self.services = services
        self.rate = session.settings.rate
        self.log = session.log
        self.policy: Policy = (services.make_policy or (lambda a: ScriptedPolicy(a, services.min_confidence)))(agent)
        self.voice = {"voice": agent.get("voice", "en-us"), "rate": int(agent.get("rate", 160))}
        turn = agent.get("turn") or {}
        self.turns = TurnDetector(self.rate, int(turn.get("hangover_ms", 300)), services.vad_threshold)
        self.interruption = dict(agent.get("interruption") or {"enabled": True, "min_words": 0, "min_duration": 0.1})
        self.recognizer: Recognizer | None = None
        self.handed_off = False
        self.closing = False
        self._audio: Queue = Queue(maxsize=50)
        self._buffer = bytearray()
        self._preroll: deque[bytes] = deque(maxlen=10)  # ~200 ms before speech is declared
        self._chunk = int(self.rate * services.stt_chunk_ms / 1000) * 2
        self._partial_words = 0
        self._barged = False
        self._stt_busy = False
        self.turn_count = 0

    # -- lifecycle (called by the session) ---------------------------------------------
    def on_live(self) -> None:
        language = self.agent.get("language", "en")
        model = self.services.models.model_for(language) if self.services.models.available else None
        if model is not None:
            phrases = (
                [p for i in self.agent.get("intents", []) for p in i["phrases"]] if self.agent.get("grammar") else None
            )
            self.recognizer = run_blocking(self.services.models.recognizer, model, self.rate, phrases)
            if self.recognizer.unknown_words:
                self.log.warning(
                    "the speech model does not know %s: phrases with them are never heard",
                    self.recognizer.unknown_words,
                )
            self.session.tasks.spawn(self._stt_loop)
        else:
            self.log.warning("no speech model for language %r: the agent's no-STT rule applies", language)
            self.session.store.add_timeline(self.session.call_id, "stt.unavailable", {"language": language})
        greeting = self.policy.greeting()
        spoken = None
        if greeting.reply and self.agent.get("greeting_mode", "tts") == "tts":
            spoken = self.say(greeting.reply, kind="greeting")
        if self.recognizer is None:
            self._wait_heard(spoken)
            if self.agent.get("no_stt", "handoff") == "handoff" and (self.agent.get("human") or {}).get("numbers"):
                self.session.hand_off(why="no_stt")
            else:
                self._wait_heard(self.say(self.agent.get("goodbye") or "Goodbye.", kind="goodbye"))
                self.session.end("no_stt")

    def on_audio(self, pcm: bytes, now: float) -> None:
        for event in self.turns.feed(pcm, now):
            if isinstance(event, SpeechStarted):
                self._buffer.extend(b"".join(self._preroll))
                self._barged = False
                self._partial_words = 0
                publish(self.session.call_id, "speech.started")
            elif isinstance(event, TurnEnded):
                self._push(bytes(self._buffer))
                self._buffer.clear()
                self._push(("end", event.at, event.speech_ms))
        if self.recognizer is None:
            return
        if not self.turns.in_speech and not self._buffer:
            self._preroll.append(pcm)
        if self.turns.in_speech or self._buffer:
            self._buffer.extend(pcm)
            if len(self._buffer) >= self._chunk:
                self._push(bytes(self._buffer))
                self._buffer.clear()
        if self.turns.in_speech and not self._barged and not self.handed_off:
            self._maybe_barge_in(now)

    def on_handoff(self) -> None:
        self.handed_off = True
        publish(self.session.call_id, "handoff")

    def on_end(self) -> None:
        self.closing = True

    # -- hearing ------------------------------------------------------------------------
    def _push(self, item: Any) -> None:
        if self.recognizer is None or (isinstance(item, bytes) and not item):
            return
        if isinstance(item, bytes):
            item = ("audio", item, time.monotonic())
        try:
            self._audio.put_nowait(item)
        except Full:
            self.session.counters["dropped_stt_backlog"] += 1

    def _stt_loop(self) -> None:
        recognizer = self.recognizer
        assert recognizer is not None
        try:
            self._hear(recognizer)
        finally:
            # Back to the pool only if no thread-pool call is still inside it; in a greenlet of its
            # own, because this one is usually being killed with the session's tasks.
            if not self._stt_busy:
                gevent.spawn(run_blocking, self.services.models.release, recognizer)

    def _hear(self, recognizer: Recognizer) -> None:
        while not self.closing:
            item = self._audio.get()
            if isinstance(item, tuple) and item[0] == "audio":
                _, pcm, queued_at = item
                self._stt_busy = True
                try:
                    partial = run_blocking(recognizer.accept, pcm)
                except Exception:
                    self.log.exception("speech recognition failed")
                    self.session.end("stt_error")
                    return
                self._stt_busy = False
                STT_LAG.add(time.monotonic() - queued_at)  # audio in -> its result out
                if partial:
                    self._partial_words = len(partial.split())
                    publish(self.session.call_id, "transcript.partial", text=partial)
                continue
            _, speech_end, speech_ms = item
            self._stt_busy = True
            try:
                text, confidence, _words = run_blocking(recognizer.final)
            except Exception:
                self.log.exception("speech recognition failed")
                self.session.end("stt_error")
                return
            self._stt_busy = False
            self._on_turn(text, confidence, speech_end, speech_ms)

    def _maybe_barge_in(self, now: float) -> None:
        strategy = self.interruption
        if not strategy.get("enabled", True) or not self.session.playback.audible(now):
            return
        if self.turns.speech_ms < 1000 * float(strategy.get("min_duration", 0.1)):
            return
        if int(strategy.get("min_words", 0)) > self._partial_words:
            return
        self._barged = True
        cuts = self.session.interrupt("barge_in")
        publish(self.session.call_id, "barge_in", cuts=cuts)

    # -- deciding -------------------------------------------------------------------------
    def _on_turn(self, text: str, confidence: float, speech_end: float, speech_ms: float) -> None:
        call_id = self.session.call_id
        self.turn_count += 1
        if text:
            self.session.store.add_transcript(call_id, "caller", text)
        publish(call_id, "transcript.final", speaker="caller", text=text, confidence=round(confidence, 3))
        if self.handed_off or self.closing:
            return  # monitoring only: a person has the call
        decision = self.policy.on_turn(text, confidence)
        self.session.store.add_timeline(
            call_id,
            "turn",
            {
                "n": self.turn_count,
                "text": text,
                "confidence": round(confidence, 3),
                "intent": decision.intent,
                "miss": decision.miss,
                "action": decision.action,
                "speech_ms": round(speech_ms),
            },
        )
        self._act(decision, speech_end)

    def _act(self, decision: Decision, speech_end: float | None) -> None:
        if decision.action == "switch_voice" and decision.voice:
            chosen = (self.agent.get("voices") or {}).get(decision.voice, {})
            self.voice = {
                "voice": chosen.get("voice", self.voice["voice"]),
                "rate": int(chosen.get("rate", self.voice["rate"])),
            }
            self.session.store.add_timeline(
                self.session.call_id, "voice.switched", {"to": decision.voice, **self.voice}
            )
        reply = self.say(decision.reply, kind="reply") if decision.reply else None
        if reply is not None and speech_end is not None:
            self.session.tasks.spawn(self._measure, reply, speech_end)
        if decision.action == "transfer":
            self.session.hand_off(why=decision.reason or "intent")
        elif decision.action == "hangup":
            self._wait_heard(reply)
            self.session.end("agent_hangup")
        elif decision.action == "play" and decision.file:
            self._wait_heard(reply)
            self.session.play_file(decision.file, self.session.settings.play_mode)

    def _measure(self, utterance: Utterance, speech_end: float) -> None:
        """End of the caller's speech -> the reply's first audio on the wire."""
        deadline = time.monotonic() + 30
        while utterance.first_sent_at is None and not self.closing and time.monotonic() < deadline:
            gevent.sleep(0.005)
        if utterance.first_sent_at is None:
            return
        latency = utterance.first_sent_at - speech_end
        self.session.store.add_timeline(
            self.session.call_id, "reply", {"n": self.turn_count, "latency_ms": round(latency * 1000, 1)}
        )
        publish(self.session.call_id, "reply.latency", ms=round(latency * 1000, 1))
        if self.services.on_latency is not None:
            self.services.on_latency(latency)

    def _wait_heard(self, utterance: Utterance | None, limit: float = 30.0) -> None:
        if utterance is None:
            return
        deadline = time.monotonic() + limit
        while not self.closing and time.monotonic() < deadline:
            end = utterance.end_time()
            if utterance.complete and utterance.sent >= len(utterance.pcm) and (end is None or end <= time.monotonic()):
                return
            gevent.sleep(0.05)

    # -- speaking ---------------------------------------------------------------------------
    def say(self, text: str, *, kind: str = "speech") -> Utterance | None:
        """Queue ``text`` for the caller; audio follows sentence by sentence as it is synthesised."""
        if self.closing or self.handed_off and kind not in ("hold", "speech"):
            return None
        utterance = Utterance(text=text, kind=kind, complete=False)
        self.session.enqueue(utterance)
        self.session.store.add_transcript(self.session.call_id, "bot", text)
        publish(self.session.call_id, "transcript.final", speaker="bot", text=text, kind=kind)
        self.session.tasks.spawn(self._synthesise, utterance, dict(self.voice))
        return utterance

    def _synthesise(self, utterance: Utterance, voice: dict[str, Any]) -> None:
        try:
            for sentence in [s for s in _SENTENCE.split(utterance.text) if s.strip()]:
                pcm = self.services.tts.synthesize(sentence, voice["voice"], voice["rate"], self.rate)
                utterance.append(pcm)
                self.session.wake()
        except (TTSError, Exception) as exc:  # noqa: BLE001 - speech failed: this call ends, no other
            self.log.error("speech synthesis failed: %s", exc)
            utterance.finish(self.rate)
            self.session.store.add_timeline(self.session.call_id, "tts.failed", {"error": str(exc)[:200]})
            gevent.spawn(self.session.end, "tts_error")
            return
        utterance.finish(self.rate)
        self.session.wake()
