"""The person a transfer rings: the platform's leg b, answered or not, and what Piopiy tells the service.

When a ``bridge`` arrives, the platform dials each number (``loop`` rounds) and
posts events for those legs to the service's events webhook, the way TeleCMI
does: a live event ``{"type": "event", "leg": "b", "status": "started", ...}``
per leg at once; after ``ring_seconds`` either ``status: "answered"`` (live
event, first leg), or, for a ring nobody answers, a leg-b CDR per leg
``{"type": "cdr", "leg": "b", "status": "missed", "hangup_reason": "recv_cancel"}``.
Each leg has its own ``cmiuuid``; ``conversation_uuid`` is the caller's call.
``silent`` posts nothing at all (the service's backstop timer must decide).
The caller's stream stays open throughout, as it does on the platform.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import gevent

if TYPE_CHECKING:
    from emulator.emulated_call import EmulatedCall

BEHAVIOURS = ("answer", "no_answer", "silent")


def _leg_event(call: EmulatedCall, action: dict[str, Any], leg: str, number: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "event",
        "leg": "b",
        "direction": "outbound",
        "cmiuuid": leg,
        "conversation_uuid": call.platform_id,
        "from": str(action.get("from", "")),
        "to": number,
        "time": int(time.time() * 1000),
        **fields,
    }


def ring(call: EmulatedCall, action: dict[str, Any], transfer: dict[str, Any]) -> None:
    """Ring the bridge's people as the script says; record the outcome on ``transfer``. Runs in a greenlet."""
    behaviour = call.script.human_for(sum(1 for t in call.transfers if t is not transfer and "outcome" in t))
    transfer["outcome"] = "ringing"
    numbers = [str(c.get("number")) for c in action.get("connect", []) if isinstance(c, dict)]
    rounds = int(action.get("loop", 1) or 1)
    legs = [(number, str(uuid.uuid4())) for _ in range(rounds) for number in numbers]
    if behaviour != "silent":
        _post(call, [_leg_event(call, action, leg, number, status="started") for number, leg in legs])
    gevent.sleep(min(call.script.ring_seconds, float(action.get("timeout", 40)) * rounds))
    if behaviour == "answer" and legs:
        number, leg = legs[0]
        _post(call, [_leg_event(call, action, leg, number, status="answered")])
    elif behaviour == "no_answer":
        missed = {"type": "cdr", "status": "missed", "hangup_reason": "recv_cancel", "duration": 0}
        _post(call, [_leg_event(call, action, leg, number, **missed) for number, leg in legs])
    transfer["outcome"] = {"answer": "answered", "no_answer": "no_answer", "silent": "no_word"}[behaviour]
    call.mark("bridge." + transfer["outcome"])


def _post(call: EmulatedCall, events: list[dict[str, Any]]) -> None:
    for event in events:
        if call.hung_up and call.end is not None:
            return
        try:
            call._post(call._hook("events"), event)
        except Exception as exc:  # noqa: BLE001 - a report with the error beats a crash
            call.errors.append(f"bridge event: {exc}")
