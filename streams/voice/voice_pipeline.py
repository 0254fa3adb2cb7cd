"""The voice half of a call: caller audio -> turns -> vosk -> policy -> pyttsx3 -> the caller.

One ``VoicePipeline`` per call, speaking to it only through its ``CallPort``.
``Hearing`` turns frames into recognised turns; the policy decides; replies go
out through ``port.say``. Speech over the bot's own audio interrupts it by the
agent's interruption strategy. After a handoff the pipeline only transcribes,
until nobody answers: then ``RingBack`` offers to ring again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from streams import events as ev
from streams.errors import CallError, NoTransferTarget
from streams.offload import run_blocking
from streams.playback import Utterance
from streams.speech.tts import TtsVoice
from streams.turns.models import detector_for
from streams.turns.rules import TurnDetector, TurnRule
from streams.turns.vad import EnergyVad
from streams.voice.amd import AmdRule, Screening
from streams.voice.dialogue import Decision, Policy, ScriptedPolicy
from streams.voice.filler import Filler
from streams.voice.guard import SpeechGuard
from streams.voice.hearing import Heard, Hearing, stt_rate
from streams.voice.idle import IdleRule, IdleWatch
from streams.voice.port import CallPort
from streams.voice.reply_watch import watch_reply
from streams.voice.resumption import FalseInterruption
from streams.voice.ring_back import RingBack
from streams.voice.services import VoiceServices, grammar_phrases


class VoicePipeline:
    def __init__(
        self, port: CallPort, agent: Mapping[str, Any], services: VoiceServices, outbound: bool = False
    ) -> None:
        self.port = port
        self.agent = agent
        self.services = services
        self.log = port.log
        self.policy: Policy = (services.make_policy or (lambda a: ScriptedPolicy(a, services.min_confidence)))(agent)
        if hasattr(self.policy, "on_note"):  # the LLM's tools: on the timeline, and a line while one is slow
            self.policy.on_note = lambda what, info: port.publish(ev.Note(call_id=port.call_id, what=what, info=info))
            self.policy.on_wait = lambda text: self.say(text, "filler")
        self.voice = TtsVoice(agent.get("voice", "en-us"), int(agent.get("rate", 160)))
        self.turn_rule = TurnRule.of(agent)
        self.turns = TurnDetector(port.rate, TurnRule(), EnergyVad(services.vad_threshold))  # set when hearing starts
        self.interruption = dict(agent.get("interruption") or {"enabled": True, "min_words": 0, "min_duration": 0.1})
        self.hearing: Hearing | None = None
        self.handed_off = False
        self.closing = False
        self.turn_count = 0
        self._barged = False
        rule = IdleRule.of(agent)
        self.idle = IdleWatch(rule, 0.0) if rule is not None else None
        amd = AmdRule.of(agent) if outbound else None
        self.screening = (
            Screening(amd, port, self._greet, self.say, agent.get("goodbye") or "") if amd is not None else None
        )
        self.filler = Filler(agent)
        self.guard = SpeechGuard(agent)
        self.false_interruption = FalseInterruption(agent)
        self.ring_back = RingBack(port, agent, self.say, lambda: self.turns.in_speech, services.min_confidence)

    # -- what the call tells the pipeline ------------------------------------------------------
    def on_live(self) -> None:
        # The greeting first: the caller hears it while the recogniser gets ready. An outbound call that
        # screens for answering machines greets only once a person has answered.
        spoken = self._greet() if self.screening is None else None
        self.hearing = self._start_hearing()
        if self.hearing is None:
            self.port.wait_heard(spoken)
            self._without_hearing()

    def _greet(self) -> Utterance | None:
        greeting = self.policy.greeting()
        if greeting.reply and self.agent.get("greeting_mode", "tts") == "tts":
            return self.say(greeting.reply, "greeting")
        return None

    def on_audio(self, pcm: bytes, now: float) -> None:
        if self.screening is not None and self.screening.pending:
            self.screening.feed(pcm)
        hearing = self.hearing
        if hearing is None:
            return
        self.guard.now = now
        hearing.feed(pcm, now)
        if self.turns.in_speech and not self._barged and not self.handed_off:
            self._maybe_barge_in(hearing)
        if self.idle is not None and not self.handed_off and not self.closing:
            self._watch_idle(self.idle, now)

    def _watch_idle(self, idle: IdleWatch, now: float) -> None:
        if idle.last_activity == 0.0:
            idle.last_activity = now  # the watch starts with the first frame heard
        what = idle.observe(now, self.turns.in_speech, self.port.audible())
        if what is None:
            return
        self.port.publish(ev.Note(call_id=self.port.call_id, what=f"idle.{what}", info={"n": idle.reprompts}))
        if what == "reprompt":
            self.say(idle.rule.reprompt, "reprompt")
        else:
            self.idle = None  # once
            self.port.spawn(self._idle_goodbye, idle.rule.goodbye)

    def _idle_goodbye(self, text: str) -> None:
        self.port.wait_heard(self.say(text, "goodbye"))
        self.port.end("caller_idle")

    def on_handoff(self) -> None:
        self.handed_off = True
        self.ring_back.cancel()

    def on_handoff_unanswered(self, offers_left: int) -> None:
        self.handed_off = False  # the bot has the caller again
        if self.idle is not None:
            self.idle.last_activity = 0.0  # silence counts from now, not from before the ring
        # A caller we cannot hear cannot answer an offer: a goodbye instead.
        self.port.spawn(self.ring_back.start, offers_left if self.hearing is not None else 0)

    def close(self) -> None:
        self.closing = True
        if self.hearing is not None:
            self.hearing.closing = True

    # -- hearing -------------------------------------------------------------------------------
    def _start_hearing(self) -> Hearing | None:
        language = self.agent.get("language", "en")
        models = self.services.models
        model = models.model_for(language, profile=self.agent.get("stt_profile")) if models.available else None
        if model is None:
            self.log.warning("no speech model for language %r: the agent's no-STT rule applies", language)
            self.port.publish(ev.Note(call_id=self.port.call_id, what="stt.unavailable", info={"language": language}))
            return None
        recognizer = run_blocking(models.recognizer, model, stt_rate(self.port.rate), grammar_phrases(self.agent))
        if recognizer.unknown_words:
            self.log.warning(
                "the speech model does not know %s: phrases with them are never heard", recognizer.unknown_words
            )
        judge = self._start_turns()
        hearing = Hearing(
            self.turns,
            recognizer,
            models,
            int(self.port.rate * self.services.stt_chunk_ms / 1000) * 2,
            on_speech=self._speech_started,
            on_partial=lambda text: self.port.publish(ev.PartialTranscript(call_id=self.port.call_id, text=text)),
            on_turn=self._on_turn,
            on_drop=lambda: self.port.count("dropped_stt_backlog"),
            judge=judge,
            spawn=self.port.spawn,
        )
        self.port.spawn(self._run_hearing, hearing)
        return hearing

    def _start_turns(self) -> Callable[[bytes, int], float] | None:
        """The agent's turn detector (models loaded off the loop); without its models, energy + silence."""
        self.turns, judge = detector_for(
            self.turn_rule, self.services.turn_models, self.port.rate, self.services.vad_threshold,
            self._turn_fallback, self.log,
        )  # fmt: skip
        return judge

    def _turn_fallback(self, why: dict[str, Any]) -> None:
        info = {**why, "vad": "energy", "end": "silence"}
        self.port.publish(ev.Note(call_id=self.port.call_id, what="turn.fallback", info=info))

    def _run_hearing(self, hearing: Hearing) -> None:
        try:
            hearing.run()
        except Exception:  # noqa: BLE001 - recognition failed: this call ends, no other
            self.log.exception("speech recognition failed")
            self.port.end("stt_error")

    def _without_hearing(self) -> None:
        """No speech model: hand the caller to a person if the agent says so (and can), else say goodbye."""
        if self.agent.get("no_stt", "handoff") == "handoff":
            self._hand_off("no_stt")
            return
        if not self.handed_off:
            self.port.wait_heard(self.say(self.agent.get("goodbye") or "Goodbye.", "goodbye"))
            self.port.end("no_stt")

    def _speech_started(self) -> None:
        self._barged = False
        self.guard.speech_started(self.port.guarded())
        self.port.publish(ev.SpeechStarted(call_id=self.port.call_id))

    def _maybe_barge_in(self, hearing: Hearing) -> None:
        strategy = self.interruption
        if not strategy.get("enabled", True) or not self.port.audible() or self.port.guarded():
            return
        if self.turns.speech_ms < 1000 * float(strategy.get("min_duration", 0.1)):
            return
        if int(strategy.get("min_words", 0)) > hearing.partial_words:
            return
        self._barged = True
        self.false_interruption.barged(self.port.interrupt("barge_in"))

    # -- deciding ----------------------------------------------------------------------------------
    def _on_turn(self, heard: Heard) -> None:
        call_id = self.port.call_id
        if self.guard.ignores(heard):  # spoken over a line that cannot be cut: heard, not a turn
            self.port.publish(ev.TranscriptLine(call_id=call_id, speaker="caller", text=heard.text))
            info = {"text": heard.text, "why": "uninterruptible"}
            self.port.publish(ev.Note(call_id=call_id, what="turn.ignored", info=info))
            return
        if self.false_interruption.resume(self.port, heard):  # a cough, an "uh-huh": the cut line goes on
            return
        self.turn_count += 1
        confidence = round(heard.confidence, 3)
        self.port.publish(ev.TranscriptLine(call_id=call_id, speaker="caller", text=heard.text, confidence=confidence))
        if self.handed_off or self.closing or (self.screening is not None and self.screening.pending):
            return  # monitoring only: a person has the call (or we do not know yet who answered)
        if self.ring_back.pending:  # the answer to "shall I try again?"
            decision = self.ring_back.answer(heard.text, heard.confidence)
        else:
            on_turn, say = self.policy.on_turn, self.say
            decision = self.filler.decide(lambda: on_turn(heard.text, heard.confidence), lambda t: say(t, "filler"))
        self.port.publish(
            ev.Turn(
                call_id=call_id,
                n=self.turn_count,
                text=heard.text,
                confidence=confidence,
                intent=decision.intent,
                miss=decision.miss,
                action=decision.action,
                speech_ms=round(heard.speech_ms),
                ended_by=heard.ended_by,
                waited_ms=heard.waited_ms,
                completeness=list(heard.checks),
                ended_at=round(time.time() - (time.monotonic() - heard.speech_end), 3),
            )
        )
        self._act(decision, heard.speech_end)

    def _act(self, decision: Decision, speech_end: float) -> None:
        if decision.action == "switch_voice" and decision.voice:
            chosen = (self.agent.get("voices") or {}).get(decision.voice, {})
            self.voice = TtsVoice(chosen.get("voice", self.voice.name), int(chosen.get("rate", self.voice.rate)))
            info = {"to": decision.voice, "voice": self.voice.name, "rate": self.voice.rate}
            self.port.publish(ev.Note(call_id=self.port.call_id, what="voice.switched", info=info))
        timed = (self.turn_count, speech_end)
        reply = self.say(decision.reply, "reply", timed, decision.interruptible) if decision.reply else None
        if reply is not None:
            self.port.spawn(watch_reply, self.port, reply, self.turn_count, self.services.reply_deadline, self)
        if decision.action == "transfer":
            self._hand_off(decision.reason or "intent", turn=self.turn_count, speech_end=speech_end)
        elif decision.action == "hangup":
            self.port.wait_heard(reply)
            self.port.end(decision.reason or "agent_hangup")
        elif decision.action == "play" and decision.file:
            self.port.wait_heard(reply)
            self.port.play(decision.file)

    def _hand_off(self, why: str, turn: int | None = None, speech_end: float | None = None) -> None:
        """A transfer the pipeline wants; one already under way (e.g. from the API) is not an error.

        With ``turn``, the hold line is that turn's reply and its latency is published.
        """
        on_start = (lambda u: self._timed(u, turn, speech_end)) if turn is not None and speech_end is not None else None
        try:
            self.port.hand_off(why, on_start)
        except NoTransferTarget:  # nobody to hand to: a polite goodbye instead of silence
            self.log.info("no %s transfer: the agent has no human.numbers; saying goodbye", why)
            self.port.wait_heard(self.say(self.agent.get("goodbye") or "Goodbye.", "goodbye"))
            self.port.end("no_human")
        except CallError as exc:
            self.log.info("no %s transfer: %s", why, exc.message)

    # -- speaking ------------------------------------------------------------------------------------
    def say(
        self, text: str, kind: str, timed: tuple[int, float] | None = None, interruptible: str | None = None
    ) -> Utterance | None:
        """Queue ``text``; with ``timed`` (turn, end of speech) its reply latency is published."""
        if self.closing or (self.handed_off and kind not in ("hold", "speech")):
            return None
        try:
            utterance = self.port.say(text, kind, self.voice, self.guard.mode(kind, interruptible))
        except CallError as exc:
            self.log.info("cannot say %s: %s", kind, exc.message)
            return None
        if utterance is not None and timed is not None:
            utterance.on_start = lambda u: self._timed(u, *timed)
        return utterance

    def _timed(self, utterance: Utterance, turn: int, speech_end: float) -> None:
        """End of the caller's speech -> the reply's first audio on the wire."""
        if utterance.first_sent_at is None:
            return
        latency_ms = round((utterance.first_sent_at - speech_end) * 1000, 1)
        self.port.publish(ev.ReplyTimed(call_id=self.port.call_id, n=turn, latency_ms=latency_ms))
