"""Storage on both engines: migrations, the repository, refusal at start, and PostgreSQL lost mid-call.

A real PostgreSQL (Debian's package, tests/support/postgres_server.py) in a temporary
folder; the fault test gets a server of its own so it can stop and start it.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.storage.calls import CallStore
from app.storage.db import Database, DatabaseUnreachable
from app.storage.migrate import current, head
from app.storage.tables import metadata
from emulator.service import free_port, service_process
from emulator.wsclient import connect
from tests.conftest import ROOT, base_config, shared_postgres
from tests.support.postgres_server import hold_lock, postgres_server
from tests.support.streaming import HEADERS, act, call_id_of, drain, get_call, stream_url, wait_for

FRAME = b"\x01\x00" * 160

# What app/storage/db.py made at every start before migrations existed (CREATE TABLE IF NOT EXISTS), frozen here.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, platform_id TEXT, direction TEXT NOT NULL, from_number TEXT, to_number TEXT,
    agent TEXT, state TEXT NOT NULL, end_reason TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    answered_at REAL, ended_at REAL, platform_response TEXT, extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS calls_platform_id ON calls(platform_id);
CREATE INDEX IF NOT EXISTS calls_created_at ON calls(created_at);
CREATE INDEX IF NOT EXISTS calls_state ON calls(state);
CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT, dedupe_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    payload TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS call_events_call ON call_events(call_id);
CREATE TABLE IF NOT EXISTS timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS timeline_call ON timeline(call_id, id);
CREATE TABLE IF NOT EXISTS transcript (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, at REAL NOT NULL, speaker TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transcript_call ON transcript(call_id, id);
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server = shared_postgres()
    return server.url(server.create_database())


def schema_differences(db: Database) -> list:
    """What the migrated database lacks or has beyond app/storage/tables.py (types aside on SQLite: affinities)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": not db.is_sqlite})
        found = compare_metadata(context, metadata)
    # An old file's "id INTEGER PRIMARY KEY" reflects as nullable; it is the rowid, never null.
    return [d for d in found if not (isinstance(d, list) and d[0][0] == "modify_nullable" and d[0][3] == "id")]


def test_migrations_make_exactly_the_schema_the_code_uses(database_url: str) -> None:
    db = Database(database_url)
    assert current(db.engine) == head() == "0005"
    assert schema_differences(db) == []
    Database(database_url).close()  # a second start finds nothing to do
    db.close()


def test_the_migrate_command_upgrades_and_checks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cmd.db'}"
    check = [sys.executable, "-m", "app.storage.migrate", "--url", url, "--check"]
    before = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert before.returncode == 1 and f"at no version, newest {head()}" in before.stdout
    done = subprocess.run(check[:-1], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"at {head()}, newest {head()}" in done.stdout, done.stderr


def test_an_old_sqlite_file_is_adopted_and_upgraded_keeping_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_SCHEMA)
    old.execute(
        "INSERT INTO calls (id, direction, state, created_at, updated_at, extra) "
        "VALUES ('old-1', 'inbound', 'ended', 1.5, 2.5, '{\"a\": 1}')"
    )
    old.execute("INSERT INTO transcript (call_id, at, speaker, text) VALUES ('old-1', 2.0, 'caller', 'hello')")
    old.commit()
    old.close()
    db = Database(f"sqlite:///{path}")
    assert current(db.engine) == head()
    assert schema_differences(db) == []  # the index added since (timeline_kind_at) and calls.node are there
    store = CallStore(db)
    call = store.get("old-1")
    assert (call["state"], call["extra"], call["node"]) == ("ended", {"a": 1}, None)
    assert [line["text"] for line in store.transcript("old-1")] == ["hello"]
    store.add_transcript("old-1", "bot", "still here")  # ids go on after the old rows
    assert [line["text"] for line in store.transcript("old-1")] == ["hello", "still here"]


