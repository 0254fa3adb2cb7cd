"""Webhooks the Piopiy platform calls: answer, call events, DTMF input.

Bodies come as JSON or form data; every field is kept, known ones are checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from app.errors import BadRequest, NotFound
from app.http import bodies
from app.http.auth import require_webhook_token
from app.http.bodies import json_value, webhook_body
from app.piopiy import pcmo
from app.services import Services, agents, bus, is_live, services, store
from app.storage.calls import CallStore, new_call_id
from app.storage.journal import create_call
from app.webhooks import bridging
from app.webhooks.schemas import ANSWER_SCHEMA, INPUT_SCHEMA
from streams.events import EventBus, Note, StateChanged

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/piopiy")
bp.before_request(require_webhook_token(lambda: None))

CDR_ENDINGS = {"in_missed": "missed", "out_missed": "missed", "in_answered": "completed", "out_answered": "completed"}
LIVE_ENDINGS = ("hangup", "completed", "call_ended", "ended", "disconnected")


@bp.post("/answer")
def answer():  # type: ignore[no-untyped-def]
    payload = ANSWER_SCHEMA.load(webhook_body())
    calls = store()
    agent = agents().for_number(payload["to"])
    node_url = place_call(services())
    busy = node_url is None
    call = calls.find_by_platform_id(payload["cmiuuid"])
    if call is not None:  # the platform retried the webhook: same call, same answer
        bus().publish(Note(call_id=call["id"], what="webhook.answer", info={"repeat": True}))
        call_id = call["id"]
    else:
        call_id = new_call_id()
    flow_config = {**current_app.config, "STREAM_BASE_URL": node_url}
    action_list = pcmo.busy_pcmo() if busy else pcmo.answer_pcmo(flow_config, agent, call_id)
    if call is None:
        create_call(
            calls,
            bus(),
            call_id=call_id,
            direction="inbound",
            from_number=payload["from"],
            to_number=payload["to"],
            agent=agent["name"] if agent else None,
            platform_id=payload["cmiuuid"],
            extra={"answer": payload},
            timeline=[("pcmo.answer", {"actions": [a["action"] for a in action_list]})],
        )
        log.info(
            "call %s: inbound from %s to %s, agent %s",
            call_id,
            payload["from"],
            payload["to"],
            agent["name"] if agent else None,
        )
    if agent is None:
        log.error("call %s: no agent for %s and DEFAULT_AGENT is not loaded", call_id, payload["to"])
    if busy:
        bus().publish(Note(call_id=call_id, what="rejected", info={"reason": "busy"}))
        bus().publish(StateChanged(call_id=call_id, state="ended", reason="busy"))
    return jsonify(action_list)


def place_call(svc: Services) -> str | None:
    """The base URL of the node that takes the next call, or None when every node is full (busy)."""
    if not svc.accepting:
        return None
    if svc.cluster is not None:
        return svc.cluster.pick_node()
    return None if svc.calls.full() else svc.config["PUBLIC_URL"]


def _extra_params(event: dict[str, Any]) -> dict[str, Any]:
    extra = event.get("extra_params")
    if isinstance(extra, str):
        extra = bodies.loads(extra)  # unreadable, too deep or unencodable: no params
    return extra if isinstance(extra, dict) else {}


def _find_call(calls: CallStore, event: dict[str, Any]) -> dict[str, Any] | None:
    ours = _extra_params(event).get("callstream_id")
    if ours and (call := calls.get(str(ours))):
        return call
    for key in ("cmiuuid", "call_id", "request_id", "uuid", "conversation_uuid"):  # the last: a transfer's leg b
        if event.get(key) and (call := calls.find_by_platform_id(str(event[key]))):
            return call
    return None


def _event_kind(event: dict[str, Any]) -> str:
    if bridging.is_bridge_leg(event):
        return f"bridge.{event.get('status') or event.get('type') or 'unknown'}"
    return str(event.get("type") or event.get("status") or event.get("event") or "unknown")


def record_event(calls: CallStore, events: EventBus, event: dict[str, Any]) -> dict[str, Any]:
    """Store one event once and apply it to its call; return what happened.

    The event is stored (keyed by its hash) before a call is made for it, so a
    repeat of an event that names no call finds the first one's call instead
    of making another.
    """
    key = hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
    kind = _event_kind(event)
    call = _find_call(calls, event)
    if not calls.add_event(call_id=call["id"] if call else None, dedupe_key=key, kind=kind, payload=event):
        return {"call_id": calls.event_call_id(key) or (call and call["id"]), "kind": kind, "stored": False}
    if bridging.is_bridge_leg(event) or bridging.outcome(event):
        return _bridge_event(events, call, kind, event)
    if call is None:
        direction = "outbound" if kind.startswith("out_") else "inbound"
        platform_id = next((str(event[k]) for k in ("cmiuuid", "call_id", "request_id") if event.get(k)), None)
        call = create_call(
            calls,
            events,
            direction=direction,
            from_number=str(event.get("from") or "") or None,
            to_number=str(event.get("to") or "") or None,
            platform_id=platform_id,
            extra={"created_by": "event"},
        )
        calls.attach_event(key, call["id"])
    info = {"kind": kind, **({"ws_status": event["ws_status"]} if "ws_status" in event else {})}
    events.publish(Note(call_id=call["id"], what="event", info=info))
    if "answered" in kind and not call.get("answered_at"):
        calls.update(call["id"], answered_at=calls_time(event))
    if "type" in event and kind in CDR_ENDINGS:
        # A CDR arrives once the call is over; a live session, if any, ends by itself.
        if not is_live(call["id"]):
            events.publish(StateChanged(call_id=call["id"], state="ended", reason=CDR_ENDINGS[kind]))
    elif kind in LIVE_ENDINGS or kind.endswith("_missed"):
        if not is_live(call["id"]):
            events.publish(StateChanged(call_id=call["id"], state="ended", reason=kind))
    return {"call_id": call["id"], "kind": kind, "stored": True}


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


@bp.post("/events")
def events():  # type: ignore[no-untyped-def]
    body = json_value() if request.is_json else webhook_body()
    items = body if isinstance(body, list) else [body]
    most = current_app.config["MAX_EVENTS_PER_REQUEST"]  # each one is a database write (#25, also noted)
    if len(items) > most:
        raise BadRequest(f"At most {most} events per request.", {"_schema": [f"Send at most {most}."]}, status=413)
    bad = {str(i): ["Must be a JSON object."] for i, item in enumerate(items) if not isinstance(item, dict)}
    if bad:
        raise BadRequest("Every event must be a JSON object.", bad)
    calls = store()
    results = [record_event(calls, bus(), item) for item in items]
    return jsonify({"results": results})


@bp.post("/input/<call_id>")
def dtmf_input(call_id: str):  # type: ignore[no-untyped-def]
    payload = INPUT_SCHEMA.load(webhook_body())
    calls = store()
    call = calls.get(call_id)
    if call is None:
        raise NotFound(f"No call {call_id}.")
    agent = agents().get(call["agent"])
    if agent is None or not agent.get("dtmf_menu"):
        raise NotFound(f"Call {call_id} has no agent with a DTMF menu.")
    digits = payload.get("dtmf") or payload.get("digits")
    what, action_list = pcmo.menu_choice_pcmo(current_app.config, agent, call_id, digits)
    bus().publish(Note(call_id=call_id, what="dtmf", info={"digits": digits, "choice": what}))
    return jsonify(action_list)
