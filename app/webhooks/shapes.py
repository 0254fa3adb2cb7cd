"""What a platform event is, read from the body as TeleCMI documents it (both doc sets) or as we once read it.

Piopiy posts CDRs and live events to the same URL, in shapes that differ by doc
set and platform version (``docs/platform.md``):

- A CDR: ``{"type": "cdr", "status": "answered"|"missed", "direction": …, "leg": …}``;
  newer global pages drop ``type``, so a body without it that carries
  ``duration``/``start_time``/``end_time``/``balance`` is a CDR too.
- A live event: ``type: "event"`` with a bare status (India set: ``answered``,
  ``hangup``, ``started``, ``ringing``), or no ``type`` and a status prefixed
  ``in_``/``out_`` (global set: ``in_answered``, ``out_started``, ``out_bridged``).
- A stream event: status ``stream_connected`` / ``STREAM_DISCONNECTED`` (any case), leg b,
  ``ws_status`` a JSON document inside a string.
- Our old reading (kept working): ``type`` is the docs' CDR category name (``in_missed`` …).

``time`` is epoch ms; a CDR's ``start_time``/``end_time``/``answer_time`` are
epoch seconds; ``extra_params`` is often not JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CDR_FIELDS = ("duration", "start_time", "end_time", "balance")
CDR_NAMES = ("in_missed", "in_answered", "out_missed", "out_answered")  # the docs' CDR categories (our old types)
PREFIXES = {"in_": "inbound", "out_": "outbound"}


# Fields that name or classify an event: one value each (a string, or a number for an id), never a list or an
# object. A list here once became a call whose platform id was "['x']" (review D4).
SCALAR_FIELDS = (
    "type", "status", "direction", "leg", "cmiuuid", "conversation_uuid", "request_id", "call_id", "from", "to",
)  # fmt: skip


def wrong_types(event: dict[str, Any]) -> dict[str, list[str]]:
    """Field-level errors for a list, an object or a boolean where one value belongs (empty when none)."""
    return {
        name: ["Must be a string or a number."]
        for name in SCALAR_FIELDS
        if isinstance(event.get(name), (list, dict, bool))
    }


@dataclass(frozen=True)
class Reading:
    """``category``: cdr, live, stream, bridge (a transfer's leg b) or unknown; ``status`` without its prefix."""

    category: str
    status: str
    direction: str | None
    leg: str
    kind: str  # the name stored with the event and shown on the timeline
    detail: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _direction(event: dict[str, Any], prefixed: str | None = None) -> str | None:
    value = _text(event.get("direction")).lower()
    return value if value in ("inbound", "outbound") else prefixed


def _unprefixed(status: str) -> tuple[str, str | None]:
    for prefix, direction in PREFIXES.items():
        if status.startswith(prefix):
            return status[len(prefix) :], direction
    return status, None


def ws_status(event: dict[str, Any]) -> dict[str, Any]:
    """The stream's state, close code and reason from ``ws_status`` (JSON inside a string, or not JSON at all)."""
    raw = event.get("ws_status")
    doc: Any = raw
    if isinstance(raw, str):
        try:
            doc = json.loads(raw) if len(raw) < 4096 else None
        except ValueError:
            return {"ws_status": raw[:200]}
    if not isinstance(doc, dict):
        return {}
    message = doc.get("message") if isinstance(doc.get("message"), dict) else {}
    out: dict[str, Any] = {}
    if isinstance(doc.get("status"), str):
        out["ws_state"] = doc["status"][:40]
    code = message.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        out["code"] = code
    if isinstance(message.get("reason"), str):
        out["reason"] = message["reason"][:200]
    return out


def read(event: dict[str, Any]) -> Reading:
    """Classify one event: by ``type`` when present, else by its shape."""
    kind_type = _text(event.get("type")).lower()
    raw_status = _text(event.get("status"))
    status = raw_status.lower()
    leg = _text(event.get("leg")).lower() or "a"
    if kind_type in CDR_NAMES:  # our old reading: the category name as the type
        bare, prefixed = _unprefixed(kind_type)
        return Reading("cdr", bare, prefixed, leg, kind_type)
    if status.startswith("stream_"):
        bare = status[len("stream_") :]
        return Reading("stream", bare, _direction(event), leg, f"stream.{bare}", ws_status(event))
    bare, prefixed = _unprefixed(status)
    direction = _direction(event, prefixed)
    if leg == "b":  # a transfer's leg: the person being rung (never the stream: that is above)
        return Reading("bridge", bare, direction, leg, f"bridge.{raw_status or kind_type or 'unknown'}")
    if kind_type == "cdr" or (not kind_type and bare in ("answered", "missed", "") and _is_cdr_shape(event)):
        name = f"{'out' if direction == 'outbound' else 'in'}_{bare}"
        return Reading(
            "cdr", bare, direction, leg, name if bare in ("answered", "missed") else f"cdr.{bare or 'unknown'}"
        )
    if kind_type == "event" or prefixed or (status and not kind_type):
        return Reading("live", bare, direction, leg, f"live.{status}" if status else "live.unknown")
    name = kind_type or _text(event.get("event")) or "unknown"
    return Reading("unknown", bare, direction, leg, name)


def _is_cdr_shape(event: dict[str, Any]) -> bool:
    return any(key in event for key in CDR_FIELDS)
