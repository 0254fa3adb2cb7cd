"""Dashboard sign-in hardening: the same cost for unknown and known users, limits per address and
per user name, and password hashing that leaves the event loop (and so live calls' audio) alone."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.config import ConfigError, load_config, parse_rate
from app.dashboard.login_guard import SlidingWindow
from emulator.service import running_service
from tests.app.test_dashboard import csrf_of
from tests.conftest import ROOT, base_config
from tests.support.streaming import HEADERS

PASSWORD = "operator-password"


@pytest.fixture
def guarded(make_app):  # type: ignore[no-untyped-def]
    def factory(**overrides: str) -> Flask:
        return make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, **overrides)

    return factory


def attempt(client: FlaskClient, username: str, password: str, address: str, **headers: str) -> TestResponse:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def test_an_unknown_user_costs_as_much_as_a_wrong_password(guarded) -> None:  # type: ignore[no-untyped-def]
    client = guarded(LOGIN_LIMIT_PER_ADDRESS="off", LOGIN_LIMIT_PER_ACCOUNT="off").test_client()

    def seconds(username: str) -> float:
        started = time.perf_counter()
        assert attempt(client, username, "wrong", "192.0.2.1").status_code == 401
        return time.perf_counter() - started

    seconds("ops")  # warm up
    unknown = statistics.median(seconds("nobody") for _ in range(5))
    known = statistics.median(seconds("ops") for _ in range(5))
    assert 0.5 < unknown / known < 2, f"unknown user {unknown * 1000:.0f} ms, known user {known * 1000:.0f} ms"
    assert min(unknown, known) > 0.01  # both really hashed (scrypt takes tens of ms)


def test_too_many_failures_from_one_address_answer_429(guarded) -> None:  # type: ignore[no-untyped-def]
    client = guarded(LOGIN_LIMIT_PER_ADDRESS="3/minute", LOGIN_LIMIT_PER_ACCOUNT="off").test_client()
    for n in range(3):
        assert attempt(client, f"guess{n}", "wrong", "198.51.100.7").status_code == 401
    refused = attempt(client, "ops", PASSWORD, "198.51.100.7")  # even the right password: the address waits
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert b"Too many sign-in attempts" in refused.data and b'name="csrf_token"' in refused.data
    assert attempt(client, "ops", PASSWORD, "198.51.100.8").status_code == 302  # another address is unaffected


def test_too_many_failures_for_one_user_name_lock_that_name_from_that_client_only(guarded) -> None:  # type: ignore[no-untyped-def]
    """#25.7: a guesser locks out itself, not the operator signing in from elsewhere."""
    client = guarded(LOGIN_LIMIT_PER_ADDRESS="off", LOGIN_LIMIT_PER_ACCOUNT="2/minute").test_client()
    assert attempt(client, "ops", "wrong", "203.0.113.1").status_code == 401
    assert attempt(client, "OPS", "wrong", "203.0.113.1").status_code == 401
    assert attempt(client, "ops", PASSWORD, "203.0.113.1").status_code == 429  # that client, that name: locked
    assert attempt(client, "ops", PASSWORD, "203.0.113.2").status_code == 302  # the operator, elsewhere: in
    assert attempt(client, "someone", "wrong", "203.0.113.1").status_code == 401  # other names are not locked
    # Unknown names are limited the same way: the limit does not tell which names exist.
    assert attempt(client, "someone", "wrong", "203.0.113.1").status_code == 401
    assert attempt(client, "someone", "wrong", "203.0.113.1").status_code == 429


def test_a_lock_out_is_shown_and_an_operator_can_lift_it(guarded) -> None:  # type: ignore[no-untyped-def]
    app = guarded(LOGIN_LIMIT_PER_ADDRESS="3/minute", LOGIN_LIMIT_PER_ACCOUNT="2/minute")
    guesser = app.test_client()
    for _ in range(2):
        attempt(guesser, "ops", "wrong", "198.51.100.66")
    for name in ("a", "b"):
        attempt(guesser, name, "wrong", "198.51.100.67")
    attempt(guesser, "c", "wrong", "198.51.100.67")  # the address's third failure: the whole address waits
    page = guesser.get("/login", environ_base={"REMOTE_ADDR": "198.51.100.67"}).get_data(as_text=True)
    assert "sign-in opens again in" in page  # the locked client is told until when, before it tries
    operator = app.test_client()
    assert attempt(operator, "ops", PASSWORD, "192.0.2.50").status_code == 302
    calls = operator.get("/dashboard/calls").get_data(as_text=True)
    assert "<code>ops</code> from\n        <code>198.51.100.66</code>" in calls
    assert "for every name from\n        <code>198.51.100.67</code>" in calls
    token = csrf_of(calls)
    unlocked = operator.post(
        "/dashboard/lockouts/unlock", data={"csrf_token": token, "kind": "account", "key": "198.51.100.66 ops"}
    )
    assert unlocked.status_code == 302
    assert "198.51.100.66" not in operator.get("/dashboard/calls").get_data(as_text=True)
    assert attempt(guesser, "ops", PASSWORD, "198.51.100.66").status_code == 302  # lifted
    forged = app.test_client().post("/dashboard/lockouts/unlock", data={"kind": "address", "key": "198.51.100.67"})
    assert forged.status_code == 302 and attempt(guesser, "ops", PASSWORD, "198.51.100.67").status_code == 429


