"""The outbox on PostgreSQL (#23.2), whatever CALLSTREAM_TEST_DATABASE says: a signed delivery with a retry,
and two engines racing for every row (a real server, tests/support/postgres_server.py)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from app.outbox.delivery import deliver_due
from app.storage.db import Database
from app.storage.outbox import Outbox
from tests.app.test_call_webhook import SECRET, ended_call
from tests.conftest import shared_postgres
from tests.support.webhook_receiver import receiver


def postgres_url(tmp_path: Path) -> str:
    server = shared_postgres()
    return server.url(server.create_database(f"o_{hashlib.sha1(str(tmp_path).encode()).hexdigest()[:16]}"))


def test_delivery_and_the_claim_race_on_postgresql(make_app, tmp_path: Path) -> None:
    with receiver(SECRET, [503, 204]) as (url, got):
        app = make_app(DATABASE_URL=postgres_url(tmp_path), CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET)
        services = app.extensions["callstream"]
        assert services.db.dialect == "postgresql"
        call_id = ended_call(app, tmp_path)
        start = time.time() + 10
        assert deliver_due(services, "n1", now=start) == ["pending"]
        assert deliver_due(services, "n1", now=start + 3) == ["delivered"]
    assert len(got) == 2 and all(r["verified"] for r in got) and got[1]["payload"]["data"]["call_id"] == call_id
    first, second = Outbox(services.db), Outbox(Database(app.config["DATABASE_URL"]))
    for n in range(5):
        first.add(f"call{n}", "transfer.started")
    claims = [(first.claim(i, "a"), second.claim(i, "b")) for i in first.due(now=time.time() + 1)]
    assert len(claims) == 5 and all((a is None) != (b is None) for a, b in claims)
