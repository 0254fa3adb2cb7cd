"""One live call on the stream socket: its greenlets, queues, clock and lifecycle.

    connecting --first message--> live --transfer--> handed_off
         \\______________________________\\____________--> ended (with a reason)

The socket's handler greenlet is the reader (``serve``); one writer greenlet
sends everything, control messages and PCMO ahead of audio, audio paced on the
playback clock. Nothing else ever writes to the socket. A second socket for the
same call replaces the first (``attach``): the platform reconnects after network
trouble, and the newest socket is the one that works.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gevent
from gevent.event import Event
from gevent.pool import Group
from simple_websocket import ConnectionClosed

from actions import PCMO, encode, interrupt, pause, resume, stop, stream_audio

from . import protocol, transport
from .errors import SessionError
from .offload import run_blocking
from .playback import Playback, Utterance
from .recorder import Recorder

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_ERROR = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_REPLACED = 4001


@dataclass(frozen=True)
class SessionSettings:
    rate: int = 8000
    max_frame_bytes: int = 32000
    idle_timeout: float = 30.0
    max_duration: float = 3600.0
    lead_ms: int = 200
    chunk_ms: int = 100
    play_mode: str = "stream"
    control_queue: int = 64
    audio_queue: int = 32
    recordings_dir: str | None = None
    media_dir: str | None = None
    public_url: str = ""
    caller_id: str = ""


class Store(Protocol):
    def set_state(self, call_id: str, state: str, *, reason: str | None = None, **detail: Any) -> bool: ...
    def add_timeline(self, call_id: str, kind: str, detail: dict[str, Any] | None = None) -> None: ...
    def update(self, call_id: str, **fields: Any) -> None: ...


class Voice(Protocol):
    """The hearing and speaking half of a session (STT, dialogue, TTS); optional."""

    def on_live(self) -> None: ...
    def on_audio(self, pcm: bytes, now: float) -> None: ...
    def say(self, text: str, *, kind: str = "speech") -> Utterance | None: ...
    def on_handoff(self) -> None:
        """A transfer has begun: stop answering the caller (keep transcribing)."""

    def on_end(self) -> None: ...


class _CallLog(logging.LoggerAdapter):
    def process(self, msg: str, kwargs: Any) -> tuple[str, Any]:
        return f"call {self.extra['call_id']}: {msg}", kwargs  # type: ignore[index]


class CallSession:
    def __init__(
        self,
        call_id: str,
        *,
        store: Store,
        settings: SessionSettings,
        agent: Mapping[str, Any] | None = None,
        on_end: Callable[[CallSession], None] | None = None,
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self.call_id = call_id
        self.store = store
        self.settings = settings
        self.agent = dict(agent or {})
        self.log = _CallLog(log, {"call_id": call_id})
        self._on_end = on_end
        self._fetch = fetch
        self.state = "connecting"
        self.end_reason: str | None = None
        self.ws: Any = None
        self.voice: Voice | None = None
        self.started = time.monotonic()
        self.last_audio = self.started
        self.paused = False
        self.stopped = False
        self.handing_off = False
        self.counters: Counter[str] = Counter()
        self.playback = Playback(settings.rate, settings.chunk_ms, settings.lead_ms, settings.audio_queue)
        self.recorder = (
            Recorder(settings.recordings_dir, call_id, settings.rate, self.started) if settings.recordings_dir else None
        )
        self._control: deque[Any] = deque()
        self._wake = Event()
        self._closing = False
        self._ended = Event()
        self.tasks = Group()
        self.taps: set[Callable[[str, bytes | None], None]] = set()  # listen-in: (leg, pcm); None at the end
        self._writer: gevent.Greenlet | None = None

    # -- lifecycle --------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def start(self) -> None:
        self.store.set_state(self.call_id, "connecting", rate=self.settings.rate)
        self._writer = gevent.spawn(self._write_loop)
        self.log.info("stream open at %d Hz", self.settings.rate)

    def attach(self, ws: Any) -> None:
        """Make ``ws`` this call's socket; an older one is closed as replaced."""
        old, self.ws = self.ws, ws
        if old is not None:
            self.counters["sockets_replaced"] += 1
            self.store.add_timeline(self.call_id, "socket.replaced", {})
            self.log.warning("a second socket arrived; it replaces the first")
            transport.close(old, CLOSE_REPLACED, "replaced by a newer socket for this call")
        self._wake.set()

    def serve(self, ws: Any) -> None:
        """Read ``ws`` until it closes, is replaced, or the session ends (runs in the handler greenlet)."""
        while self.ws is ws and not self.ended:
            try:
                message = ws.receive(timeout=0.5)
            except ConnectionClosed:
                break
            now = time.monotonic()
            if message is not None:
                self._on_message(message, now)
            self._check_limits(now)
            if message is None and not ws.connected:
                break
        if self.ws is ws and not self.ended:
            self.end("socket_closed", hangup=False)

    def end(self, reason: str, *, hangup: bool = True, code: int = CLOSE_NORMAL) -> None:
        """End the session once: optionally hang up the call, flush, close, free everything."""
        if self.ended or self._closing:
            return
        self._closing = True
        self.end_reason = reason
        if hangup and self.ws is not None and not self.stopped:
            self._control.append(PCMO().hangup().PCMO())
        self._wake.set()
        if self._writer is not None and gevent.getcurrent() is not self._writer:
            self._writer.join(timeout=2)
            self._writer.kill(block=False)
        if self.ws is not None:
            transport.close(self.ws, code, reason)
        self._ended.set()
        current = gevent.getcurrent()
        others = [task for task in self.tasks if task is not current]
        gevent.killall(others, block=True, timeout=2)
        self.playback.interrupt(time.monotonic())
        for tap in tuple(self.taps):
            tap("end", None)
        if self.voice is not None:
            try:
                self.voice.on_end()
            except Exception:  # noqa: BLE001 - a broken voice must not keep the call alive
                self.log.exception("voice failed while ending")
        recording = None
        if self.recorder is not None:
            try:
                recording = str(run_blocking(self.recorder.finish))
            except Exception:  # noqa: BLE001
                self.log.exception("recording could not be written")
        self.state = "ended"
        stats = self.stats()
        extra: dict[str, Any] = {"stream": stats}
        if recording:
            extra["recording"] = recording
        self.store.update(self.call_id, extra=extra)
        self.store.set_state(self.call_id, "ended", reason=reason)
        self.log.info("ended (%s): %s", reason, stats)
        if self._on_end is not None:
            self._on_end(self)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def stats(self) -> dict[str, Any]:
        counters = dict(self.counters)
        dropped = {key[8:]: value for key, value in counters.items() if key.startswith("dropped_")}
        return {
            "state": self.state,
            "seconds": round(time.monotonic() - self.started, 3),
            "frames_in": counters.get("frames_in", 0),
            "bytes_in": counters.get("bytes_in", 0),
            "audio_messages_out": counters.get("audio_out", 0),
            "audio_bytes_out": counters.get("audio_bytes_out", 0),
            "messages_out": counters.get("messages_out", 0),
            "events_in": counters.get("events_in", 0),
            "dropped": dropped,
            "sockets_replaced": counters.get("sockets_replaced", 0),
        }

    # -- inbound ----------------------------------------------------------------------
    def _on_message(self, message: bytes | str, now: float) -> None:
        item = protocol.parse(message, self.settings.max_frame_bytes)
        if self.state == "connecting" and not isinstance(item, protocol.Rejected):
            self._go_live()
        if isinstance(item, protocol.Audio):
            self.counters["frames_in"] += 1
            self.counters["bytes_in"] += len(item.pcm)
            self.last_audio = now
            if self.recorder is not None:
                self.recorder.caller_audio(item.pcm, now)
            for tap in tuple(self.taps):
                tap("caller", item.pcm)
            if self.voice is not None:
                try:
                    self.voice.on_audio(item.pcm, now)
                except Exception:  # noqa: BLE001 - hearing failed: this call ends, nothing else does
                    self.log.exception("voice failed on caller audio")
                    gevent.spawn(self.end, "voice_error")
        elif isinstance(item, protocol.Event):
            self.counters["events_in"] += 1
            self.store.add_timeline(self.call_id, "stream.event", {"kind": item.kind, "data": item.data})
            self.log.info("event %s", item.kind)
        else:
            self.counters[f"dropped_{item.reason}"] += 1
            count = self.counters[f"dropped_{item.reason}"]
            if count <= 3 or count % 100 == 0:  # log the first few, then every hundredth
                self.log.warning("dropped %s (%d bytes), %d so far", item.reason, item.size, count)

    def _go_live(self) -> None:
        self.state = "live"
        self.store.set_state(self.call_id, "live")
        if self.voice is not None:
            self.tasks.spawn(self._safe, self.voice.on_live)

    def _safe(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001
            self.log.exception("voice task failed")
            gevent.spawn(self.end, "voice_error")

    def _check_limits(self, now: float) -> None:
        if self.ended or self._closing:
            return
        if now - self.started > self.settings.max_duration:
            self.log.info("max duration %.0fs reached", self.settings.max_duration)
            self.end("max_duration")
        elif not self.paused and not self.stopped and now - self.last_audio > self.settings.idle_timeout:
            self.log.info("no caller audio for %.0fs", self.settings.idle_timeout)
            self.end("idle_timeout")

    # -- outbound ---------------------------------------------------------------------
    def send(self, message: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Queue a control message or PCMO for the writer (ahead of any audio)."""
        if self.ended or self._closing:
            raise SessionError("The call's stream has ended.")
        if len(self._control) >= self.settings.control_queue:
            raise SessionError("Too many messages are waiting to be sent on this call.", status=503, code="busy")
        self._control.append(message)
        self._wake.set()

    def play_pcm(self, pcm: bytes, text: str, kind: str = "speech") -> Utterance:
        """Queue L16 audio at the stream rate for the caller to hear."""
        utterance = Utterance(text=text, kind=kind, pcm=bytearray(pcm))
        self.enqueue(utterance)
        return utterance

    def enqueue(self, utterance: Utterance) -> None:
        if self.ended or self._closing:
            raise SessionError("The call's stream has ended.")
        if not self.playback.enqueue(utterance):
            self.counters["dropped_utterance"] += 1
            raise SessionError("Too much audio is queued on this call.", status=503, code="busy")
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def interrupt(self, why: str) -> list[dict[str, Any]]:
        """Barge-in: send break, drop queued audio, record what the caller had heard."""
        now = time.monotonic()
        cuts = self.playback.interrupt(now)
        if self.recorder is not None:
            self.recorder.cut(now)
        self._control.appendleft(interrupt())
        self._wake.set()
        self.counters["interrupts"] += 1
        self.store.add_timeline(self.call_id, "interrupt", {"why": why, "cuts": cuts})
        return cuts

    def _write_loop(self) -> None:
        while True:
            self._wake.clear()
            if self._control:
                self._send_text(encode(self._control.popleft()))
                continue
            if self._closing:
                return
            if not self.paused and not self.stopped:
                now = time.monotonic()
                item = self.playback.next_chunk(now)
                if item is not None:
                    utterance, chunk, plays_at = item
                    message = stream_audio(chunk, "raw", self.settings.rate)
                    if self._send_text(encode(message)):
                        self.counters["audio_out"] += 1
                        self.counters["audio_bytes_out"] += len(chunk)
                        if self.recorder is not None:
                            self.recorder.bot_audio(chunk, plays_at)
                        for tap in tuple(self.taps):
                            tap("bot", chunk)
                    continue
                hint = self.playback.wait_hint(now)
            else:
                hint = None
            self._wake.wait(timeout=1.0 if hint is None else max(hint, 0.002))

    def _send_text(self, text: str) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            transport.send_text(ws, text)
        except (ConnectionError, ConnectionClosed, OSError):
            self.counters["send_failures"] += 1
            return False
        self.counters["messages_out"] += 1
        return True

    # -- actions (REST API, dashboard, dialogue) ---------------------------------------
    def perform(self, action: dict[str, Any]) -> dict[str, Any]:
        """Carry out a supervisor action; raises SessionError when it cannot be done."""
        if self.ended or self._closing:
            raise SessionError("The call's stream has ended.")
        name = action["action"]
        self.store.add_timeline(self.call_id, "control", {"action": name, "by": action.get("by", "api")})
        if name == "pause":
            self.send(pause())
            self.paused = True
            return {"sent": "pause"}
        if name == "resume":
            self.send(resume())
            self.paused = False
            self.last_audio = time.monotonic()
            return {"sent": "resume"}
        if name == "break":
            return {"sent": "break", "cuts": self.interrupt("supervisor")}
        if name == "stop":
            self.send(stop())
            self.stopped = True
            self.tasks.spawn(self._end_after_flush, "stream_stopped", False)
            return {"sent": "stop"}
        if name == "hangup":
            self.tasks.spawn(self._end_after_flush, "hangup_requested", True)
            return {"sent": "hangup"}
        if name == "play":
            return self.play_file(action["file"], action.get("mode") or self.settings.play_mode)
        if name == "say":
            return self.say(action["text"])
        if name == "transfer":
            return self.hand_off(
                numbers=action.get("numbers"),
                overrides={k: action.get(k) for k in ("ring_type", "timeout", "loop")},
                why=action.get("by", "api"),
            )
        raise SessionError(f"Unknown action {name!r}.", status=400, code="validation_error")

    def _end_after_flush(self, reason: str, hangup: bool) -> None:
        gevent.sleep(0.05)
        self.end(reason, hangup=hangup)

    def say(self, text: str) -> dict[str, Any]:
        if self.voice is None:
            raise SessionError("Speech needs the TTS engine, which this session does not have.", 501, "not_implemented")
        utterance = self.voice.say(text, kind="speech")
        return {"queued": "say", "utterance": utterance.id if utterance else None}

    def play_file(self, ref: str, mode: str) -> dict[str, Any]:
        """Play music: streamed by us (decoded, resampled), or as a PCMO play action."""
        if mode == "pcmo":
            self.send(PCMO().playMusic(self._media_url(ref)).PCMO())
            return {"sent": "play", "mode": "pcmo"}
        self.tasks.spawn(self._stream_file, ref)
        return {"queued": "play", "mode": "stream"}

    def _media_url(self, ref: str) -> str:
        media = Path(self.settings.media_dir) if self.settings.media_dir else None
        if media is not None and "/" not in ref and (media / ref).is_file():
            return f"{self.settings.public_url}/media/{ref}"
        return ref

    def _stream_file(self, ref: str) -> None:
        from .audio import to_l16

        try:
            data = self._read_media(ref)
            pcm = to_l16(data, self.settings.rate)  # in this greenlet: ffmpeg runs as a gevent subprocess
        except Exception as exc:  # noqa: BLE001 - a bad file fails the play, not the call
            self.log.warning("cannot play %s: %s", ref, exc)
            self.store.add_timeline(self.call_id, "play.failed", {"file": ref, "error": str(exc)[:200]})
            return
        if not self.ended and not self._closing:
            self.play_pcm(pcm, text=f"[music {ref}]", kind="music")
            self.store.add_timeline(
                self.call_id, "play", {"file": ref, "ms": round(len(pcm) / self.settings.rate / 2 * 1000)}
            )

    def _read_media(self, ref: str) -> bytes:
        if ref.startswith(("http://", "https://")):
            if self._fetch is None:
                raise ValueError("fetching URLs is not configured")
            return self._fetch(ref)
        media = Path(self.settings.media_dir or ".").resolve()
        path = (media / ref).resolve()
        if media not in path.parents or not path.is_file():
            raise FileNotFoundError(f"{ref} is not a file in the media folder")
        return path.read_bytes()

    def hand_off(
        self, numbers: list[str] | None = None, overrides: Mapping[str, Any] | None = None, why: str = "api"
    ) -> dict[str, Any]:
        """AI to human: hold message, then a bridge PCMO over the socket; the stream stays open."""
        if self.state == "handed_off" or self.handing_off:
            raise SessionError("The call has already been handed to a person.")
        self.handing_off = True
        human = dict(self.agent.get("human") or {})
        targets = list(numbers or human.get("numbers") or [])
        if not targets:
            raise SessionError(
                "No numbers to transfer to: give numbers, or set human.numbers in the agent.", 400, "validation_error"
            )
        options = {key: human[key] for key in ("timeout", "loop", "duration", "ring_type") if key in human}
        options.update({k: v for k, v in (overrides or {}).items() if v is not None})
        bridge = PCMO().call(targets, human.get("caller_id") or self.settings.caller_id, options).PCMO()
        hold = self.agent.get("hold_message")
        if self.voice is not None:
            self.voice.on_handoff()  # from now on the bot only listens: no replies, no barge-in
        self.tasks.spawn(self._bridge_after_hold, bridge, hold, why)
        return {"queued": "transfer", "numbers": targets}

    def _bridge_after_hold(self, bridge: list[dict[str, Any]], hold: str | None, why: str) -> None:
        utterance = None
        if hold and self.voice is not None:
            try:
                utterance = self.voice.say(hold, kind="hold")
            except Exception:  # noqa: BLE001 - no hold message is better than no transfer
                self.log.exception("hold message failed")
        if utterance is not None:
            deadline = time.monotonic() + 15
            while (
                not self.ended
                and time.monotonic() < deadline
                and (
                    utterance.sent < len(utterance.pcm)
                    or not utterance.complete
                    or self.playback.clock > time.monotonic()
                )
            ):
                gevent.sleep(0.05)
        if self.ended or self._closing:
            return
        self.send(bridge)
        self.state = "handed_off"
        self.store.set_state(self.call_id, "handed_off", why=why, numbers=[c["number"] for c in bridge[0]["connect"]])
        self.log.info("handed off to %s", [c["number"] for c in bridge[0]["connect"]])