def test_the_store_round_trip(database_url: str) -> None:
    store = CallStore(Database(database_url))
    call = store.create(direction="inbound", from_number="91\x00", to_number="2", timeline=[("note", {"x": 1})])
    assert store.get(call["id"])["from_number"] == "91\ufffd"  # PostgreSQL holds no NUL: the same on both
    assert store.set_state(call["id"], "live", held_by="node-a")
    assert not store.set_state(call["id"], "live")
    store.update(call["id"], extra={"b": 2}, answered_at=1e300)
    store.update(call["id"], extra={"c": 3})
    assert [c["id"] for c in store.left_live("node-a")] == [call["id"]]
    assert store.left_live("node-b") == []
    assert store.set_state(call["id"], "ended", reason="hangup")
    assert not store.set_state(call["id"], "live")  # a final state is never left
    got = store.get(call["id"])
    assert (got["state"], got["end_reason"], got["node"]) == ("ended", "hangup", "node-a")
    assert got["extra"] == {"b": 2, "c": 3}
    assert got["answered_at"] == 1e300 and got["ended_at"] >= got["created_at"]
    assert [e["kind"] for e in store.timeline(call["id"])] == ["state", "note", "state", "state"]
    assert store.add_event(call_id=None, dedupe_key="k1", kind="cdr", payload={"p": 1})
    assert not store.add_event(call_id=None, dedupe_key="k1", kind="cdr", payload={"p": 1})
    store.attach_event("k1", call["id"])
    assert store.event_call_id("k1") == call["id"] and store.events(call["id"])[0]["payload"] == {"p": 1}
    for n in range(3):
        store.add_transcript(call["id"], "caller", f"line {n}")
    assert [t["text"] for t in store.transcript(call["id"])] == ["line 0", "line 1", "line 2"]
    rows, total = store.list(state="ended", direction="inbound", since=0, limit=1)
    assert total == 1 and rows[0]["id"] == call["id"]
    assert len(store.timeline_since("state", 0)) == 3


def test_an_unreachable_postgres_is_refused_naming_it_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://callstream:hunter2secret@127.0.0.1:{free_port()}/calls"
    with pytest.raises(DatabaseUnreachable) as refused:
        Database(url)
    assert "DATABASE_URL postgresql://callstream:***@127.0.0.1" in str(refused.value)
    config = base_config(tmp_path, "http://127.0.0.1:1", DATABASE_URL=url, VOICE_ENABLED=0)
    with pytest.raises(RuntimeError) as exited, service_process(config, startup=20):
        pass
    log = str(exited.value)
    assert "DATABASE_URL postgresql://callstream:***@127.0.0.1" in log and "cannot be reached" in log
    assert "hunter2secret" not in log


