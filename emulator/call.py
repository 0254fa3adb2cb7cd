"""One emulated call: run a PCMO the way the platform would, and report what happened.

The stream leg sends the caller script's audio in real time as 20 ms binary
frames, obeys pause/resume/stop/break, plays received ``streamAudio`` on its own
playback clock (so what the caller *heard* is known and saved to WAV), and
records every PCMO that arrives mid-call. Latency is measured from this side:
end of a caller utterance to the first byte of the bot's next reply.
"""

from __future__ import annotations

import audioop
import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import gevent
import requests
from simple_websocket import Client, ConnectionClosed

from streams import transport
from streams.audio import frame_bytes, silence, wav_bytes

from .script import Script, step_audio
from .wsclient import connect

log = logging.getLogger(__name__)

FRAME_S = 0.02
SPEECH_RMS = 500  # a frame quieter than this is not speech (the service's default VAD_THRESHOLD)
QUIET_S = 0.6  # the bot counts as done speaking after this much silence


@dataclass
class Heard:
    """Bot audio on the caller's playback clock: (start time, pcm) pieces."""

    rate: int
    pieces: list[list[Any]] = field(default_factory=list)
    clock: float = 0.0

    def add(self, pcm: bytes, now: float) -> float:
        start = max(now, self.clock)
        self.pieces.append([start, pcm])
        self.clock = start + len(pcm) / (self.rate * 2)
        return start

    def cut(self, now: float) -> float:
        """Drop what was not yet played at ``now``; return the seconds dropped."""
        dropped = 0.0
        kept = []
        for start, pcm in self.pieces:
            seconds = len(pcm) / (self.rate * 2)
            if start >= now:
                dropped += seconds
                continue
            if start + seconds > now:
                keep = int((now - start) * self.rate) * 2
                dropped += seconds - keep / (self.rate * 2)
                pcm = pcm[:keep]
            kept.append([start, pcm])
        self.pieces = kept
        self.clock = min(self.clock, now)
        return dropped

    def audible(self, now: float) -> bool:
        return self.clock > now

    def seconds(self) -> float:
        return sum(len(pcm) for _, pcm in self.pieces) / (self.rate * 2)

    def render(self, origin: float) -> bytes:
        out = bytearray()
        for start, pcm in self.pieces:
            position = max(0, int((start - origin) * self.rate)) * 2
            if position > len(out):
                out.extend(b"\x00" * (position - len(out)))
            out[position : position + len(pcm)] = pcm
        return bytes(out)


@dataclass
class CallOptions:
    service_url: str
    token: str
    out_dir: Path | None = None
    form_body: bool = False
    cdr: bool = True
    cdr_repeat: int = 1
    speak_seconds: float = 0.2
    http_timeout: float = 10.0


