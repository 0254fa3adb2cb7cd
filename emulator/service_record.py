"""The service's own record of a call (``GET /api/v1/calls/<id>``): what it heard and what the bot said.

The platform only carries audio, so the emulator cannot know the words on its
own; with the service's API key it asks. The call is read once the service has
ended it (the stream closes just before), waiting a few seconds at most.
"""

from __future__ import annotations

import time
from typing import Any

import requests

WAIT_S = 5.0


def fetch_call(service_url: str, api_key: str, call_id: str, wait: float = WAIT_S) -> dict[str, Any]:
    """The call's agent, end reason, turns and transcript; ``{"error": …}`` when the service would not say."""
    url = f"{service_url}/api/v1/calls/{call_id}"
    headers = {"Authorization": f"Bearer {api_key}"}
    deadline = time.monotonic() + wait
    while True:
        try:
            response = requests.get(url, headers=headers, timeout=5)
        except requests.RequestException as exc:
            return {"error": f"GET /api/v1/calls/{call_id}: {exc}"}
        if response.status_code != 200:
            return {"error": f"GET /api/v1/calls/{call_id} answered {response.status_code}: {response.text[:200]}"}
        call = response.json()
        if call.get("state") == "ended" or time.monotonic() > deadline:
            return compact(call)
        time.sleep(0.2)


def compact(call: dict[str, Any]) -> dict[str, Any]:
    """The parts a person reads: turns (with when they were decided) and the transcript, both with ``at``."""
    keep = ("n", "text", "intent", "miss", "action", "latency_ms")
    decided = {e["detail"].get("n"): e["at"] for e in call.get("timeline") or [] if e["kind"] == "turn"}
    return {
        "agent": call.get("agent"),
        "state": call.get("state"),
        "end_reason": call.get("end_reason"),
        "turns": [{**{k: t.get(k) for k in keep}, "at": decided.get(t.get("n"))} for t in call.get("turns") or []],
        "transcript": [{k: line.get(k) for k in ("at", "speaker", "text")} for line in call.get("transcript") or []],
    }


def replies_by_turn(record: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The bot's lines before the first turn (the greeting), and after each turn until the next one.

    ``at`` is ISO 8601 UTC with milliseconds throughout, so the strings compare in time order.
    """
    turns = record.get("turns") or []
    bot = [line for line in record.get("transcript") or [] if line["speaker"] == "bot"]
    starts = [t.get("at") or "" for t in turns]
    before = [line["text"] for line in bot if not starts or line["at"] < starts[0]]
    after = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        after.append([line["text"] for line in bot if line["at"] >= start and (end is None or line["at"] < end)])
    return before, after


def bot_lines(record: dict[str, Any] | None) -> list[str]:
    """Everything the bot said on the call, in order (empty without the service's record)."""
    return [line["text"] for line in (record or {}).get("transcript") or [] if line["speaker"] == "bot"]
