"""What the emulated platform posts to the service, in the shapes TeleCMI documents (issue #20.6).

``--docs global`` (the default) speaks doc.telecmi.com/piopiy/docs, ``--docs india``
the India set (…/piopiy-india/docs), ``--docs legacy`` our own old reading (kept for
comparison). The samples themselves are in ``emulator/samples/`` (docs/platform.md):

- the answer URL gets ``{from, to, time (epoch ms), cmiuuid}``;
- live events: global ``{status: "in_answered" | "out_answered" | "in_hangup" …}`` without ``type``,
  India ``{type: "event", status: "answered" | "hangup"}``;
- stream events (global only): ``stream_connected`` / ``STREAM_DISCONNECTED``, leg b, ``ws_status`` a JSON string;
- the CDR: ``{type: "cdr", status: "answered", direction, leg: "a", start/answer/end_time (s), duration, …}``,
  delivered at once and retried on the documented schedule (0, 5, 15, 30 min), compressible by
  ``--cdr-time-scale`` for tests.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import gevent

DOCS = ("global", "india", "legacy")
SCHEDULE = (0.0, 300.0, 900.0, 1800.0)  # seconds after the call: first, +5 min, +10 min more, +15 min more
APP_ID = 2222222
SAMPLES = Path(__file__).resolve().parent / "samples"


def samples(docs: str) -> list[dict[str, Any]]:
    """The docs' own sample bodies with their notes (global: shared/platform; India: found in the docs)."""
    return json.loads((SAMPLES / f"webhooks-{docs}.json").read_text(encoding="utf-8"))


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def leg_id(call: Any) -> str:
    """Leg a's cmiuuid: the inbound call's own id; for an outbound call a uuid of its own (the request_id differs)."""
    if call.direction == "inbound":
        return str(call.platform_id)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leg-a/{call.platform_id}"))


def _ids(call: Any) -> dict[str, Any]:
    ids: dict[str, Any] = {"cmiuuid": leg_id(call), "conversation_uuid": call.platform_id}
    if call.direction == "outbound":
        ids["request_id"] = call.platform_id  # what make_call answered
    return ids


def _numbers(call: Any) -> dict[str, Any]:
    number = {True: int, False: str}
    digits = str(call.script.from_number).isdigit() and str(call.script.to_number).isdigit()
    return {"from": number[digits](call.script.from_number), "to": number[digits](call.script.to_number)}


def answer_body(call: Any, docs: str) -> dict[str, Any]:
    if docs == "legacy":
        return {**_numbers(call), "time": time.strftime("%Y-%m-%d %H:%M:%S"), "cmiuuid": call.platform_id}
    return {**_numbers(call), "time": _ms(time.time()), "cmiuuid": call.platform_id}


def live_event(call: Any, status: str, docs: str) -> dict[str, Any] | None:
    """A leg-a live event (``answered`` or ``hangup``), or None for the legacy reading (it had none)."""
    if docs == "legacy":
        return None
    prefix = "in_" if call.direction == "inbound" else "out_"
    body = {"appid": APP_ID, **_ids(call), **_numbers(call), "direction": call.direction, "leg": "a",
            "time": _ms(time.time())}  # fmt: skip
    if docs == "india":
        return {"type": "event", **body, "status": status}
    extra = json.dumps(call.extra_params) if call.extra_params else '{"key":"value"}'
    return {**body, "extra_params": extra, "status": prefix + status}


def stream_event(call: Any, status: str, docs: str, close: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``stream_connected`` / ``STREAM_DISCONNECTED`` as the global docs show them (the India set has none)."""
    if docs != "global":
        return None
    ws_status: dict[str, Any] = {"status": status}
    if status == "disconnected":
        ws_status["message"] = {"code": (close or {}).get("code") or 1006,
                                "reason": (close or {}).get("reason") or "Abnormal closure"}  # fmt: skip
    name = "stream_connected" if status == "connected" else "STREAM_DISCONNECTED"
    return {"appid": APP_ID, "direction": call.direction, "from": _numbers(call)["from"], "leg": "b", "status": name,
            "time": _ms(time.time()), "cmiuuid": leg_id(call), "ws_status": json.dumps(ws_status)}  # fmt: skip


def cdr_body(call: Any, duration: float, docs: str) -> dict[str, Any]:
    """The call's CDR: answered (the emulated callee always answers), talk time ``duration``."""
    if docs == "legacy":
        event = {"type": "in_answered" if call.direction == "inbound" else "out_answered", "cmiuuid": call.platform_id,
                 "from": call.script.from_number, "to": call.script.to_number, "duration": duration,
                 "answered_time": _ms(call.wall0)}  # fmt: skip
        if call.extra_params:
            event["extra_params"] = json.dumps(call.extra_params)
        return event
    answered = int(call.wall0)
    ended = answered + max(0, round(duration))
    body: dict[str, Any] = {**_numbers(call), "appid": APP_ID, "time": _ms(call.wall0), "direction": call.direction,
                            "duration": ended - answered, **_ids(call), "leg": "a", "status": "answered",
                            "type": "cdr"}  # fmt: skip
    if docs == "global":
        body.update(start_time=answered, end_time=ended, answer_time=answered, call_rate="0.450000",
                    balance="878.900000", extra_params=json.dumps(call.extra_params or {"key": "value"}))  # fmt: skip
    return body


def post(call: Any, body: dict[str, Any] | None, what: str) -> bool:
    """POST one event to the service's events webhook; an error goes in the report, never stops the call."""
    if body is None:
        return True
    try:
        call._post(call._hook("events"), body)
        return True
    except Exception as exc:  # noqa: BLE001 - the report says what went wrong
        call.errors.append(f"{what}: {str(exc)[:200]}")
        return False


def deliver_cdr(call: Any, duration: float) -> None:
    """The CDR, on the documented schedule: ``cdr_repeat`` deliveries (a failed one is retried at the next slot,
    four slots at most). ``cdr_time_scale`` compresses the 0/5/15/30 min schedule (0.001: 0, 0.3, 0.9, 1.8 s)."""
    options = call.options
    body = cdr_body(call, duration, options.docs)
    wanted, done, started = max(1, options.cdr_repeat), 0, time.monotonic()
    for slot in SCHEDULE:
        gevent.sleep(max(0.0, slot * options.cdr_time_scale - (time.monotonic() - started)))
        done += post(call, body, "cdr")
        if done >= wanted:
            return
