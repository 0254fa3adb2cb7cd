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
        if len(message) > max_frame_bytes:
            return Rejected("oversized_text", len(message))
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to be a real event
            return Rejected("malformed_text", len(message))
        if isinstance(data, dict):
            return Event(data)
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            return Event({"type": "batch", "items": data})
        return Rejected("unexpected_json", len(message))
    return Rejected("unknown_message", 0)


def bounded(data: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """``data`` as is when its JSON is at most ``max_chars`` long, else a short description of it."""
    try:
        size = len(json.dumps(data, default=str))
    except (ValueError, RecursionError):
        size = max_chars + 1
    if size <= max_chars:
        return data
    return {"truncated": True, "chars": size, "keys": [str(k)[:40] for k in list(data)[:20]]}
