"""The caller's side of the stream socket: speaking the script, hearing the bot, obeying controls.

The sender greenlet sends the script's audio in real time as 20 ms binary
frames; the receiver plays ``streamAudio`` on the caller's playback clock (so
what the caller *heard* is known), obeys pause/resume/stop/break, and records
every PCMO that arrives mid-call. Latency is measured from this side: end of a
caller utterance to the first byte of the bot's next reply.
"""

from __future__ import annotations

import audioop
import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gevent
from simple_websocket import Client, ConnectionClosed

from emulator import human
from emulator.script import step_audio
from streams.audio import Resampler, frame_bytes, silence
from streams.link import websocket

if TYPE_CHECKING:
    from emulator.emulated_call import EmulatedCall

FRAME_S = 0.02
LATE_S = 0.04  # a frame sent more than this after its time counts as late (the generator fell behind)
SPEECH_RMS = 500  # a frame quieter than this is not speech (the service's default VAD_THRESHOLD)
QUIET_S = 0.6  # the bot counts as done speaking after this much silence


class StreamLeg:
    """The stream socket of one call: a sender and a receiver greenlet."""

    def __init__(self, call: EmulatedCall, ws: Client, rate: int) -> None:
        self.call = call
        self.ws = ws
        self.rate = rate
        self._to_rate: dict[int, Resampler] = {}  # replies heard at a 32 kHz stream's rate, state kept (#23.7)
        self.frame = frame_bytes(rate)
        self.paused = False
        self.stopped = False
        self.done = False
        self.redialling = False  # the socket was lost on purpose and is being dialled again
        self.pending_turn: dict[str, Any] | None = None
        self.last_audio_at = -1.0
        self.speaking_since: float | None = None

    # -- sending caller audio -------------------------------------------------------------
    def frames(self) -> Iterator[bytes]:
        """The caller's audio, frame by frame, until the script hangs up or runs out of time."""
        call, script = self.call, self.call.script
        deadline = script.max_seconds
        while True:
            for step in script.steps:
                if "hangup" in step:
                    call.mark("caller.hangup")
                    call.hung_up = True
                    call.set_end("caller_hangup", "a hangup step")
                    return
                if "dtmf" in step:
                    continue
                if "listen" in step:
                    yield from self._listen(step)
                    continue
                yield from self._speak(step)
                if call.now() > deadline:
                    call.set_end("max_seconds", f"the script's max_seconds ({deadline:g} s) ran out")
                    return
            if not script.repeat or call.now() > deadline:
                break
        end = call.now() + script.linger
        quiet = silence(self.rate, 20)
        while call.now() < min(end, deadline):
            yield quiet
        call.mark("caller.hangup")
        call.hung_up = True
        call.set_end("caller_hangup", "the script is done")

    def _speak(self, step: dict[str, Any]) -> Iterator[bytes]:
        """One say/wav/tone step in real time; it becomes a turn awaiting the bot's reply."""
        call = self.call
        pcm = step_audio(call.script, step, self.rate)
        label = step.get("say") or step.get("wav") or f"tone {step.get('tone')}"
        call.mark("caller.speaks", text=label)
        self.speaking_since = call.now()
        if call.heard is not None and call.heard.audible(time.monotonic() - call.t0):
            call.barge_ins.append({"text": label, "speech_start": round(call.now(), 3), "break_at": None})
        # The end of speech is the last frame with sound in it (espeak-ng leaves a quiet
        # tail): replies are timed from there, as a listener would time them.
        loud = [i for i in range(0, len(pcm), self.frame) if audioop.rms(pcm[i : i + self.frame], 2) >= SPEECH_RMS]
        last_loud = loud[-1] if loud else 0
        speech_end = None
        for start in range(0, len(pcm), self.frame):
            if start == last_loud:  # sent right after this yield: its audio has just been spoken
                speech_end = call.now()
            yield pcm[start : start + self.frame].ljust(self.frame, b"\x00")
        self.speaking_since = None
        call.mark("caller.done", text=label)
        self.pending_turn = {
            "utterance": label,
            "ended_at": round(speech_end or call.now(), 3),
            "reply_at": None,
            "latency_ms": None,
        }
        call.turns.append(self.pending_turn)

    def _listen(self, step: dict[str, Any]) -> Iterator[bytes]:
        call = self.call
        quiet = silence(self.rate, 20)
        value = step["listen"]
        if value == "reply":
            limit = call.now() + float(step.get("timeout", 15))
            heard_any = False
            while call.now() < limit:
                now = time.monotonic() - call.t0
                audible = call.heard is not None and call.heard.audible(now)
                heard_any = heard_any or audible
                if heard_any and not audible and now - self.last_audio_end() >= QUIET_S:
                    return
                yield quiet
            call.mark("listen.timeout")
            return
        end = call.now() + float(value)
        while call.now() < end:
            yield quiet

    def last_audio_end(self) -> float:
        return self.call.heard.clock if self.call.heard is not None else 0.0

    def send_loop(self) -> None:
        started = time.monotonic()
        sent = 0
        for frame in self.frames():
            if self.done or self.stopped or not (self.ws.connected or self.redialling):
                return
            if not self.paused and not self.redialling:
                try:
                    websocket.send_bytes(self.ws, frame)
                except (ConnectionError, OSError, ConnectionClosed):
                    return
                self.call.counters["frames_sent"] += 1
                self.call.counters["bytes_sent"] += len(frame)
            sent += 1
            target = started + sent * FRAME_S
            lag = time.monotonic() - target
            if lag > 0:
                counters = self.call.counters
                counters["max_send_lag_ms"] = max(counters["max_send_lag_ms"], round(lag * 1000, 1))
                if lag > LATE_S:
                    counters["frames_late"] += 1
            else:
                gevent.sleep(-lag)

    def drop_and_redial(self, at: float, after: float, redial: Callable[[], Client]) -> None:
        """``at`` seconds in, lose the socket without a close frame; ``after`` seconds later dial it again."""
        gevent.sleep(at)
        if self.done:
            return
        self.redialling = True
        self.call.mark("stream.dropped")
        self.ws.drop()
        gevent.sleep(after)
        try:
            self.ws = redial()
            self.call.mark("stream.redialled")
        except Exception as exc:  # noqa: BLE001 - the report says why; the call ends
            self.call.errors.append(f"redial failed: {exc}")
            self.done = True
        finally:
            self.redialling = False

    # -- receiving from the service ---------------------------------------------------------
    def receive_loop(self) -> None:
        call = self.call
        while not self.done:
            try:
                message = self.ws.receive(timeout=1.0) if not self.redialling else None
            except ConnectionClosed:
                message = None
            if message is None:
                if self.redialling:
                    gevent.sleep(0.02)
                elif not self.ws.connected:
                    return
                continue
            call.counters["messages_received"] += 1
            if isinstance(message, bytes):
                call.mark("unexpected.binary", size=len(message))
                continue
            try:
                data = json.loads(message)
            except ValueError:
                call.errors.append(f"malformed text from service: {message[:80]!r}")
                continue
            self.handle(data)

    def handle(self, data: Any) -> None:
        call = self.call
        t = round(call.now(), 3)
        if isinstance(data, list):
            call.pcmo_received.append({"t": t, "via": "socket", "pcmo": data})
            for action in data:
                name = action.get("action") if isinstance(action, dict) else None
                call.mark("pcmo", action=name)
                if name == "bridge":
                    call.transfers.append(transfer := {"t": t, "via": "socket", "action": action})
                    gevent.spawn(human.ring, call, action, transfer)
                elif name == "hangup":
                    call.hung_up = True
                    call.set_end("bot_hangup", "the service sent hangup on the stream")
                    self.done = True
            return
        if isinstance(data, dict) and data.get("type") == "streamAudio":
            pcm = base64.b64decode(data["data"]["audioData"])
            sent_at = int(data["data"].get("sampleRate") or self.rate)
            if sent_at != self.rate:  # replies come at 8 or 16 kHz; a 32 kHz stream hears them resampled
                pcm = self._to_rate.setdefault(sent_at, Resampler(sent_at, self.rate))(pcm)
            call.counters["audio_messages"] += 1
            call.counters["audio_bytes_received"] += len(pcm)
            now = time.monotonic() - call.t0
            starting = call.heard is not None and not call.heard.audible(now)
            if call.heard is not None:
                call.heard.add(pcm, now)
            if starting:
                call.mark("bot.speaks")
                if self.pending_turn is not None and self.pending_turn["reply_at"] is None:
                    self.pending_turn["reply_at"] = round(now, 3)
                    self.pending_turn["latency_ms"] = round((now - self.pending_turn["ended_at"]) * 1000, 1)
                    self.pending_turn = None
            return
        if isinstance(data, dict) and data.get("action") in ("pause", "resume", "stop", "break"):
            name = data["action"]
            call.controls.append({"t": t, "action": name})
            call.mark("control", action=name)
            if name == "pause":
                self.paused = True
            elif name == "resume":
                self.paused = False
            elif name == "stop":
                self.stopped = True
            elif name == "break":
                dropped = call.heard.cut(time.monotonic() - call.t0) if call.heard is not None else 0.0
                for barge in call.barge_ins:
                    if barge["break_at"] is None:
                        barge["break_at"] = t
                        barge["latency_ms"] = round((t - barge["speech_start"]) * 1000, 1)
                call.timeline[-1]["dropped_s"] = round(dropped, 3)
            return
        call.mark("unknown.message", data=str(data)[:200])
