"""The REST API under /api/v1: outbound calls, call history, live-call actions, PCMO."""

from __future__ import annotations

import logging
from collections import Counter

from flask import Blueprint, current_app, jsonify, request

from actions import validate_pcmo, validate_pipeline
from app.api import control
from app.api.presenter import call_or_404, dump_call, recording_response
from app.api.schemas import CallCreateSchema, CallListQuerySchema, PcmoRequestSchema
from app.errors import APIError, BadRequest
from app.http.auth import require_api_key
from app.http.bodies import json_object
from app.piopiy import pcmo
from app.piopiy.client import platform_call_id
from app.services import agents, bus, piopiy, registry, store
from app.storage.journal import create_call as new_call
from app.storage.outbox import Outbox
from streams.events import Note, StateChanged

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


bp.before_request(require_api_key(lambda: None))


@bp.post("/pcmo")
def build_pcmo():  # type: ignore[no-untyped-def]
    """Validate a list of actions and return the PCMO array (for answer URLs in any language)."""
    body = PcmoRequestSchema().load(json_object())
    if body["version"] == "v3":
        return jsonify(validate_pipeline(body["actions"]))
    return jsonify(validate_pcmo(body["actions"]))


@bp.post("/calls")
def create_call():  # type: ignore[no-untyped-def]
    body = CallCreateSchema().load(json_object())
    config = current_app.config
    agent_name = body.get("agent") or config["DEFAULT_AGENT"]
    agent = agents().get(agent_name)
    if agent is None:
        raise BadRequest("Unknown agent.", {"agent": [f"No agent named {agent_name!r} is loaded."]})
    caller_id = body.get("caller_id") or config["PIOPIY_NUMBER"]
    piopiy().require_settings()  # 503 platform_not_configured: no call stored for a call that cannot be placed
    calls = store()
    call = new_call(calls, bus(), direction="outbound", from_number=caller_id, to_number=body["to"], agent=agent_name)
    action_list = pcmo.outbound_pcmo(config, agent, call["id"])
    try:
        answer = piopiy().make_call(
            to=body["to"],
            caller_id=caller_id,
            pcmo=action_list,
            call_id=call["id"],
            duration=body.get("duration"),
            timeout=body.get("timeout"),
            loop=body.get("loop"),
            record=body["record"],
            variables=body.get("variables"),
        )
    except APIError as exc:
        calls.update(call["id"], platform_response={"error": exc.message, **exc.errors})
        bus().publish(StateChanged(call_id=call["id"], state="failed", reason=exc.code))
        log.warning("call %s: outbound call to %s failed: %s", call["id"], body["to"], exc.message)
        exc.errors = {**exc.errors, "call_id": call["id"]}
        raise
    calls.update(call["id"], platform_id=platform_call_id(answer), platform_response=answer)
    bus().publish(Note(call_id=call["id"], what="platform.call", info={"version": piopiy().version}))
    log.info("call %s: outbound call to %s placed", call["id"], body["to"])
    return jsonify({"call": dump_call(calls.get(call["id"])), "platform": answer}), 201  # type: ignore[arg-type]


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    query = CallListQuerySchema().load(request.args.to_dict())
    per_page, page = query["per_page"], query["page"]
    items, total = store().list(
        state=query.get("state"),
        direction=query.get("direction"),
        since=query.get("since"),
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return jsonify({"items": [dump_call(c) for c in items], "total": total, "page": page, "per_page": per_page})


@bp.get("/calls/<call_id>")
def get_call(call_id: str):  # type: ignore[no-untyped-def]
    return jsonify(dump_call(call_or_404(call_id), detail=True))


@bp.post("/calls/<call_id>/actions")
def call_action(call_id: str):  # type: ignore[no-untyped-def]
    return jsonify(control.perform(call_id, json_object(), by="api"))


@bp.get("/calls/<call_id>/recording")
def call_recording(call_id: str):  # type: ignore[no-untyped-def]
    """The call's stereo WAV (caller left, bot right), when RECORD_CALLS is on."""
    return recording_response(call_or_404(call_id))


@bp.post("/calls/<call_id>/webhooks/redeliver")
def redeliver_webhooks(call_id: str):  # type: ignore[no-untyped-def]
    """Send a call's failed outgoing webhooks again (the same bodies and ids), e.g. once a receiver is fixed."""
    call_or_404(call_id)
    outbox = Outbox(store().db)
    count = outbox.redeliver(call_id)
    if not count:
        raise APIError("This call has no failed webhook to send again.", status=409)
    log.info("call %s: %d failed webhook(s) queued again", call_id, count)
    return jsonify({"redelivered": count, "webhooks": outbox.for_call(call_id)}), 202


@bp.get("/runtime")
def runtime():  # type: ignore[no-untyped-def]
    """Live sessions, greenlets, loop and STT lag of this process (``?reset=1`` clears the lag samples)."""
    import gc

    from greenlet import greenlet

    from streams.loopwatch import LOOP_LAG, STT_LAG

    lags = {"loop_lag": LOOP_LAG.summary(), "stt_lag": STT_LAG.summary()}
    if request.args.get("reset") == "1":
        LOOP_LAG.reset()
        STT_LAG.reset()
    sessions = registry()
    live = [obj for obj in gc.get_objects() if isinstance(obj, greenlet) and not obj.dead]
    kinds = Counter(getattr(getattr(g, "_run", None), "__qualname__", type(g).__name__) for g in live)
    return jsonify(
        {
            "sessions": len(sessions),
            "session_ids": sessions.ids(),
            "max_calls": sessions.max_calls,
            "greenlets": len(live),
            "greenlet_kinds": dict(kinds),
            **lags,
        }
    )
