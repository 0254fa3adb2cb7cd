"""Parsing what the platform sends on the stream socket (PROTOCOL.md section 2).

Pure: a message in, a typed result out. Binary frames are caller audio; text
frames are JSON events whose schema is not documented, so anything readable is
accepted and anything else is reported, never raised. Text is read by the one
JSON rule the webhooks use (streams/jsontext.py): no NaN/Infinity, no lone
surrogates, no deep nesting, so no frame can poison a call's API or dashboard.

The first text frame on a socket, before any audio, may be the module's
metadata (mod_audio_stream's ``start … <metadata>``: any UTF-8 text, JSON or not),
read by ``metadata``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from streams.jsontext import MISSING, loads


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
class Metadata:
    """The first text frame on a socket: a JSON object as is, other JSON as ``value``, plain text as ``text``."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A message we drop: ``reason`` is a short code for counters and logs."""

    reason: str
    size: int


Inbound = Audio | Event | Metadata | Rejected


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
        data = loads(message)
        if data is MISSING:
            return Rejected("malformed_text", len(message))
        if isinstance(data, dict):
            return Event(data)
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            return Event({"type": "batch", "items": data})
        return Rejected("unexpected_json", len(message))
    return Rejected("unknown_message", 0)


def metadata(message: str, max_frame_bytes: int) -> Metadata | Rejected:
    """The first text frame of a socket as metadata; JSON that breaks the reading rule is still refused."""
    if len(message) > max_frame_bytes:
        return Rejected("oversized_text", len(message))
    data = loads(message)
    if isinstance(data, dict):
        return Metadata(data)
    if data is not MISSING:
        return Metadata({"value": data})
    if message.lstrip()[:1] in ("{", "[", '"'):  # meant as JSON, and unreadable or unsound
        return Rejected("malformed_text", len(message))
    return Metadata({"text": message})


def bounded(data: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """``data`` as is when its JSON is at most ``max_chars`` long, else a short description of it."""
    try:
        size = len(json.dumps(data, default=str))
    except (ValueError, RecursionError):
        size = max_chars + 1
    if size <= max_chars:
        return data
    return {"truncated": True, "chars": size, "keys": [str(k)[:40] for k in list(data)[:20]]}