class EmulatedCall:
    def __init__(
        self,
        script: Script,
        options: CallOptions,
        *,
        direction: str = "inbound",
        platform_id: str | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        self.script = script
        self.options = options
        self.direction = direction
        self.platform_id = platform_id or str(uuid.uuid4())
        self.extra_params = extra_params or {}
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.timeline: list[dict[str, Any]] = []
        self.pcmo_received: list[Any] = []
        self.transfers: list[dict[str, Any]] = []
        self.controls: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self.barge_ins: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.counters = {
            "frames_sent": 0,
            "bytes_sent": 0,
            "messages_received": 0,
            "audio_messages": 0,
            "audio_bytes_received": 0,
            "max_send_lag_ms": 0.0,
        }
        self.dtmf = script.dtmf_digits()
        self.service_call_id: str | None = None
        self.close: dict[str, Any] | None = None
        self.hung_up = False
        self.heard: Heard | None = None
        self.state = "new"

    # -- helpers -------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, kind: str, **detail: Any) -> None:
        self.timeline.append({"t": round(self.now(), 3), "kind": kind, **detail})

    def _post(self, url: str, body: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {"timeout": self.options.http_timeout}
        if self.options.form_body:
            kwargs["data"] = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in body.items()}
        else:
            kwargs["json"] = body
        response = requests.post(url, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"POST {urlparse(url).path} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def _hook(self, path: str) -> str:
        return f"{self.options.service_url}/webhooks/piopiy/{path}?token={self.options.token}"

    # -- the call ------------------------------------------------------------------------
    def run_inbound(self) -> dict[str, Any]:
        """Dial the service: POST the answer webhook, then carry out the PCMO it returns."""
        self.state = "ringing"
        body = {
            "from": self.script.from_number,
            "to": self.script.to_number,
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "cmiuuid": self.platform_id,
        }
        try:
            pcmo = self._post(self._hook("answer"), body)
            self.mark("answer", actions=[a.get("action") for a in pcmo] if isinstance(pcmo, list) else None)
            self.pcmo_received.append({"t": round(self.now(), 3), "via": "answer", "pcmo": pcmo})
            self.execute(pcmo)
        except Exception as exc:  # noqa: BLE001 - a report with the error beats a crash
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self.mark("error", error=str(exc)[:300])
        return self.finish()

    def run_outbound(self, pcmo: list[dict[str, Any]]) -> dict[str, Any]:
        """The platform placed a call for the service: the callee answered; run its PCMO."""
        self.state = "answered"
        self.mark("answered")
        self.pcmo_received.append({"t": round(self.now(), 3), "via": "rest", "pcmo": pcmo})
        try:
            self.execute(pcmo)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self.mark("error", error=str(exc)[:300])
        return self.finish()

    def execute(self, pcmo: Any) -> None:
        if not isinstance(pcmo, list):
            raise RuntimeError(f"PCMO is not a list: {str(pcmo)[:100]}")
        for action in pcmo:
            if self.hung_up:
                return
            name = action.get("action") if isinstance(action, dict) else None
            self.mark("action", action=name)
            if name in ("speak", "play"):
                gevent.sleep(self.options.speak_seconds)
            elif name == "stream":
                self.run_stream(action)
            elif name == "bridge":
                self.transfers.append({"t": round(self.now(), 3), "via": "pcmo", "action": action})
            elif name == "hangup":
                self.hung_up = True
                return
            elif name in ("input", "play_get_input"):
                digits = self.dtmf.pop(0) if self.dtmf else ""
                following = self._post(action["action_url"], {"dtmf": digits, "cmiuuid": self.platform_id})
                self.pcmo_received.append({"t": round(self.now(), 3), "via": "input", "pcmo": following})
                self.mark("dtmf", digits=digits)
                self.execute(following)
                return

    # -- the stream leg ------------------------------------------------------------------
    def run_stream(self, action: dict[str, Any]) -> None:
        rate = int(action.get("voice_quality", 8000))
        self.heard = Heard(rate)
        self.service_call_id = urlparse(action["ws_url"]).path.rsplit("/", 1)[-1]
        try:
            ws = connect(action["ws_url"])
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(f"stream connect failed: {exc}") from None
        self.mark("stream.open", rate=rate)
        leg = _StreamLeg(self, ws, rate)
        receiver = gevent.spawn(leg.receive_loop)
        sender = gevent.spawn(leg.send_loop)
        gevent.joinall([sender, receiver], raise_error=False, count=1)
        leg.done = True
        if ws.connected:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        gevent.joinall([sender, receiver], timeout=5)
        gevent.killall([sender, receiver], block=True, timeout=2)
        for greenlet in (sender, receiver):
            if greenlet.exception is not None:
                self.errors.append(f"{type(greenlet.exception).__name__}: {greenlet.exception}")
        self.close = {"code": int(ws.close_reason) if ws.close_reason else None, "reason": ws.close_message}
        self.mark("stream.closed", **self.close)

    # -- after the call -----------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        self.state = "done"
        duration = round(self.now(), 3)
        if self.options.cdr:
            kind = "in_answered" if self.direction == "inbound" else "out_answered"
            event = {
                "type": kind,
                "cmiuuid": self.platform_id,
                "from": self.script.from_number,
                "to": self.script.to_number,
                "duration": duration,
                "answered_time": int(self.wall0 * 1000),
            }
            if self.extra_params:
                event["extra_params"] = json.dumps(self.extra_params)
            for _ in range(max(1, self.options.cdr_repeat)):
                try:
                    self._post(self._hook("events"), event)
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(f"cdr: {exc}")
        report = self.report(duration)
        if self.options.out_dir is not None:
            self.options.out_dir.mkdir(parents=True, exist_ok=True)
            (self.options.out_dir / f"{self.platform_id}.json").write_text(json.dumps(report, indent=2))
        return report

    def report(self, duration: float) -> dict[str, Any]:
        heard_wav = None
        if self.heard is not None and self.options.out_dir is not None:
            path = self.options.out_dir / f"{self.platform_id}.heard.wav"
            self.options.out_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wav_bytes(self.heard.render(0.0), self.heard.rate))
            heard_wav = str(path)
        latencies = [t["latency_ms"] for t in self.turns if t.get("latency_ms") is not None]
        return {
            "platform_call_id": self.platform_id,
            "call_id": self.service_call_id,
            "direction": self.direction,
            "from": self.script.from_number,
            "to": self.script.to_number,
            "duration": duration,
            **self.counters,
            "heard_seconds": round(self.heard.seconds(), 3) if self.heard else 0.0,
            "heard_wav": heard_wav,
            "transfers": self.transfers,
            "controls": self.controls,
            "pcmo": self.pcmo_received,
            "turns": self.turns,
            "reply_latency_ms": latencies,
            "barge_ins": self.barge_ins,
            "close": self.close,
            "timeline": self.timeline,
            "errors": self.errors,
        }


class _StreamLeg:
    """The stream socket of one call: a sender and a receiver greenlet."""

    def __init__(self, call: EmulatedCall, ws: Client, rate: int) -> None:
        self.call = call
        self.ws = ws
        self.rate = rate
        self.frame = frame_bytes(rate)
        self.paused = False
        self.stopped = False
        self.done = False
        self.pending_turn: dict[str, Any] | None = None
        self.last_audio_at = -1.0
        self.speaking_since: float | None = None

    # -- sending caller audio -------------------------------------------------------------
    def frames(self) -> Iterator[bytes]:
        call, script = self.call, self.call.script
        deadline = script.max_seconds
        while True:
            for step in script.steps:
                if "hangup" in step:
                    call.mark("caller.hangup")
                    call.hung_up = True
                    return
                if "dtmf" in step:
                    continue
                if "listen" in step:
                    yield from self._listen(step)
                    continue
                pcm = step_audio(script, step, self.rate)
                label = step.get("say") or step.get("wav") or f"tone {step.get('tone')}"
                call.mark("caller.speaks", text=label)
                self.speaking_since = call.now()
                if self.call.heard is not None and self.call.heard.audible(time.monotonic() - call.t0):
                    call.barge_ins.append({"text": label, "speech_start": round(call.now(), 3), "break_at": None})
                # The end of speech is the last frame with sound in it (espeak-ng leaves a quiet
                # tail): replies are timed from there, as a listener would time them.
                loud = [
                    i for i in range(0, len(pcm), self.frame) if audioop.rms(pcm[i : i + self.frame], 2) >= SPEECH_RMS
                ]
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
                if call.now() > deadline:
                    return
            if not script.repeat or call.now() > deadline:
                break
        end = call.now() + script.linger
        quiet = silence(self.rate, 20)
        while call.now() < min(end, deadline):
            yield quiet
        call.mark("caller.hangup")
        call.hung_up = True

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
            if self.done or self.stopped or not self.ws.connected:
                return
            if not self.paused:
                try:
                    transport.send_bytes(self.ws, frame)
                except (ConnectionError, OSError, ConnectionClosed):
                    return
                self.call.counters["frames_sent"] += 1
                self.call.counters["bytes_sent"] += len(frame)
            sent += 1
            target = started + sent * FRAME_S
            lag = time.monotonic() - target
            if lag > 0:
                self.call.counters["max_send_lag_ms"] = max(self.call.counters["max_send_lag_ms"], round(lag * 1000, 1))
            else:
                gevent.sleep(-lag)

    # -- receiving from the service ---------------------------------------------------------
    def receive_loop(self) -> None:
        call = self.call
        while not self.done:
            try:
                message = self.ws.receive(timeout=1.0)
            except ConnectionClosed:
                return
            if message is None:
                if not self.ws.connected:
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
                    call.transfers.append({"t": t, "via": "socket", "action": action})
                elif name == "hangup":
                    call.hung_up = True
                    self.done = True
            return
        if isinstance(data, dict) and data.get("type") == "streamAudio":
            pcm = base64.b64decode(data["data"]["audioData"])
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
