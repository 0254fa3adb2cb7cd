"""One live call: lifecycle, limits and commands. The socket is the media link's; speech is the pipeline's.

    connecting --first message--> live --bridge sent--> handed_off --nobody answered--> live
         \\_____________________________\\_______________________\\______________--> ended (with a reason)

Commands (``handle``, one entry each in ``streams.session.commands``) come from the REST API and the dashboard;
what happens is published as events (``streams.events``). The call is also the voice pipeline's ``CallPort``;
transfers are its mixin ``Transfers`` (streams/session/transfer.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from actions import PCMO
from streams import events as ev
from streams.errors import CallError, CallNotLive, CommandUnavailable
from streams.link import protocol, recorder
from streams.link.media_link import MediaLink
from streams.link.settings import CLOSE_NORMAL, CLOSE_POLICY, CallLog
from streams.playback import Utterance
from streams.session import commands
from streams.session.briefing import Memory, Summarizer
from streams.session.media_files import MediaFiles
from streams.session.player import Player
from streams.session.settings import CallSettings
from streams.session.speaker import Speaker, SpeechPort, spoken
from streams.session.transfer import Transfers
from streams.shedding import SHEDDING
from streams.speech.tts import TTSPool, TtsVoice
from streams.voice.port import VoiceFactory, VoiceHandler

log = logging.getLogger(__name__)

MAX_STORED_EVENT = 2000  # characters of a platform text event kept on the timeline


class Call(Transfers, SpeechPort):
    def __init__(
        self,
        call_id: str,
        *,
        agent: Mapping[str, Any] | None,
        settings: CallSettings,
        link: MediaLink,
        bus: ev.EventBus,
        media: MediaFiles,
        tts: TTSPool | None = None,
        make_voice: VoiceFactory | None = None,
        on_end: Callable[[Call], None] | None = None,
        summarize: Summarizer | None = None,
    ) -> None:
        self.call_id = call_id
        self.agent = dict(agent or {})
        self.settings = settings
        self.link = link
        self.bus = bus
        self.rate = link.rate
        self.log = CallLog(log, {"call_id": call_id})  # every line of a call's log starts with its id
        self.clock = link.clock
        self.state = "connecting"
        self.end_reason: str | None = None
        self.started = self.last_audio = self.clock()
        self.paused = self.stopped = False
        self.metadata: dict[str, Any] | None = None  # the module's first text frame, if it sent one
        self._drops = 0
        self.tasks = Group()
        self._on_end = on_end
        self.memory, self._summarize = Memory(), summarize  # for the warm-transfer brief
        self._ending = False
        self._ended = Event()
        self.player = Player(
            media, link, self.tasks, self.publish, call_id, settings.play_mode, remaining_ms=self._remaining_ms
        )
        voice = TtsVoice(self.agent.get("voice", "en-us"), int(self.agent.get("rate", 160)))
        self.speaker = Speaker(tts, link, voice, self.tasks, self._tts_failed) if tts is not None else None
        self.handoff = self._make_handoff()
        link.on_writer_failed = self._writer_failed
        self.voice: VoiceHandler | None = make_voice(self) if make_voice is not None else None

    # -- lifecycle --------------------------------------------------------------------------
    def _remaining_ms(self) -> float:
        """Milliseconds until the call's max duration."""
        return (self.settings.max_duration - (self.clock() - self.started)) * 1000

    @property
    def ended(self) -> bool:
        return self._ending

    def start(self) -> None:
        self._set_state("connecting", rate=self.rate)
        self.link.start()
        self.log.info("stream open at %d Hz", self.rate)

    def attach(self, sock: Any) -> None:
        redial = self.link.sock is None and self._drops > 0
        if self.link.attach(sock) is not None or redial:
            what = "redialled: the call goes on" if redial else "replaced: a second socket arrived"
            self.last_audio = self.clock()  # the time without a socket is not the caller's silence
            self.log.warning("socket %s", what)
            self.publish(ev.Note(call_id=self.call_id, what="socket.redialled" if redial else "socket.replaced"))

    def serve(self, sock: Any) -> None:
        """Read ``sock`` until it closes or is replaced (runs in the socket handler's greenlet)."""
        outcome = self.link.serve(sock, self)
        if outcome == "dropped" and not self.ended and self.settings.reconnect_grace > 0:
            self._lost(sock)
        elif outcome == "flooded" and not self.ended:  # caller audio far faster than real time
            self.end("audio_flood", code=CLOSE_POLICY)
        elif outcome and not self.ended:
            self.end("socket_closed", hangup=False)
        elif self.link.sock is sock:
            # Ending elsewhere: stay until our close frame is out, or flask-sock closes with a bare 1000.
            self._ended.wait(10)

    def _lost(self, sock: Any) -> None:
        """No close frame: a network blip, or a module build that redials. Hold the call for the grace."""
        if self.link.detach(sock):
            self._drops, grace = self._drops + 1, self.settings.reconnect_grace
            self.log.warning("socket lost without a close frame: waiting %.1fs for a redial", grace)
            self.publish(ev.Note(call_id=self.call_id, what="socket.dropped", info={"grace": grace}))
            self.spawn(self._grace_over, self._drops)

    def _grace_over(self, drop: int) -> None:
        gevent.sleep(self.settings.reconnect_grace)
        if not self._ending and self.link.sock is None and self._drops == drop:  # no redial in time
            self.end("socket_lost", hangup=False)

    def end(self, reason: str, *, hangup: bool = True, code: int = CLOSE_NORMAL) -> None:
        """End once: hang up (unless told not to), close the socket with ``code``, free everything."""
        if self._ending:
            return
        self._ending = True
        self.end_reason = reason
        self.link.close(code, reason, PCMO().hangup().PCMO() if hangup and not self.stopped else None)
        current = gevent.getcurrent()
        gevent.killall([t for t in self.tasks if t is not current], block=True, timeout=2)
        if self.voice is not None:
            self._guard(self.voice.close, "voice failed while ending")
        recording = recorder.finish(self.link.recorder, self.log)
        self.state = "ended"
        stats = self.stats()
        self.publish(ev.CallEnded(call_id=self.call_id, reason=reason, stats=stats, recording=recording))
        self.publish(ev.StateChanged(call_id=self.call_id, state="ended", reason=reason))
        self._ended.set()
        self.log.info("ended (%s): %s", reason, stats)
        if self._on_end is not None:
            self._on_end(self)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "seconds": round(self.clock() - self.started, 3), **self.link.stats()}

    # -- inbound (the media link's receiver) -------------------------------------------------
    def on_audio(self, pcm: bytes, now: float) -> None:
        if self.state == "connecting":
            self._go_live()
        self.last_audio = now
        if self.voice is not None and not self._ending:
            self._guard(lambda: self.voice.on_audio(pcm, now), "voice failed on caller audio", end="voice_error")

    def on_event(self, event: protocol.Event, now: float) -> None:
        if self.state == "connecting":
            self._go_live()
        self.log.info("event %s", event.kind)
        data = protocol.bounded(event.data, MAX_STORED_EVENT)
        self.publish(ev.Note(call_id=self.call_id, what="stream.event", info={"kind": event.kind, "data": data}))

    def on_metadata(self, metadata: protocol.Metadata, now: float) -> None:
        self.metadata = protocol.bounded(metadata.data, MAX_STORED_EVENT)
        self.publish(ev.Note(call_id=self.call_id, what="stream.metadata", info={"data": self.metadata}))

    def on_tick(self, now: float) -> None:
        if self._ending:
            return
        self.handoff.tick(now)  # the backstop for a ring the platform says nothing about
        if now - self.started > self.settings.max_duration:
            self.log.info("max duration %.0fs reached", self.settings.max_duration)
            self.end("max_duration")
        elif not self.paused and not self.stopped and now - self.last_audio > self.settings.idle_timeout:
            self.log.info("no caller audio for %.0fs", self.settings.idle_timeout)
            self.end("idle_timeout")

    def _go_live(self) -> None:
        self._set_state("live")
        if self.voice is not None:
            self.spawn(self._guard, self.voice.on_live, "voice task failed", "voice_error")

    # -- commands ----------------------------------------------------------------------------
    def handle(self, name: str, params: Mapping[str, Any], by: str = "api") -> dict[str, Any]:
        """Carry out one command (already validated); raises CallError when the call cannot."""
        if self._ending:
            raise CallNotLive("The call's stream has ended.")
        result = commands.get(name).handler(self, params, by)
        self.publish(ev.CommandApplied(call_id=self.call_id, action=name, by=by, result=result))
        return result

    def pause(self) -> None:
        self.link.send({"action": "pause"})
        self.paused = self.link.audio_held = True

    def resume(self) -> None:
        self.link.send({"action": "resume"})
        self.paused = self.link.audio_held = self.stopped
        self.last_audio = self.clock()

    def stop(self) -> None:
        """Stop the stream; the platform keeps the call (no hangup) and the session ends."""
        self.link.send({"action": "stop"})
        self.stopped = self.link.audio_held = True
        self.spawn(self._end_soon, "stream_stopped", False)

    def hang_up(self) -> None:
        self.spawn(self._end_soon, "hangup_requested", True)

    def _end_soon(self, reason: str, hangup: bool) -> None:
        gevent.sleep(0.05)  # let the command's own message go out first
        self.end(reason, hangup=hangup)

    # -- the voice pipeline's port ------------------------------------------------------------
    def say(
        self, text: str, kind: str = "speech", voice: TtsVoice | None = None, interruptible: str = "true"
    ) -> Utterance | None:
        if self.speaker is None:
            raise CommandUnavailable("Speech needs the TTS engine, which this call does not have.")
        if self._ending:
            raise CallNotLive("The call's stream has ended.")
        utterance = self.speaker.say(text, kind, voice, interruptible)
        utterance.on_sent = lambda u: self.publish(spoken(self.call_id, u, self.clock(), self.link.out_rate))
        self.publish(ev.TranscriptLine(call_id=self.call_id, speaker="bot", text=text, line_kind=kind))
        return utterance

    def play(self, file: str, mode: str | None = None) -> dict[str, Any]:
        return self.player.play(file, mode)

    def interrupt(self, why: str) -> list[dict[str, Any]]:
        cuts = self.link.interrupt()
        self.publish(ev.Interrupted(call_id=self.call_id, why=why, cuts=cuts))
        return cuts

    def diagnose(self) -> dict[str, Any]:
        tts = self.speaker.tts if self.speaker is not None else None
        pool = {"idle": tts.idle_workers(), "workers": tts.size, **tts.stats} if tts is not None else None
        return {**self.link.diagnose(), "tts": pool}

    def publish(self, event: ev.CallEvent) -> None:
        if isinstance(event, ev.PartialTranscript) and SHEDDING.sheds("partials", self.link.counters):
            return  # a late loop shows no partial text (streams/shedding.py)
        self.memory.observe(event)
        self.bus.publish(event)

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        self.tasks.spawn(fn, *args)

    def count(self, counter: str) -> None:
        self.link.counters[counter] += 1

    # -- internals ------------------------------------------------------------------------------
    def _set_state(self, state: str, reason: str | None = None, **info: Any) -> None:
        self.state = state
        self.publish(ev.StateChanged(call_id=self.call_id, state=state, reason=reason, info=info))

    def _writer_failed(self) -> None:
        self.publish(ev.Note(call_id=self.call_id, what="stream.writer_failed"))
        self.end("internal_error")

    def _tts_failed(self, error: str) -> None:
        self.log.error("speech synthesis failed: %s", error)
        self.publish(ev.Note(call_id=self.call_id, what="tts.failed", info={"error": error}))
        gevent.spawn(self.end, "tts_error")

    def _guard(self, fn: Callable[[], Any], what: str, end: str | None = None) -> None:
        """Run voice code; its failure ends this call (with ``end``), never another."""
        try:
            fn()
        except CallError as exc:
            self.log.info("%s: %s", what, exc.message)
        except Exception:  # noqa: BLE001
            self.log.exception(what)
            if end is not None:
                gevent.spawn(self.end, end)
