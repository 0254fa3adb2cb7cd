"""Outgoing webhooks as Standard Webhooks sends them: signed, timestamped, retried with backoff.

Every POST carries ``webhook-id`` (the same on each retry, so a receiver can
drop a repeat), ``webhook-timestamp`` (seconds, this attempt's) and
``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body"))
where the key is the base64 part of the ``whsec_…`` secret
(``WEBHOOK_SIGNING_SECRET``). Any Standard Webhooks library verifies it;
docs/webhooks-outgoing.md has a snippet. Connection errors, timeouts, 429 and
5xx are retried, ``retries`` times at most, waiting ``backoff`` doubled each
time (at most 8 s); other answers are final. Run it in a greenlet of its own:
it blocks while it waits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import gevent
import requests

PREFIX = "whsec_"
MAX_DELAY = 8.0


class SecretError(ValueError):
    """A signing secret that is not ``whsec_`` and base64."""


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret; SecretError when it is not one."""
    if not secret.startswith(PREFIX):
        raise SecretError("a webhook signing secret starts with whsec_ (whsec_ + base64 of 24-64 random bytes)")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except ValueError:
        raise SecretError("the part after whsec_ must be base64") from None
    if len(key) < 16:
        raise SecretError("a webhook signing secret needs at least 16 random bytes")
    return key


def new_secret() -> str:
    """A fresh ``whsec_`` secret (32 random bytes)."""
    import secrets

    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers of one attempt (unsigned, id and timestamp only, when ``secret`` is empty)."""
    timestamp = int(time.time() if now is None else now)
    headers = {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = signature(secret_key(secret), msg_id, timestamp, body)
    return headers


def final(status: int) -> bool:
    """An answer not worth retrying (anything but 429 and 5xx)."""
    return status != 429 and status < 500


def post_signed(
    url: str,
    payload: Mapping[str, Any],
    secret: str,
    *,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 5.0,
    sleep: Callable[[float], Any] = gevent.sleep,
    msg_id: str | None = None,
) -> tuple[int | str, int]:
    """POST ``payload`` to ``url``; return (the last status, or the error's name; the attempts made).

    ``msg_id``: the ``webhook-id`` of a message sent before (the outbox retries across attempts of its own).
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    outcome: int | str = "not sent"
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(MAX_DELAY, backoff * 2 ** (attempt - 1)))
        try:
            response = requests.post(url, data=body, headers=signed_headers(secret, msg_id, body), timeout=timeout)
        except requests.RequestException as exc:
            outcome = type(exc).__name__
            continue
        outcome = response.status_code
        if final(outcome):
            break
    return outcome, attempt + 1
