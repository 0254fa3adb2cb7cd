"""A stream socket's vocabulary: close codes, settings, who receives its traffic, log lines, listen-in taps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streams.link import protocol

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # the server is shutting down
CLOSE_POLICY = 1008
CLOSE_ERROR = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_REPLACED = 4001

Tap = Callable[[str, bytes | None], None]  # listen-in: (leg, pcm); pcm None when the call ends


class CallLog(logging.LoggerAdapter):
    def process(self, msg: str, kwargs: Any) -> tuple[str, Any]:
        return f"call {self.extra['call_id']}: {msg}", kwargs  # type: ignore[index]


REPLY_RATES = (8000, 16000)  # what streamAudio may carry (PROTOCOL.md section 2)


@dataclass(frozen=True)
class LinkSettings:
    rate: int = 8000  # the stream's voice_quality: the caller's audio arrives at this rate
    max_frame_bytes: int = 32000
    lead_ms: int = 200
    chunk_ms: int = 100
    control_queue: int = 64
    audio_queue: int = 32
    audio: str = "mono"  # what the module sends: mono, or with listen_mode both mixed | stereo (streams/link/intake.py)
    burst: float = 2.0  # seconds of caller audio taken ahead of real time
    flood: float = 30.0  # seconds of excess after which the socket is closed

    @property
    def out_rate(self) -> int:
        """The rate our audio goes out at: the stream's, or the nearest Piopiy takes (32 kHz -> 16 kHz)."""
        return self.rate if self.rate in REPLY_RATES else 16000


class Receiver(Protocol):
    """What the link hands inbound traffic to (the call)."""

    def on_audio(self, pcm: bytes, now: float) -> None: ...
    def on_event(self, event: protocol.Event, now: float) -> None: ...
    def on_metadata(self, metadata: protocol.Metadata, now: float) -> None: ...
    def on_tick(self, now: float) -> None: ...
