"""What the post-call webhook says: a stored call as ``call.ended`` or ``transfer.*`` (Standard Webhooks'
``{"type", "timestamp", "data"}`` envelope; the fields are in docs/webhooks-outgoing.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.api.presenter import turns_of
from app.piopiy.signing import recording_url
from app.storage.calls import CallStore

Summarizer = Callable[[list[dict[str, str]]], str | None]


def envelope(event: str, data: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return {"type": event, "timestamp": stamp.isoformat().replace("+00:00", "Z"), "data": data}


def call_facts(call: dict[str, Any]) -> dict[str, Any]:
    """Who, which way and which agent: the part every event about a call carries."""
    return {
        "call_id": call["id"],
        "platform_id": call["platform_id"],
        "direction": call["direction"],
        "from": call["from_number"],
        "to": call["to_number"],
        "agent": call["agent"],
    }


def durations(call: dict[str, Any]) -> dict[str, float | None]:
    ended, answered = call["ended_at"], call["answered_at"]
    return {
        "total_seconds": round(ended - call["created_at"], 3) if ended else None,
        "answered_seconds": round(ended - answered, 3) if ended and answered else None,
        "talk_seconds": call["talk_seconds"],  # from the platform's CDR, when it has come
        "billed_seconds": call["billed_seconds"],
    }


def extracted_summary(turns: list[dict[str, Any]], lines: list[dict[str, Any]], reason: str | None) -> str:
    """A summary made from the transcript alone (no LLM): the intents reached and the caller's words."""
    intents = list(dict.fromkeys(t["intent"] for t in turns if t.get("intent")))
    said = [line["text"] for line in lines if line["speaker"] == "caller"]
    parts = [f"{len(turns)} turn(s); intents: {', '.join(intents) or 'none recognised'}."]
    if said:
        parts.append(f'The caller first said "{said[0]}"' + (f' and last "{said[-1]}".' if len(said) > 1 else "."))
    else:
        parts.append("The caller said nothing we recognised.")
    parts.append(f"Ended: {reason or 'unknown'}.")
    return " ".join(parts)


def brief_of(timeline: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last warm-transfer brief (timeline "handoff.brief"), if the call had one."""
    briefs = [entry["detail"].get("context", entry["detail"]) for entry in timeline if entry["kind"] == "handoff.brief"]
    return briefs[-1] if briefs else None


def call_ended(store: CallStore, call: dict[str, Any], config: dict[str, Any], summarize: Summarizer | None) -> dict:
    """The ``call.ended`` event of a stored call (blocking: the LLM may be asked, with its own timeout)."""
    timeline = store.timeline(call["id"])
    lines = [
        {"at": line["at"], "speaker": line["speaker"], "text": line["text"]} for line in store.transcript(call["id"])
    ]
    turns = turns_of(timeline)
    summary = summarize([{"speaker": x["speaker"], "text": x["text"]} for x in lines]) if summarize and lines else None
    extra = call["extra"]
    link = None
    if extra.get("recording") and config.get("PUBLIC_URL") and config.get("SECRET_KEY"):
        ttl = int(config["RECORDING_URL_TTL"])
        link = recording_url(config["PUBLIC_URL"], config["SECRET_KEY"], call["id"], ttl)
    data = {
        **call_facts(call),
        "outcome": call["state"],  # ended, or failed (never connected)
        "end_reason": call["end_reason"],
        "created_at": call["created_at"],
        "answered_at": call["answered_at"],
        "ended_at": call["ended_at"],
        "durations": durations(call),
        "answered_by": extra.get("answered_by"),
        "turns": turns,
        "transcript": lines,
        "handoff": extra.get("handoff"),
        "brief": brief_of(timeline),
        "summary": summary or extracted_summary(turns, lines, call["end_reason"]),
        "summary_by": "llm" if summary else "transcript",
        "recording_url": link,
    }
    return envelope("call.ended", data)


def transfer(event: str, call: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``transfer.started`` / ``answered`` / ``unanswered``: the transfer's state when it moved."""
    return envelope(event, {**call_facts(call), "handoff": data.get("handoff")})
