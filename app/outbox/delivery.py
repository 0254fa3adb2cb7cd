"""The outbox's sender: one greenlet per serving process sends due rows, signed, and retries with backoff.

Each row is claimed first (app/storage/outbox.py): with several workers or
hosts, exactly one sends it. The body is made at the first attempt and stored,
so every retry sends the same bytes under the same ``webhook-id``. A 2xx is
delivered; another answer but 429 or 5xx is final (failed); a connection
error, a timeout, 429 or 5xx is tried again after 2 s, 4 s, … (at most 5 min),
``CALL_WEBHOOK_ATTEMPTS`` times in all. A row whose call has no URL (neither
the agent's ``call_webhook_url`` nor ``CALL_WEBHOOK_URL``) is skipped.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from flask import Flask

from app.outbox import payload
from app.services import Services
from app.storage.outbox import DELIVERED, FAILED, PENDING, SKIPPED, Outbox
from streams.session.briefing import llm_summarizer
from streams.session.signed_post import final, post_signed

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between looks at the outbox
FORGET_EVERY = 3600.0  # seconds between deletions of finished rows past OUTBOX_KEEP_DAYS
FIRST_DELAY, MAX_DELAY = 2.0, 300.0


def node_name(config: dict[str, Any]) -> str:
    """Who claims a row: this node and process (workers of one host must not share a claim)."""
    return f"{config.get('NODE_NAME') or socket.gethostname()}:{os.getpid()}"


def retry_delay(attempts: int) -> float:
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (attempts - 1))


def target(services: Services, call: dict[str, Any]) -> str | None:
    agent = services.agents.get(call["agent"]) or {}
    return agent.get("call_webhook_url") or services.config.get("CALL_WEBHOOK_URL") or None


def body(services: Services, row: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    config = services.config
    if row["event"] != "call.ended":
        return payload.transfer(row["event"], call, row["data"])
    summarize = None
    if config.get("LLM_URL"):
        summarize = llm_summarizer(config["LLM_URL"], config["LLM_MODEL"], config["LLM_API_KEY"], config["LLM_TIMEOUT"])
    return payload.call_ended(services.store, call, config, summarize)


def deliver(services: Services, outbox: Outbox, row_id: int, node: str, now: float | None = None) -> str | None:
    """Try one row (claimed here first); the state it is left in, None when another process had it."""
    row = outbox.claim(row_id, node, now)
    if row is None:
        return None
    url = row["url"]
    sent = row["payload"]
    if sent is None:
        call = services.store.get(row["call_id"])
        url = target(services, call) if call is not None else None
        if call is None or url is None:
            outbox.finish(row_id, node, SKIPPED, "no call webhook URL" if call else "no such call")
            return SKIPPED
        sent = body(services, row, call)
        outbox.prepare(row_id, sent, url)
    secret = services.config.get("WEBHOOK_SIGNING_SECRET", "")
    status, _ = post_signed(url, sent, secret, retries=0, timeout=10.0, msg_id=row["msg_id"])
    if isinstance(status, int) and 200 <= status < 300:
        state = DELIVERED
    elif (isinstance(status, int) and final(status)) or row["attempts"] >= int(
        services.config["CALL_WEBHOOK_ATTEMPTS"]
    ):
        state = FAILED
        log.warning("%s of call %s not delivered after %d attempt(s): %s", row["event"], row["call_id"],
                    row["attempts"], status)  # fmt: skip
    else:
        state = PENDING
    outbox.finish(row_id, node, state, str(status), (now or time.time()) + retry_delay(row["attempts"]))
    return state


def deliver_due(services: Services, node: str, limit: int = 20, now: float | None = None) -> list[str | None]:
    """One pass: every due row tried once. The delivery greenlet runs this; so can a test (``now``: its clock)."""
    outbox = Outbox(services.db)
    return [deliver(services, outbox, row_id, node, now) for row_id in outbox.due(limit, now)]


def forget_finished(services: Services, now: float | None = None) -> int:
    """Delete finished rows older than OUTBOX_KEEP_DAYS (they hold transcripts and phone numbers)."""
    keep = float(services.config["OUTBOX_KEEP_DAYS"]) * 86400
    gone = Outbox(services.db).forget((time.time() if now is None else now) - keep)
    if gone:
        log.info("outbox: %d finished webhook row(s) older than %g days deleted", gone, keep / 86400)
    return gone


def start(app: Flask) -> None:
    """In a serving process: the delivery greenlet, for ever (a failed pass is logged, not fatal)."""
    import gevent

    services: Services = app.extensions["callstream"]
    node = node_name(services.config)

    def forever() -> None:
        forgot_at = 0.0
        while True:
            try:
                with app.app_context():
                    deliver_due(services, node)
                    if time.monotonic() - forgot_at >= FORGET_EVERY:
                        forgot_at = time.monotonic()
                        forget_finished(services)
            except Exception:  # noqa: BLE001 - the next pass may find the database or the receiver back
                log.exception("outbox delivery pass failed")
            gevent.sleep(POLL)

    gevent.spawn(forever)
