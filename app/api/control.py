"""Commanding a live call: the one code path behind the REST API and the dashboard."""

from __future__ import annotations

from typing import Any

from app.errors import NotFound
from app.services import registry, services, store
from streams.errors import CallNotLive
from streams.session import commands


def perform(call_id: str, body: Any, by: str) -> dict[str, Any]:
    """Validate ``body`` (400), find the call (404) and its live session (409), and carry it out.

    A refusal from the call (``CallError``) leaves with its own status and code.
    """
    name, params = commands.load(body)
    call = registry().get(call_id)
    if call is not None:  # held here: no database needed, so commands work while it is unreachable
        return {"call_id": call_id, "action": name, "result": call.handle(name, params, by)}
    if store().get(call_id) is None:
        raise NotFound(f"No call {call_id}.")
    cluster = services().cluster
    if cluster is None:
        raise CallNotLive(f"Call {call_id} has no live stream on this server; commands need one.")
    return {"call_id": call_id, "action": name, "result": cluster.send(call_id, name, params, by)}
