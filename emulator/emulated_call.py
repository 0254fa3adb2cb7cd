"""One emulated call: run a PCMO the way the platform would, and report what happened.

This module is the platform's side (webhooks, PCMO actions, the CDR); the
caller's side of the stream socket is ``caller.StreamLeg``, the report
``report.build_report``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import gevent
import requests

from emulator import documented
from emulator.caller import StreamLeg
from emulator.heard import Heard
from emulator.report import build_report, write_report
from emulator.script import Script
from emulator.wsclient import connect

log = logging.getLogger(__name__)


_TOKEN = re.compile(r"(token=)[^&\s'\")]+")


def described(exc: BaseException, service: str) -> str:
    """An error as a person reads it: never the webhook token a URL carries; "nothing listening" said plainly."""
    if isinstance(exc, requests.ConnectionError):
        return f"nothing answered at {service}: is the service running there (make run, the same PORT)?"
    return _TOKEN.sub(r"\1***", f"{type(exc).__name__}: {exc}")


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
    api_key: str = ""  # with it, the report adds the service's own record of the call (what it heard and said)
    docs: str = "global"  # the webhook shapes: global, india (TeleCMI's doc sets) or legacy (emulator/documented.py)
    cdr_time_scale: float = 0.0  # the CDR retry schedule (0, 5, 15, 30 min) times this; 0: all at once
    live_events: bool = False  # also post the live answered/hangup events (the platform's Event URL)
    # The stream socket as mod_audio_stream opens it: deflate offered, a metadata text frame first, and
    # optionally the TCP connection lost (no close frame) ``drop_at`` seconds in and redialled after ``redial_after``.
    deflate: bool = True
    metadata: bool = True
    drop_at: float | None = None
    redial_after: float = 0.8


class EmulatedCall:
    """One call on the platform's side; ``run_inbound``/``run_outbound`` return its report."""

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
            "frames_late": 0,  # sent more than 40 ms after their time: the load generator fell behind
        }
        self.dtmf = script.dtmf_digits()
        self.service_call_id: str | None = None
        self.close: dict[str, Any] | None = None
        self.hung_up = False
        self.heard: Heard | None = None
        self.state = "new"
        self.end: dict[str, str] | None = None  # how the call ended: {"how": …, "why": …}, first cause wins

    # -- helpers -------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, kind: str, **detail: Any) -> None:
        self.timeline.append({"t": round(self.now(), 3), "kind": kind, **detail})

    def set_end(self, how: str, why: str) -> None:
        """Record how the call ended; only the first cause counts (a hangup closes the socket too)."""
        if self.end is None:
            self.end = {"how": how, "why": why}

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
        body = documented.answer_body(self, self.options.docs)
        try:
            pcmo = self._post(self._hook("answer"), body)
            self.mark("answer", actions=[a.get("action") for a in pcmo] if isinstance(pcmo, list) else None)
            self.pcmo_received.append({"t": round(self.now(), 3), "via": "answer", "pcmo": pcmo})
            self.live_answered()
            self.execute(pcmo)
        except Exception as exc:  # noqa: BLE001 - a report with the error beats a crash
            self.failed(exc)
        return self.finish()

    def run_outbound(self, pcmo: list[dict[str, Any]]) -> dict[str, Any]:
        """The platform placed a call for the service: the callee answered; run its PCMO."""
        self.state = "answered"
        self.mark("answered")
        self.pcmo_received.append({"t": round(self.now(), 3), "via": "rest", "pcmo": pcmo})
        self.live_answered()
        try:
            self.execute(pcmo)
        except Exception as exc:  # noqa: BLE001
            self.failed(exc)
        return self.finish()

    def live_answered(self) -> None:
        if self.options.live_events:
            documented.post(self, documented.live_event(self, "answered", self.options.docs), "live event")

    def failed(self, exc: Exception) -> None:
        text = described(exc, self.options.service_url)
        self.errors.append(text)
        self.mark("error", error=text[:300])
        self.set_end("error", text[:200])

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
                self.set_end("bot_hangup", "the service's PCMO hung up")
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
            ws = self.dial(action["ws_url"], rate)
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(f"stream connect failed: {exc}") from None
        self.mark("stream.open", rate=rate, extensions=ws.extensions)
        documented.post(self, documented.stream_event(self, "connected", self.options.docs), "stream event")
        leg = StreamLeg(self, ws, rate)
        receiver = gevent.spawn(leg.receive_loop)
        sender = gevent.spawn(leg.send_loop)
        blip = None
        if self.options.drop_at is not None:
            redial = functools.partial(self.dial, action["ws_url"], rate)  # the same signed URL
            blip = gevent.spawn(leg.drop_and_redial, self.options.drop_at, self.options.redial_after, redial)
        gevent.joinall([sender, receiver], raise_error=False, count=1)
        leg.done = True
        if blip is not None:
            blip.kill(block=False)
        ws = leg.ws
        if ws.connected:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        gevent.joinall([sender, receiver], timeout=5)
        gevent.killall([sender, receiver], block=True, timeout=2)
        for greenlet in (sender, receiver):
            if greenlet.exception is not None:
                self.errors.append(described(greenlet.exception, self.options.service_url))
        self.close = {"code": int(ws.close_reason) if ws.close_reason else None, "reason": ws.close_message}
        self.mark("stream.closed", **self.close)
        documented.post(self, documented.stream_event(self, "disconnected", self.options.docs, self.close), "stream")
        if leg.stopped:
            self.set_end("stream_stopped", "the service sent stop on the stream")
        closed = " ".join(str(v) for v in self.close.values() if v)
        self.set_end("closed_by_service", f"the service closed the stream ({closed or 'no close code'})")

    def dial(self, url: str, rate: int) -> Any:
        """Open the stream socket as the module does: deflate offered, its metadata first (options say)."""
        meta = {"uuid": self.platform_id, "from": self.script.from_number, "to": self.script.to_number}
        metadata = json.dumps({**meta, "sampling": rate, "mix_type": "mono"}) if self.options.metadata else None
        return connect(url, deflate=self.options.deflate, metadata=metadata)

    # -- after the call -----------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        self.state = "done"
        duration = round(self.now(), 3)
        self.set_end("pcmo_done", "the PCMO ran out of actions")
        if self.options.cdr:
            self.post_cdr(duration)
        report = build_report(self, duration)
        if self.options.out_dir is not None:
            write_report(report, self.options.out_dir)
        return report

    def post_cdr(self, duration: float) -> None:
        """The live hangup (with ``live_events``) and the CDR, in the documented shapes (emulator/documented.py)."""
        if self.options.live_events:
            documented.post(self, documented.live_event(self, "hangup", self.options.docs), "live event")
        documented.deliver_cdr(self, duration)
