"""Acting on a live call: the one code path behind the REST API and the dashboard."""

from __future__ import annotations

from typing import Any

from streams.errors import SessionError

from .errors import APIError, Conflict, NotFound
from .schemas import CallActionSchema
from .services import registry, store

ACTION_SCHEMA = CallActionSchema()


def perform(call_id: str, body: Any, by: str) -> dict[str, Any]:
    """Validate ``body`` (400), find the call (404) and its live session (409), and carry it out."""
    action = ACTION_SCHEMA.load(body if isinstance(body, dict) else {})
    if store().get(call_id) is None:
        raise NotFound(f"No call {call_id}.")
    session = registry().get(call_id)
    if session is None:
        raise Conflict(f"Call {call_id} has no live stream on this server; actions need one.")
    try:
        result = session.perform({**action, "by": by})
    except SessionError as exc:
        raise APIError(exc.message, status=exc.status) from None
    return {"call_id": call_id, "action": action["action"], "result": result}