def test_losing_postgres_mid_call_keeps_the_call_and_loses_no_line(tmp_path: Path) -> None:
    with postgres_server() as pg:
        config = base_config(
            tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOSK_MODEL_PATH="off", TTS_WORKERS=1,
            DATABASE_URL=pg.url(pg.create_database(), password="s3cret-pw"),
        )  # fmt: skip
        with service_process(config, startup=60) as service:
            url = stream_url(service.url)
            call_id = call_id_of(url)
            ws = connect(url)
            ws.send(FRAME)
            wait_for(lambda: get_call(service.url, call_id)["state"] == "live")
            assert act(service.url, call_id, action="say", text="one").status_code == 200
            pg.stop()  # PostgreSQL goes away mid-call
            said = ["two", "three", "four"]
            for text in said:
                assert act(service.url, call_id, action="say", text=text).status_code == 200  # the call goes on
                ws.send(FRAME)
            heard = drain(ws, 1)
            assert any(isinstance(m, dict) and m.get("type") == "streamAudio" for m in heard)
            health = requests.get(f"{service.url}/healthz", timeout=5).json()
            problem = next(p for p in health["problems"] if p["code"] == "database_unreachable")
            assert problem["detail"]["pending"] >= 3 and "s3cret-pw" not in str(health)
            metrics = requests.get(f"{service.url}/metrics", headers=HEADERS, timeout=5).text
            assert float(re.search(r"^callstream_db_pending_writes (\S+)$", metrics, re.M).group(1)) >= 3
            down = requests.get(f"{service.url}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5)
            assert (down.status_code, down.json()["code"]) == (503, "database_unavailable")
            pg.start()  # back: the waiting lines are stored, in order
            wait_for(lambda: said_lines(service.url, call_id) == ["one", *said], timeout=30)
            assert act(service.url, call_id, action="say", text="five").status_code == 200
            wait_for(lambda: said_lines(service.url, call_id) == ["one", *said, "five"], timeout=10)
            assert get_call(service.url, call_id)["state"] == "live"
            assert "s3cret-pw" not in Path(service.log_path).read_text()


def said_lines(url: str, call_id: str) -> list[str] | None:
    """The stored bot lines this test said (the agent's own greeting and hold lines aside)."""
    response = requests.get(f"{url}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5)
    if response.status_code != 200:
        return None
    words = ("one", "two", "three", "four", "five")
    return [t["text"] for t in response.json()["transcript"] if t["speaker"] == "bot" and t["text"] in words]


def test_on_a_shared_postgres_a_restarted_node_closes_only_its_own_calls(tmp_path: Path) -> None:
    server = shared_postgres()
    url = server.url(server.create_database())
    node_a = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, DATABASE_URL=url)
    node_b = {**node_a, "NODE_NAME": "node-b"}
    node_a["NODE_NAME"] = "node-a"
    store = CallStore(Database(url))
    with service_process(node_b) as b:
        with service_process(node_a) as a:
            calls = {}
            for name, service in (("a", a), ("b", b)):
                stream = stream_url(service.url)
                calls[name] = call_id_of(stream)
                connect(stream).send(FRAME)
            wait_for(lambda: all(store.get(c)["state"] == "live" for c in calls.values()))
            assert {store.get(c)["node"] for c in calls.values()} == {"node-a", "node-b"}
            os.killpg(a.proc.pid, signal.SIGKILL)  # node A dies: nothing closes its call
            a.proc.wait(timeout=10)
        assert store.get(calls["a"])["state"] == "live"
        with service_process(node_a):  # A comes back: it ends the call it left, and only that one
            ended = wait_for(lambda: (c := store.get(calls["a"]))["state"] == "ended" and c)
            assert ended["end_reason"] == "interrupted"
            assert store.get(calls["b"])["state"] == "live"  # B's call goes on
        assert get_call(b.url, calls["b"])["live"]


def test_a_locked_database_never_stalls_the_loop(tmp_path: Path, database_url: str) -> None:
    """Commands whose timeline writes wait 2 s on a lock: the loop lag (streams/loopwatch.py) stays low."""
    Database(database_url).close()  # migrated before the service starts, so the lock has a table
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, DATABASE_URL=database_url)
    with service_process(config) as service:
        url = stream_url(service.url)
        call_id = call_id_of(url)
        ws = connect(url)
        ws.send(FRAME)
        wait_for(lambda: get_call(service.url, call_id)["state"] == "live")
        held = threading.Event()
        locker = threading.Thread(target=hold_lock, args=(database_url, 2.0, held))
        locker.start()
        held.wait(5)
        requests.get(f"{service.url}/api/v1/runtime", params={"reset": "1"}, headers=HEADERS, timeout=5)
        answers: list[tuple[int, float]] = []
        commands = [
            threading.Thread(target=timed_act, args=(service.url, call_id, a, answers)) for a in ("pause", "resume")
        ]
        for thread in commands:
            thread.start()
            time.sleep(0.1)
        time.sleep(0.5)
        during = requests.get(f"{service.url}/api/v1/runtime", headers=HEADERS, timeout=1).json()  # answered at once
        for thread in commands:
            thread.join(10)
        locker.join(10)
        lag = requests.get(f"{service.url}/api/v1/runtime", headers=HEADERS, timeout=5).json()["loop_lag"]
        print(f"{database_url.split(':')[0]}: commands answered in {[round(t, 2) for _, t in answers]} s "
              f"during a 2 s lock; loop lag {lag}")  # fmt: skip
        assert [status for status, _ in answers] == [200, 200] and during["sessions"] == 1
        assert max(seconds for _, seconds in answers) < 1.0  # a command waits for its write 0.25 s at most
        assert lag["n"] >= 20 and lag["max_ms"] < 500, lag  # blocked, the loop would lag ~2,000 ms
        control = lambda: [e for e in get_call(service.url, call_id)["timeline"] if e["kind"] == "control"]  # noqa: E731
        assert [e["detail"]["action"] for e in wait_for(lambda: len(control()) == 2 and control())] == [
            "pause",
            "resume",
        ]  # stored once the lock is gone, in order
        ws.close()


def timed_act(url: str, call_id: str, action: str, out: list[tuple[int, float]]) -> None:
    started = time.monotonic()
    status = act(url, call_id, action=action).status_code
    out.append((status, time.monotonic() - started))
