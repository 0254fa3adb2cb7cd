"""How a transfer's ring went, as the platform says it: leg-b events routed to the live call.

When the bot hands a caller to a person, Piopiy dials the person: a second leg
(``leg: "b"``) of the same conversation. TeleCMI's live events and CDRs for that
leg carry its own ``cmiuuid`` and the caller's call as ``conversation_uuid``;
``status`` says ``started``, ``answered`` or ``missed`` (``hangup_reason``
``recv_cancel``: rang out; ``sent_reject``: refused). A live ``out_bridged``
status on the caller's own call also means the person answered. The exact set
is not documented, so anything else is stored and ignored.

The outcome goes to the call wherever it is live: this node's registry, or, with
Redis, the node that holds it (the cluster's request path, type ``bridge``).
"""

from __future__ import annotations

import logging
from typing import Any

from app.runtime.cluster import Cluster
from app.services import Services
from streams.errors import CallError

log = logging.getLogger(__name__)

ANSWERED = ("answered", "out_answered", "bridged", "out_bridged", "connected")
UNANSWERED = ("missed", "out_missed", "no_answer", "noanswer", "busy", "rejected", "failed", "cancelled", "canceled")
NOT_ANSWERED_REASONS = ("recv_cancel", "sent_reject")


def is_bridge_leg(event: dict[str, Any]) -> bool:
    """An event about the person's leg of a transfer (never about the caller's own call)."""
    return str(event.get("leg", "")).lower() == "b"


def outcome(event: dict[str, Any]) -> str | None:
    """``answered``, ``unanswered`` or None (a ring starting, a hangup after talking, anything else)."""
    status = str(event.get("status") or event.get("type") or "").lower()
    if status == "out_bridged":
        return "answered"
    if not is_bridge_leg(event):
        return None
    if status in ANSWERED:
        return "answered"
    if status in UNANSWERED or (status in ("hangup", "ended") and event.get("hangup_reason") in NOT_ANSWERED_REASONS):
        return "unanswered"
    return None


def leg_id(event: dict[str, Any]) -> str | None:
    value = event.get("cmiuuid") or event.get("call_id") if is_bridge_leg(event) else None
    return str(value) if value else None


def deliver(svc: Services, call_id: str, result: str, leg: str | None) -> str:
    """Give the ring's outcome to the live call, here or on its node; what came of it."""
    call = svc.calls.get(call_id)
    if call is not None:
        return call.bridge_outcome(result, "platform", leg)
    if svc.cluster is None:
        return "ignored: not live"
    try:
        body = {"type": "bridge", "outcome": result, "leg": leg}
        return str(svc.cluster.request(call_id, body)["result"])
    except CallError as exc:  # not live anywhere, or its node is unreachable: the backstop timer decides
        log.info("call %s: bridge %s not delivered: %s", call_id, result, exc.message)
        return f"ignored: {exc.code}"


def install(cluster: Cluster) -> None:
    """Let other nodes hand this node's calls their ring outcomes."""
    cluster.handlers["bridge"] = lambda call, request: {
        "result": call.bridge_outcome(request["outcome"], "platform", request.get("leg"))
    }
