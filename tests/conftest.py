from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.support.platform_double import PlatformDouble, running_platform
from tests.support.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-api-key"
WEBHOOK_TOKEN = "test-webhook-token"
SECRET_KEY = "test-secret-key"
PUBLIC_URL = "https://callstream.example.test"
# CALLSTREAM_TEST_DATABASE=postgresql (make test-postgres): every test's database is a fresh PostgreSQL one.
TEST_DATABASE = os.environ.get("CALLSTREAM_TEST_DATABASE", "sqlite")
_POSTGRES: list[PostgresServer] = []  # one server for the session, started on first use
_DATABASES: dict[str, str] = {}


def shared_postgres() -> PostgresServer:
    """The session's PostgreSQL server (started on first use, stopped when the session ends)."""
    if not _POSTGRES:
        server = PostgresServer()
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        _POSTGRES.append(server)
    return _POSTGRES[0]


def database_url(tmp_path: Path) -> str:
    """The test's database: a SQLite file in ``tmp_path``, or (switch on) a PostgreSQL database of its own.

    The same ``tmp_path`` always gets the same database, so two services of one test share it.
    """
    if TEST_DATABASE != "postgresql":
        return f"sqlite:///{tmp_path / 'test.db'}"
    key = str(tmp_path)
    if key not in _DATABASES:
        server = shared_postgres()
        _DATABASES[key] = server.url(server.create_database(f"t_{hashlib.sha1(key.encode()).hexdigest()[:16]}"))
    return _DATABASES[key]


def pytest_sessionfinish(session: Any) -> None:
    while _POSTGRES:
        _POSTGRES.pop().close()


def base_config(tmp_path: Path, platform_url: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "CALLSTREAM_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_KEY": API_KEY,
        "PUBLIC_URL": PUBLIC_URL,
        "DATABASE_URL": database_url(tmp_path),
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "PIOPIY_API_VERSION": "v2",
        "PIOPIY_API_URL": platform_url,
        "PIOPIY_APP_ID": "4444444",
        "PIOPIY_APP_SECRET": "app-secret-never-logged",
        "PIOPIY_TOKEN": "v3-token-never-logged",
        "PIOPIY_NUMBER": "919000000000",
        "PIOPIY_TIMEOUT": 2.0,
        "PIOPIY_RETRIES": 2,
        "PIOPIY_BACKOFF": 0.01,
        "AGENTS_DIR": str(ROOT / "agents"),
        "DEFAULT_AGENT": "demo-en",
        "API_RATE_LIMIT": "off",  # the API fuzzing sends thousands; tests of the limit set it (test_shared_limits)
        # Admission by measured load off (the load never passes 1): on a shared CI box a busy answer would be
        # noise in tests of something else; tests of admission set it (tests/*/test_admission.py, #21.1).
        "ADMIT_HIGH": 2.0,
        # Likewise shedding (streams/shedding.py): a feed line a test waits for is never given up to a lag spike.
        "SHED_MARKS_MS": "off,off,off,off",
        # And read batching (streams/loopwatch.py): a busy CI box would add up to 40 ms to the turn ends and
        # barge-ins that timing tests measure; tests/service/test_read_batching.py turns it on.
        "STREAM_READ_BATCH_MS": 0,
        # And the warm free-speech reserve (streams/speech/reserve.py): one recogniser, made by the warm-up, not
        # thirty per service decoding in the background of every test; tests/service/test_warmup.py sets it.
        "STT_WARM_FREE": 1,
        "STT_WARM_SPARE": 0,
    }
    config.update(overrides)
    return config


@pytest.fixture
def platform() -> Iterator[PlatformDouble]:
    with running_platform() as double:
        yield double


@pytest.fixture
def make_app(tmp_path: Path, platform: PlatformDouble):
    def factory(**overrides: Any) -> Flask:
        return create_app(base_config(tmp_path, platform.url, **overrides))

    return factory


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def harness():
    """Make calls on an in-memory socket and clock (tests/support/memory_call.py); all closed at the end."""
    from tests.support.memory_call import MemoryCall

    made: list[MemoryCall] = []

    def make(agent: dict[str, Any] | None = None, **settings: Any) -> MemoryCall:
        made.append(MemoryCall(agent, **settings))  # settings: CallSettings fields, and call_id
        return made[-1]

    yield make
    for call in made:
        call.close()


def api_headers(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hook_url(path: str, token: str = WEBHOOK_TOKEN) -> str:
    return f"/webhooks/piopiy/{path}?token={token}"


TIER_MARKS = {"service": "service", "fuzz": "fuzz"}  # folder -> marker


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Mark each test by its tier folder, so ``-m "not service"`` and ``-m fuzz`` select by tier."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIER_MARKS:
            item.add_marker(getattr(pytest.mark, TIER_MARKS[parts[0]]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many requests the API fuzzing sent (its target is 5,000), visible without -s."""
    import sys

    fuzz = sys.modules.get("tests.fuzz.test_fuzz_api")
    if fuzz is not None and fuzz.SENT:
        terminalreporter.write_line(
            f"schemathesis: {sum(fuzz.SENT.values())} generated requests over {len(fuzz.SENT)} operations, "
            f"{len(fuzz.FAILURES)} failures"
        )
