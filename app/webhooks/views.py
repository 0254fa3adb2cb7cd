"""Webhooks the Piopiy platform calls: answer, call events, DTMF input.

Bodies come as JSON or form data; every field is kept, known ones are checked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from app.capture import webhook as capture_webhook
from app.errors import BadRequest, NotFound
from app.http.auth import require_webhook_token
from app.http.bodies import json_value, webhook_body
from app.piopiy import pcmo
from app.runtime.load import call_weight
from app.services import Services, agents, bus, services, store
from app.storage.calls import new_call_id
from app.storage.journal import create_call
from app.urls import public_url
from app.webhooks import shapes
from app.webhooks.events import record_event
from app.webhooks.schemas import ANSWER_SCHEMA, INPUT_SCHEMA
from streams.events import Note, StateChanged

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/piopiy")
bp.before_request(require_webhook_token(lambda: None))


@bp.before_request
def capture() -> None:
    """PLATFORM_CAPTURE: write the body as received (app/capture.py), once the token has been checked."""
    if current_app.config.get("PLATFORM_CAPTURE"):
        capture_webhook(current_app.config["PLATFORM_CAPTURE"], request)


@bp.post("/answer")
def answer():  # type: ignore[no-untyped-def]
    payload = ANSWER_SCHEMA.load(webhook_body())
    calls = store()
    agent = agents().for_number(payload["to"])
    node_url = place_call(services(), agent)
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


def place_call(svc: Services, agent: Mapping[str, Any] | None = None) -> str | None:
    """The base URL of the node that takes the next call, or None (busy; the reason is counted, #21.1)."""
    url, reason = _choose_node(svc, call_weight(agent, svc.load.limits) if svc.load is not None else 1.0)
    if url is None and svc.load is not None:
        svc.load.refuse(reason)
    return url


def _choose_node(svc: Services, weight: float) -> tuple[str | None, str]:
    if not svc.accepting:
        return None, "draining"
    if svc.cluster is not None:
        url = svc.cluster.pick_node(round(weight))
        return url, "no_node_with_room"
    if svc.calls.full():
        return None, "max_calls"
    reason = svc.load.admit(weight=weight) if svc.load is not None else ""
    if reason:
        return None, reason  # "load" (measured) or "burst" (projected), app/runtime/load.py
    return public_url(svc.config), ""


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
    typed = {f"{i}.{name}" if len(items) > 1 else name: errors for i, item in enumerate(items)
             for name, errors in shapes.wrong_types(item).items()}  # fmt: skip
    if typed:
        raise BadRequest("An event's fields have the wrong type.", typed)
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
