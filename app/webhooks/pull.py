"""No call left open by a lost webhook: ask the platform's CDR pull API about calls still ``created``.

An inbound call whose caller hung up before the stream opened, or an outbound
call nobody answered, is ended only by its CDR. When that webhook never
arrives (our outage, a network blip, a retry given up), the call would stay
``created`` for ever. Every ``SWEEP_EVERY`` seconds this asks TeleCMI's
documented pull API about each call still ``created`` ``SWEEP_AFTER`` seconds
after it was made (by ``request_id`` for an outbound call, by ``cmiuuid`` for an
inbound one) and applies the leg-a answer exactly as a posted CDR
(``events.record_event``): stored once, idempotent with the real webhook.
A call the platform knows nothing of yet is asked again next time; one it
still does not know ``SWEEP_GIVE_UP`` seconds after it was made (its last CDR
retry is due 30 minutes after the call) is ended as ``unknown_to_platform``,
so stale calls never crowd out the ones still worth asking about. A failed
request never ends a call.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask

from app.errors import APIError
from app.services import Services, is_live
from app.webhooks.events import record_event
from streams.events import StateChanged

log = logging.getLogger(__name__)

UNSETTLED = ("created",)  # made, never streamed: only a CDR (or its pull) can end it
PER_SWEEP = 50  # calls asked about per sweep: the platform's API is not ours to flood


def as_cdr(call: dict[str, Any], pulled: dict[str, Any]) -> dict[str, Any]:
    """A pulled CDR item (no ids, no type: ``duration, balance, rate, from, to, time, leg, direction, status``)
    as the webhook would have carried it, named by the id it was asked by."""
    key = "request_id" if call["direction"] == "outbound" else "cmiuuid"
    return {**pulled, "type": "cdr", key: call["platform_id"], "pulled": True}


def sweep(app: Flask, now: float | None = None) -> list[dict[str, Any]]:
    """One pass: every unsettled call old enough, asked about and settled when the platform knows; what happened."""
    services: Services = app.extensions["callstream"]
    after = float(app.config["SWEEP_AFTER"])
    results: list[dict[str, Any]] = []
    if after <= 0:
        return results
    now = now or time.time()
    with app.app_context():
        for call in services.store.unsettled(UNSETTLED, now - after, PER_SWEEP):
            if is_live(call["id"]):
                continue
            results.extend(_settle(services, call, now - call["created_at"] > float(app.config["SWEEP_GIVE_UP"])))
    return results


def _settle(services: Services, call: dict[str, Any], give_up: bool) -> list[dict[str, Any]]:
    items = _pull(services, call) if call["platform_id"] else []  # no id: nothing to ask by
    if items is None:  # the request failed: asked again next sweep, never ended for it
        return []
    legs_a = [item for item in items if str(item.get("leg") or "a").lower() == "a"]
    if legs_a:
        log.info("call %s: still %s after the sweep timeout; the platform's CDR settles it", call["id"], call["state"])
        return [record_event(services.store, services.bus, as_cdr(call, legs_a[0]))]
    if give_up:
        log.warning("call %s: unknown to the platform long after it was made; ended", call["id"])
        services.bus.publish(StateChanged(call_id=call["id"], state="ended", reason="unknown_to_platform"))
        return [{"call_id": call["id"], "kind": "sweep", "applied": "ended unknown_to_platform"}]
    return []


def _pull(services: Services, call: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The platform's CDRs of the call ([]: it does not know it yet), or None when asking failed."""
    by_request = call["direction"] == "outbound"
    try:
        return services.piopiy.pull_cdrs(
            request_id=call["platform_id"] if by_request else None,
            cmiuuid=None if by_request else call["platform_id"],
        )
    except APIError as exc:  # unreachable, refused
        log.warning("call %s: CDR pull failed: %s", call["id"], exc.message)
        return None


def start(app: Flask) -> None:
    """In a serving process: sweep every ``SWEEP_EVERY`` seconds, for ever (a failed pass is logged, not fatal)."""
    if float(app.config["SWEEP_AFTER"]) <= 0:
        return
    import gevent

    def forever() -> None:
        while True:
            gevent.sleep(float(app.config["SWEEP_EVERY"]))
            try:
                sweep(app)
            except Exception:  # noqa: BLE001 - the next pass may find the database back
                log.exception("CDR sweep failed")

    gevent.spawn(forever)
