"""The post-call webhook (#23.2): call.ended and transfer.* from the database's outbox, signed, retried,
shown on the call; the recording behind a signed, expiring URL.

The receiver is a real HTTP server on 127.0.0.1 checking every request with the
`standardwebhooks` library. Delivery passes are run by hand with a clock of the
test's (the serving process runs the same pass in its greenlet every second).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.outbox.delivery import deliver_due
from app.storage.journal import Journal
from app.storage.outbox import Outbox
from streams.audio import tone, wav_bytes
from streams.events import HandoffStarted, Note
from streams.session.signed_post import new_secret
from tests.conftest import API_KEY
from tests.support.webhook_receiver import receiver

SECRET = new_secret()
AUTH = {"Authorization": f"Bearer {API_KEY}"}
LATER = 3600.0  # a clock past every delay and backoff


def ended_call(app, tmp_path: Path, agent: str = "demo-en") -> str:
    """A stored call that talked, was recorded, and ended (as the journal stores one)."""
    store = app.extensions["callstream"].store
    call = store.create(direction="inbound", from_number="919812345678", to_number="919000000000", agent=agent)
    store.set_state(call["id"], "live")
    store.update(call["id"], answered_at=time.time(), extra={"answered_by": "human"})
    store.add_transcript(call["id"], "bot", "Hello, how can I help?")
    store.add_transcript(call["id"], "caller", "I want my balance")
    store.add_timeline(call["id"], "turn", {"n": 1, "text": "i want my balance", "intent": "balance"})
    store.add_timeline(call["id"], "reply", {"n": 1, "latency_ms": 420})
    wav = tmp_path / "rec.wav"
    wav.write_bytes(wav_bytes(tone(8000, 200), 8000))
    store.update(call["id"], extra={"recording": str(wav)})
    store.set_state(call["id"], "ended", reason="caller_hangup")
    return call["id"]


def test_call_ended_is_signed_complete_and_links_a_recording_that_expires(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [204]) as (url, got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        call_id = ended_call(app, tmp_path)
        assert deliver_due(services, "n1") == []  # call.ended waits a moment for the stream's last events
        assert deliver_due(services, "n1", now=time.time() + LATER) == ["delivered"]
        assert deliver_due(services, "n1", now=time.time() + 2 * LATER) == []  # once
    assert len(got) == 1 and got[0]["verified"]
    event = got[0]["payload"]
    assert event["type"] == "call.ended" and event["timestamp"].endswith("Z")
    data = event["data"]
    assert data["call_id"] == call_id and data["direction"] == "inbound" and data["agent"] == "demo-en"
    assert (data["from"], data["to"]) == ("919812345678", "919000000000")
    assert (data["outcome"], data["end_reason"], data["answered_by"]) == ("ended", "caller_hangup", "human")
    assert data["durations"]["total_seconds"] >= 0 and data["durations"]["answered_seconds"] is not None
    assert data["turns"] == [{"n": 1, "latency_ms": 420, "text": "i want my balance", "intent": "balance"}]
    assert [line["text"] for line in data["transcript"]] == ["Hello, how can I help?", "I want my balance"]
    assert data["summary_by"] == "transcript" and "balance" in data["summary"]
    assert data["handoff"] is None and data["brief"] is None

    client = app.test_client()
    link = urlsplit(data["recording_url"])
    assert data["recording_url"].startswith("https://callstream.example.test/recordings/")
    fetched = client.get(f"{link.path}?{link.query}")  # no API key: the signature is the credential
    assert fetched.status_code == 200 and fetched.data[:4] == b"RIFF"
    assert client.get(link.path).status_code == 403
    assert client.get(f"{link.path}?{link.query.replace('sig=', 'sig=x')}").status_code == 403
    other = client.get(f"/recordings/{'0' * 32}.wav?{link.query}")
    assert other.status_code == 403  # a signature opens its own call's recording only
    expired = client.get(f"{link.path}?exp=1&sig=whatever")
    assert expired.status_code == 403

    shown = client.get(f"/api/v1/calls/{call_id}", headers=AUTH).get_json()
    assert [(w["event"], w["state"], w["attempts"]) for w in shown["webhooks"]] == [("call.ended", "delivered", 1)]


def test_a_failing_receiver_is_retried_with_the_same_id_and_body_then_delivered(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [503, 429, 204]) as (url, got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        call_id = ended_call(app, tmp_path)
        start = time.time() + 10
        assert deliver_due(services, "n1", now=start) == ["pending"]
        assert deliver_due(services, "n1", now=start + 1) == []  # backing off (2 s)
        assert deliver_due(services, "n1", now=start + 2.5) == ["pending"]
        assert deliver_due(services, "n1", now=start + 7) == ["delivered"]
    assert len(got) == 3 and all(r["verified"] for r in got)
    assert len({r["headers"]["webhook-id"] for r in got}) == 1 and len({r["body"] for r in got}) == 1
    row = Outbox(services.db).for_call(call_id)[0]
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 3, "204")


def test_failed_webhooks_can_be_sent_again_once_the_receiver_is_fixed(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [410, 204]) as (url, got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services, client = app.extensions["callstream"], app.test_client()
        call_id = ended_call(app, tmp_path)
        redeliver = f"/api/v1/calls/{call_id}/webhooks/redeliver"
        assert client.post(redeliver, headers=AUTH).status_code == 409  # nothing failed yet: said so
        assert deliver_due(services, "n1", now=time.time() + 10) == ["failed"]
        again = client.post(redeliver, headers=AUTH)
        assert again.status_code == 202 and again.get_json()["redelivered"] == 1
        assert [(w["state"], w["attempts"]) for w in again.get_json()["webhooks"]] == [("pending", 0)]
        assert deliver_due(services, "n1", now=time.time() + 20) == ["delivered"]
        assert client.post(redeliver, headers=AUTH).status_code == 409  # delivered: nothing to send again
        assert client.post(f"/api/v1/calls/{'0' * 32}/webhooks/redeliver", headers=AUTH).status_code == 404
        assert client.post(redeliver).status_code == 401
    assert len(got) == 2 and got[0]["headers"]["webhook-id"] == got[1]["headers"]["webhook-id"]
    assert got[0]["body"] == got[1]["body"] and got[1]["verified"]


def test_finished_rows_are_forgotten_after_outbox_keep_days_and_pending_ones_never(make_app, tmp_path: Path) -> None:
    from app.outbox.delivery import forget_finished

    with receiver(SECRET, [204]) as (url, _got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET, OUTBOX_KEEP_DAYS=2)
        services = app.extensions["callstream"]
        sent, waiting = ended_call(app, tmp_path), ended_call(app, tmp_path)
        outbox = Outbox(services.db)
        assert outbox.redeliver(waiting) == 0
        assert deliver_due(services, "n1", now=time.time() + 10, limit=1) == ["delivered"]
        assert forget_finished(services, now=time.time() + 86400) == 0  # a day on: kept
        assert [r["state"] for r in outbox.for_call(sent) + outbox.for_call(waiting)] == ["delivered", "pending"]
        assert forget_finished(services, now=time.time() + 3 * 86400) == 1  # past two days: the delivered one
        assert outbox.for_call(sent) == [] and [r["state"] for r in outbox.for_call(waiting)] == ["pending"]


def test_a_client_error_is_final_and_attempts_are_bounded(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [410]) as (url, _got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        call_id = ended_call(app, tmp_path)
        assert deliver_due(services, "n1", now=time.time() + 10) == ["failed"]
    with receiver(SECRET, [500]) as (url, got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET, CALL_WEBHOOK_ATTEMPTS=3)
        services = app.extensions["callstream"]
        other = ended_call(app, tmp_path)
        states = [deliver_due(services, "n1", now=time.time() + 1000 * (i + 1)) for i in range(5)]
    assert states == [["pending"], ["pending"], ["failed"], [], []] and len(got) == 3
    assert Outbox(services.db).for_call(call_id)[0]["last_status"] == "410"
    assert Outbox(services.db).for_call(other)[0]["state"] == "failed"


def test_without_a_url_nothing_is_written_and_an_agent_url_overrides_the_global_one(make_app, tmp_path: Path) -> None:
    app = make_app()
    services = app.extensions["callstream"]
    call_id = ended_call(app, tmp_path)
    assert Outbox(services.db).for_call(call_id) == [] and deliver_due(services, "n1", now=time.time() + LATER) == []
    with receiver(SECRET, [200]) as (url, got):
        app = make_app(WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        services.agents.agents["demo-ko"] = {**services.agents.agents["demo-ko"], "call_webhook_url": url}
        ended_call(app, tmp_path, agent="demo-en")  # an agent without one, and no CALL_WEBHOOK_URL
        assert deliver_due(services, "n1", now=time.time() + LATER) == ["skipped"]
        app = make_app(CALL_WEBHOOK_URL="http://127.0.0.1:9/never", WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        services.agents.agents["demo-en"] = {**services.agents.agents["demo-en"], "call_webhook_url": url}
        ended_call(app, tmp_path)
        assert deliver_due(services, "n1", now=time.time() + LATER) == ["delivered"]
    assert len(got) == 1 and got[0]["verified"]


def test_transfers_are_announced_started_then_answered(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [200]) as (url, got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        store = services.store
        call = store.create(direction="inbound", from_number="919812345678", to_number="919000000000", agent="demo-en")
        journal = Journal(store)
        journal.store_event(HandoffStarted(call_id=call["id"], numbers=["919811111111"], why="asked"))
        journal.store_event(Note(call_id=call["id"], what="handoff.answered", info={"by": "platform"}))
        assert deliver_due(services, "n1") == ["delivered", "delivered"]
    events = [r["payload"]["type"] for r in got]
    assert events == ["transfer.started", "transfer.answered"] and all(r["verified"] for r in got)
    assert got[0]["payload"]["data"]["handoff"]["numbers"] == ["919811111111"]
    assert got[1]["payload"]["data"]["handoff"]["state"] == "bridged"


@pytest.mark.parametrize("event", ["call.ended"])
def test_two_processes_never_both_claim_a_row(make_app, tmp_path: Path, event: str) -> None:
    """Two workers (two engines on one database) race for each row: exactly one claims it."""
    from app.storage.db import Database

    app = make_app()
    first = Outbox(app.extensions["callstream"].db)
    second = Outbox(Database(app.config["DATABASE_URL"]))
    for n in range(5):
        first.add(f"call{n}", event)
    claims = [(first.claim(i, "a"), second.claim(i, "b")) for i in first.due(now=time.time() + 1)]
    assert len(claims) == 5 and all((a is None) != (b is None) for a, b in claims)
    assert first.due(now=time.time() + 1) == []
    assert len(first.due(now=time.time() + 120)) == 5  # a claim older than the lease: its sender died


def test_the_call_page_shows_the_delivery(make_app, tmp_path: Path) -> None:
    from tests.app.test_dashboard import PASSWORD, sign_in

    with receiver(SECRET, [503]) as (url, _got):
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET, DASHBOARD_USER="ops",
                       DASHBOARD_PASSWORD=PASSWORD)  # fmt: skip
        call_id = ended_call(app, tmp_path)
        deliver_due(app.extensions["callstream"], "n1", now=time.time() + 10)
    client = app.test_client()
    sign_in(client)
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    assert 'id="webhooks"' in page and "call.ended pending (503)" in page


def test_the_summary_is_the_llms_when_one_is_configured(make_app, tmp_path: Path) -> None:
    """An OpenAI-compatible server on 127.0.0.1 at the edge answers the summary."""
    import json
    from http.server import BaseHTTPRequestHandler

    from tests.support.processes import http_server

    asked: list[dict] = []

    class Llm(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            asked.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"choices": [{"message": {"content": "The caller asked for their balance."}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Llm) as llm, receiver(SECRET, [200]) as (url, got):
        llm_url = f"http://127.0.0.1:{llm.server_address[1]}/v1/chat/completions"
        app = make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET, LLM_URL=llm_url)
        ended_call(app, tmp_path)
        assert deliver_due(app.extensions["callstream"], "n1", now=time.time() + LATER) == ["delivered"]
    data = got[0]["payload"]["data"]
    assert (data["summary"], data["summary_by"]) == ("The caller asked for their balance.", "llm")
    assert "I want my balance" in asked[0]["messages"][1]["content"]


def test_two_workers_delivering_at_once_send_each_event_once(make_app, tmp_path: Path) -> None:
    """Two apps (two engines) on one database run their delivery passes at the same time, in threads."""
    import threading

    with receiver(SECRET, [200]) as (url, got):
        apps = [make_app(CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET) for _ in range(2)]
        ids = [ended_call(apps[n % 2], tmp_path) for n in range(8)]
        later = time.time() + LATER
        passes = [
            threading.Thread(target=deliver_due, args=(app.extensions["callstream"], f"w{n}"), kwargs={"now": later})
            for n, app in enumerate(apps)
        ]
        for thread in passes:
            thread.start()
        for thread in passes:
            thread.join(timeout=60)
    assert sorted(r["payload"]["data"]["call_id"] for r in got) == sorted(ids)  # each once, none twice
