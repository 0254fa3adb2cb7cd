"""How a stored call is shown: the REST API and the dashboard read calls the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import send_file

from app.api.schemas import CallDetailSchema, CallSchema, iso_time
from app.errors import NotFound
from app.services import is_live, registry, store
from app.storage.calls import FINAL_STATES
from app.storage.outbox import Outbox


def call_or_404(call_id: str) -> dict[str, Any]:
    call = store().get(call_id)
    if call is None:
        raise NotFound(f"No call {call_id}.")
    return call


def dump_call(call: dict[str, Any], detail: bool = False) -> dict[str, Any]:
    live = registry().get(call["id"])
    call = {
        **call,
        "live": live is not None or is_live(call["id"]),
        "answered_by": call["extra"].get("answered_by"),
        "handoff": handoff_of(call),
    }
    if not detail:
        return CallSchema().dump(call)
    calls = store()
    timeline = calls.timeline(call["id"])
    call["timeline"] = [{**e, "detail": iso_times(e["detail"])} for e in timeline]
    call["transcript"] = calls.transcript(call["id"])
    call["legs"] = calls.legs(call["id"])
    call["turns"] = [iso_times(turn) for turn in turns_of(timeline)]
    call["stats"] = live.stats() if live is not None else call["extra"].get("stream")
    call["recording"] = bool(call["extra"].get("recording"))
    call["webhooks"] = Outbox(calls.db).for_call(call["id"])  # the post-call webhook's delivery (#23.2)
    return CallDetailSchema().dump(call)


def iso_times(detail: Any) -> Any:
    """A timeline detail with its epoch ``*_at`` fields (a turn's ended_at, a line's started_at) in ISO 8601,
    like every other time the API shows."""
    if not isinstance(detail, dict):
        return detail
    return {
        key: iso_time(value) or value
        if key.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1e9
        else value
        for key, value in detail.items()
    }


OPEN_HANDOFF = ("holding", "ringing", "retrying")


def handoff_of(call: dict[str, Any]) -> dict[str, Any] | None:
    """The call's transfer, its time in ISO 8601 like every other time, and closed when the call is.

    A transfer still ``ringing`` (or holding, retrying) on an ended call shows as ``ended``: the call
    ended before the platform said how the transfer went.
    """
    handoff = call["extra"].get("handoff")
    if not isinstance(handoff, dict):
        return None
    handoff = {**handoff, "at": iso_time(handoff.get("at"))}
    if call["state"] in FINAL_STATES and handoff.get("state") in OPEN_HANDOFF:
        handoff["state"] = "ended"
    return handoff


def turns_of(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each caller turn with what was understood and how fast the reply came (timeline "turn" + "reply")."""
    turns: dict[int, dict[str, Any]] = {}
    for entry in timeline:
        if entry["kind"] in ("turn", "reply") and "n" in entry["detail"]:
            turns.setdefault(entry["detail"]["n"], {"n": entry["detail"]["n"], "latency_ms": None}).update(
                entry["detail"]
            )
    return [turns[n] for n in sorted(turns)]


def recording_response(call: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The call's stereo WAV (caller left, bot right), or a 404 that says why there is none."""
    path = call["extra"].get("recording")
    if not path or not Path(path).is_file():
        live = is_live(call["id"])
        raise NotFound(
            "The recording is written when the call ends." if live else f"Call {call['id']} has no recording."
        )
    return send_file(path, mimetype="audio/wav", download_name=f"{call['id']}.wav")
