"""Parsing what the platform sends on the stream socket (PROTOCOL.md section 2).

Pure: a message in, a typed result out. Binary frames are caller audio; text
frames are JSON events whose schema is not documented, so anything readable is
accepted and anything else is reported, never raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Audio:
    pcm: bytes


@dataclass(frozen=True)
class Event:
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        for key in ("event", "type", "status", "action"):
            value = self.data.get(key)
            if isinstance(value, str) and value:
                return value
        return "unknown"


@dataclass(frozen=True)
class Rejected:
    """A message we drop: ``reason`` is a short code for counters and logs."""

    reason: str
    size: int


Inbound = Audio | Event | Rejected


def parse(message: bytes | str | None, max_frame_bytes: int) -> Inbound:
    if isinstance(message, (bytes, bytearray)):
        if len(message) == 0:
            return Rejected("empty_frame", 0)
        if len(message) > max_frame_bytes:
            return Rejected("oversized_frame", len(message))
        if len(message) % 2:
            return Rejected("odd_frame", len(message))
        return Audio(bytes(message))
    if isinstance(message, str):
        try:
            data = json.loads(message)
        except ValueError:
            return Rejected("malformed_text", len(message))
        if isinstance(data, dict):
            return Event(data)
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            return Event({"type": "batch", "items": data})
        return Rejected("unexpected_json", len(message))
    return Rejected("unknown_message", 0)
