"""One platform event (a CDR, a live status, a stream status), stored once and applied to its call.

Read by ``shapes.read``; what each does (issue #20):

- a leg-a CDR: ``answered`` stores the answer time, talk time (``end_time −
  answer_time``) and the platform's cost fields where none are stored yet, and
  ends a call that is not streaming as ``completed``; ``missed`` ends it as
  ``missed``. A repeat (the platform's retries, or the sweeper's pull) changes
  nothing; a late one enriches a call that ended by itself without rewriting
  how it ended (a final state is never left).
- a live ``hangup`` ends a call that is not streaming as ``hung_up``; a live
  ``answered`` stores the answer time.
- a stream status (leg b: the stream is the call's second leg) goes on the
  timeline as ``stream`` with the close code and reason from ``ws_status``.
- a transfer's leg b goes to ``bridging``.

Every id an event carries (``cmiuuid``, ``request_id``, ``conversation_uuid``)
is remembered for its call, so later events of any leg find it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from typing import Any

from app.http import bodies
from app.services import is_live, services
from app.storage.calls import FINAL_STATES, CallStore
from app.storage.journal import create_call
from app.webhooks import bridging
from app.webhooks.shapes import Reading, read
from streams.events import EventBus, Note, StateChanged

log = logging.getLogger(__name__)

ID_KEYS = ("cmiuuid", "call_id", "request_id", "uuid", "conversation_uuid")  # the last: any leg of the conversation
CDR_ENDINGS = {"answered": "completed", "missed": "missed"}
LIVE_ENDINGS = {"hangup": "hung_up", "missed": "missed"}
OLD_LIVE_ENDINGS = ("completed", "call_ended", "ended", "disconnected")  # statuses we once read as an end


def extra_params(event: dict[str, Any]) -> dict[str, Any]:
    """``extra_params`` as a dict: the platform sends a string that is often not JSON (then: no params)."""
    extra = event.get("extra_params")
    if isinstance(extra, str):
        extra = bodies.loads(extra)
    return extra if isinstance(extra, dict) else {}


def find_call(calls: CallStore, event: dict[str, Any]) -> dict[str, Any] | None:
    ours = extra_params(event).get("callstream_id")
    if ours and (call := calls.get(str(ours))):
        return call
    for key in ID_KEYS:
        if event.get(key) and (call := calls.find_by_platform_id(str(event[key]))):
            return call
    return None


def remember_ids(calls: CallStore, call: dict[str, Any], event: dict[str, Any], leg: str) -> None:
    """Know the call by every id this event carries (a leg's cmiuuid, the request_id, the conversation)."""
    for key in ID_KEYS:
        value = event.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != call.get("platform_id"):
            calls.add_leg(str(value)[:200], call["id"], leg if key in ("cmiuuid", "call_id", "uuid") else None)


def record_event(calls: CallStore, events: EventBus, event: dict[str, Any]) -> dict[str, Any]:
    """Store one event once and apply it to its call; return what happened.

    The event is stored (keyed by its hash) before a call is made for it, so a
    repeat of an event that names no call finds the first one's call instead
    of making another.
    """
    key = hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
    reading = read(event)
    kind = reading.kind
    call = find_call(calls, event)
    if not calls.add_event(call_id=call["id"] if call else None, dedupe_key=key, kind=kind, payload=event):
        return {"call_id": calls.event_call_id(key) or (call and call["id"]), "kind": kind, "stored": False}
    if reading.category == "stream":
        return _stream_event(calls, events, call, reading, event)
    if reading.category == "bridge" or bridging.outcome(event):
        if call is not None:
            remember_ids(calls, call, event, reading.leg)
        return _bridge_event(events, call, kind, event)
    if call is None and reading.category == "cdr" and reading.status not in CDR_ENDINGS:
        log.info("cdr %s for no known call: stored, ignored", kind)  # e.g. a truncated body: nothing to make a call of
        return {"call_id": None, "kind": kind, "stored": True, "applied": "ignored: unknown call"}
    if call is None:
        call = _new_call(calls, events, reading, event)
        calls.attach_event(key, call["id"])
    remember_ids(calls, call, event, reading.leg)
    info = {"kind": kind, **({"ws_status": event["ws_status"]} if "ws_status" in event else {})}
    events.publish(Note(call_id=call["id"], what="event", info=info))
    applied = apply(calls, events, call, reading, event)
    return {"call_id": call["id"], "kind": kind, "stored": True, **({"applied": applied} if applied else {})}


def _new_call(calls: CallStore, events: EventBus, reading: Reading, event: dict[str, Any]) -> dict[str, Any]:
    direction = reading.direction or ("outbound" if reading.kind.startswith("out_") else "inbound")
    platform_id = next((str(event[k]) for k in ("cmiuuid", "call_id", "request_id") if event.get(k)), None)
    return create_call(
        calls,
        events,
        direction=direction,
        from_number=str(event.get("from") or "") or None,
        to_number=str(event.get("to") or "") or None,
        platform_id=platform_id,
        extra={"created_by": "event"},
    )


def apply(calls: CallStore, events: EventBus, call: dict[str, Any], reading: Reading, event: dict[str, Any]) -> str:
    """What a leg-a CDR or live status does to its call (stored already); what came of it."""
    ending = None
    if reading.category == "cdr":
        stored = calls.enrich(call["id"], **cdr_fields(event, reading.status))
        ending = CDR_ENDINGS.get(reading.status)
        applied = f"cdr {reading.status}" + (f", stored {', '.join(stored)}" if stored else "")
    elif reading.category == "live" or reading.category == "unknown":
        if reading.status == "answered":
            calls.enrich(call["id"], answered_at=calls_time(event))
        ending = LIVE_ENDINGS.get(reading.status) or (reading.status if reading.status in OLD_LIVE_ENDINGS else None)
        applied = f"live {reading.status or 'unknown'}"
    else:
        return ""
    if ending is None:
        return applied
    current = calls.get(call["id"]) or call
    if current["state"] in FINAL_STATES:
        return f"{applied}; already {current['state']} ({current.get('end_reason')})"
    if is_live(call["id"]):  # streaming: the socket's own end says how it ended
        return f"{applied}; streaming, left to the stream"
    events.publish(StateChanged(call_id=call["id"], state="ended", reason=ending))
    return f"{applied}; ended {ending}"


def cdr_fields(event: dict[str, Any], status: str) -> dict[str, Any]:
    """What an answered CDR stores on the call: answer time, talk time, billed seconds, cost fields."""
    if status != "answered":
        return {}
    answer, end = _epoch(event.get("answer_time")), _epoch(event.get("end_time"))
    talk = end - answer if answer is not None and end is not None and end >= answer else None
    billed = _number(event.get("duration"))
    billed = billed if billed is not None and billed < 1e7 else None
    return {
        "answered_at": answer if answer is not None else calls_time(event),
        "talk_seconds": talk if talk is not None else billed,
        "billed_seconds": billed,
        "call_rate": _cost(event.get("call_rate", event.get("rate"))),
        "balance": _cost(event.get("balance")),
    }


def _cost(value: Any) -> str | None:
    """A cost field as text: the docs send ``"0.450000"`` and ``0`` alike."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    text = str(value).strip()[:32]
    return text or None


def _number(value: Any) -> float | None:
    if isinstance(value, str) and value.isascii() and value.strip().replace(".", "", 1).isdigit() and len(value) < 32:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1e300 < value < 1e300:
        return None  # (a JSON integer may be too large for a float)
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _epoch(value: Any) -> float | None:
    """A CDR time (epoch seconds), when believable (see ``calls_time``)."""
    seconds = _number(value)
    return seconds if seconds is not None and EARLIEST_TIME <= seconds <= time.time() + FUTURE_SLACK else None


def _stream_event(
    calls: CallStore, events: EventBus, call: dict[str, Any] | None, reading: Reading, event: dict[str, Any]
) -> dict[str, Any]:
    """The stream's own leg: onto the call's timeline as a stream event; never a transfer's ring."""
    if call is None:
        log.info("stream event %s for no known call: stored, ignored", reading.kind)
        return {"call_id": None, "kind": reading.kind, "stored": True, "applied": "ignored: unknown call"}
    info = {"status": reading.status, "leg": reading.leg, **reading.detail}
    events.publish(Note(call_id=call["id"], what="stream", info=info))
    return {"call_id": call["id"], "kind": reading.kind, "stored": True, "applied": "noted"}


def _bridge_event(events: EventBus, call: dict[str, Any] | None, kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """A transfer's ring (stored already): onto the caller's timeline, and its outcome to the live call.

    An event for a call we do not know is kept (stored once) and ignored: a leg b never makes a call.
    """
    if call is None:
        log.info("bridge event %s for no known call: stored, ignored", kind)
        return {"call_id": None, "kind": kind, "stored": True, "applied": "ignored: unknown call"}
    events.publish(Note(call_id=call["id"], what="event", info={"kind": kind, "leg": event.get("leg", "a")}))
    result = bridging.outcome(event)
    applied = bridging.deliver(services(), call["id"], result, bridging.leg_id(event)) if result else "noted"
    return {"call_id": call["id"], "kind": kind, "stored": True, "applied": applied}


EARLIEST_TIME = 946684800.0  # 2000-01-01: no call we store happened before
FUTURE_SLACK = 86400.0  # clocks disagree; a day ahead is still believable


def calls_time(event: dict[str, Any]) -> float:
    """The answer time an event carries (epoch s or ms, number or ASCII digits), else now.

    A time outside 2000-01-01 .. now + 1 day (or not finite) is not believed: now is stored instead.
    """
    value = event.get("answered_time") or event.get("time")
    if isinstance(value, str) and value.isascii() and value.strip().replace(".", "", 1).isdigit():
        value = float(value) if len(value) < 32 else None
    now = time.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300:
        seconds = float(value) / (1000 if value > 1e11 else 1)
        if math.isfinite(seconds) and EARLIEST_TIME <= seconds <= now + FUTURE_SLACK:
            return seconds
    return now