def test_successful_sign_ins_do_not_count(guarded) -> None:  # type: ignore[no-untyped-def]
    client = guarded(LOGIN_LIMIT_PER_ADDRESS="2/minute", LOGIN_LIMIT_PER_ACCOUNT="2/minute").test_client()
    for _ in range(4):
        assert attempt(client, "ops", PASSWORD, "192.0.2.9").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_limited(guarded) -> None:  # type: ignore[no-untyped-def]
    client = guarded(
        LOGIN_LIMIT_PER_ADDRESS="1/minute", LOGIN_LIMIT_PER_ACCOUNT="off", TRUSTED_PROXY_HOPS=1
    ).test_client()
    router = "10.0.0.1"
    assert attempt(client, "a", "x", router, **{"X-Forwarded-For": "6.6.6.6, 198.51.100.20"}).status_code == 401
    # The client cannot escape by forging the left part of the header: the router's entry counts.
    assert attempt(client, "b", "x", router, **{"X-Forwarded-For": "7.7.7.7, 198.51.100.20"}).status_code == 429
    assert attempt(client, "c", "x", router, **{"X-Forwarded-For": "198.51.100.21"}).status_code == 401


def test_limits_are_read_from_the_environment() -> None:
    config = load_config({})
    assert (config["LOGIN_LIMIT_PER_ADDRESS"], config["LOGIN_LIMIT_PER_ACCOUNT"]) == ("10/minute", "5/minute")
    assert parse_rate("20/hour") == (20, 3600.0) and parse_rate("off") is None
    with pytest.raises(ConfigError, match="LOGIN_LIMIT_PER_ACCOUNT"):
        load_config({"LOGIN_LIMIT_PER_ACCOUNT": "lots"})
    env_example = (ROOT / ".env.example").read_text()
    assert all(
        name in env_example for name in ("LOGIN_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_ACCOUNT", "TRUSTED_PROXY_HOPS")
    )


def test_the_window_slides_and_forgets_stale_keys() -> None:
    window = SlidingWindow(2, 60, max_keys=3)
    assert window.acquire("a", now=0) is None and window.acquire("a", now=10) is None
    assert window.acquire("a", now=20) == 40  # the first hit leaves the window at 60
    assert window.acquire("a", now=60.5) is None
    for n, key in enumerate("bcde"):
        window.acquire(key, now=61 + n)
    assert len(window._hits) == 3 and "a" not in window._hits  # a flood of names is bounded
    assert window.waiting("e", now=70) is None and window.acquire("e", now=70) is None
    assert window.waiting("e", now=71) == 53 and window.locked(now=71) == [("e", 53)]  # its hits: 64, 70
    window.clear("e")
    assert window.waiting("e", now=71) is None and window.locked(now=71) == []


@pytest.mark.service
def test_concurrent_wrong_sign_ins_leave_the_event_loop_alone(tmp_path: Path) -> None:
    """20 wrong passwords at once against the real gunicorn gevent server: the loop stays punctual."""
    config = base_config(
        tmp_path,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",  # http: the session cookie (and so the CSRF token) works over plain HTTP
        DASHBOARD_USER="ops",
        DASHBOARD_PASSWORD=PASSWORD,
        VOICE_ENABLED=0,
        LOGIN_LIMIT_PER_ADDRESS="off",  # every attempt must reach the hash
        LOGIN_LIMIT_PER_ACCOUNT="off",
    )
    with running_service(config) as url:
        sessions = []
        for _ in range(20):
            session = requests.Session()
            sessions.append((session, csrf_of(session.get(f"{url}/login", timeout=5).text)))
        time.sleep(0.5)
        requests.get(f"{url}/api/v1/runtime?reset=1", headers=HEADERS, timeout=5)
        statuses: list[tuple[int, bool]] = []
        start = threading.Barrier(len(sessions))

        def wrong(session: requests.Session, token: str) -> None:
            start.wait()
            data = {"username": "ops", "password": "wrong", "csrf_token": token}
            answer = session.post(f"{url}/login", data=data, timeout=30, allow_redirects=False)
            statuses.append((answer.status_code, "Wrong user name or password" in answer.text))

        threads = [threading.Thread(target=wrong, args=pair) for pair in sessions]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
        time.sleep(0.3)
        lag = requests.get(f"{url}/api/v1/runtime", headers=HEADERS, timeout=5).json()["loop_lag"]
    assert statuses == [(401, True)] * 20  # each one was checked against the hash
    print(f"20 wrong sign-ins took {took:.2f} s; loop lag {lag}")
    assert lag["n"] >= 10, lag
    assert lag["p95_ms"] < 200 and lag["max_ms"] < 200, lag


def test_password_hashes_run_below_the_event_loops_priority() -> None:
    import os

    from app.dashboard.login_guard import HASH_NICE, _niced

    def own_priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.extend([_niced(own_priority, ()), _niced(own_priority, ())]))
    thread.start()
    thread.join(timeout=5)
    assert seen == [HASH_NICE, HASH_NICE]  # the pool thread itself, set once and kept
    assert own_priority() < HASH_NICE  # the caller's thread (the loop's) is left alone
