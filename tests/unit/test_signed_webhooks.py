"""Outgoing webhooks signed as Standard Webhooks do, retried with backoff (#22.6).

The receiver is a real HTTP server on 127.0.0.1 that checks each request with the
`standardwebhooks` library (Standard Webhooks' own reference code, not ours).
"""

from __future__ import annotations

import gevent
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.config import ConfigError, load_config
from streams.events import Note, TranscriptLine
from streams.session.signed_post import SecretError, new_secret, post_signed, secret_key, signed_headers
from tests.support.memory_call import HUMAN
from tests.support.webhook_receiver import receiver

SECRET = new_secret()


def test_a_signed_post_verifies_with_the_standard_library_and_retries_with_the_same_id() -> None:
    waits: list[float] = []
    with receiver(SECRET, [503, 500, 200]) as (url, got):
        status, attempts = post_signed(url, {"call_id": "c1", "summary": "짧은 요약"}, SECRET, sleep=waits.append)
    assert (status, attempts) == (200, 3) and waits == [0.5, 1.0]  # backoff doubles
    assert all(r["verified"] for r in got) and got[0]["payload"] == {"call_id": "c1", "summary": "짧은 요약"}
    assert len({r["headers"]["webhook-id"] for r in got}) == 1  # one message: a receiver drops repeats


def test_retries_are_bounded_and_a_client_error_is_final() -> None:
    with receiver(SECRET, [503]) as (url, got):
        assert post_signed(url, {"n": 1}, SECRET, retries=2, sleep=lambda s: None) == (503, 3)
    with receiver(SECRET, [400]) as (url, got):
        assert post_signed(url, {"n": 1}, SECRET, retries=5, sleep=lambda s: None) == (400, 1)
    assert post_signed("http://127.0.0.1:9/x", {}, SECRET, retries=1, timeout=1, sleep=lambda s: None) == (
        "ConnectionError",
        2,
    )


def test_a_wrong_secret_or_a_changed_body_does_not_verify() -> None:
    body = b'{"call_id":"c1"}'
    headers = signed_headers(SECRET, "msg_1", body)
    Webhook(SECRET).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"call_id":"c2"}', headers)
    for bad in ("not-whsec", "whsec_!!!", "whsec_c2hvcnQ="):
        with pytest.raises(SecretError):
            secret_key(bad)


def test_the_secret_setting_is_checked_and_handoff_secret_is_its_other_name() -> None:
    assert load_config({"HANDOFF_SECRET": SECRET})["WEBHOOK_SIGNING_SECRET"] == SECRET
    assert load_config({})["WEBHOOK_SIGNING_SECRET"] == "" and load_config({})["WEBHOOK_RETRIES"] == 3
    with pytest.raises(ConfigError, match="WEBHOOK_SIGNING_SECRET"):
        load_config({"WEBHOOK_SIGNING_SECRET": "hunter2"})


def test_the_warm_transfer_brief_arrives_signed_after_a_failed_attempt(harness) -> None:
    with receiver(SECRET, [502, 204]) as (url, got):
        h = harness(agent={"human": {**HUMAN, "handoff_url": url}}, webhook_secret=SECRET).live()
        h.call.publish(TranscriptLine(call_id="c1", speaker="caller", text="my card was charged twice"))
        h.call.handle("transfer", {}, "intent")
        for _ in range(200):  # the first retry waits 0.5 s, in the brief's own greenlet
            if any(e.what == "handoff.posted" for e in h.of(Note)):
                break
            gevent.sleep(0.02)
    assert [e.info for e in h.of(Note) if e.what == "handoff.posted"] == [
        {"status": 204, "attempts": 2, "signed": True}
    ]
    assert [r["verified"] for r in got] == [True, True]
    assert got[1]["payload"]["call_id"] == "c1" and "charged twice" in got[1]["payload"]["summary"]
