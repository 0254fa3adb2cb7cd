"""Sign-in and API limits shared across workers and hosts through a real redis-server (#22.6): two app
instances on one Redis count against the same windows; without Redis each process counts its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from tests.app.test_login_guard import PASSWORD, attempt
from tests.conftest import api_headers, base_config
from tests.support.redis_server import redis_server

LIMITS = {"LOGIN_LIMIT_PER_ADDRESS": "3/minute", "LOGIN_LIMIT_PER_ACCOUNT": "off", "API_RATE_LIMIT": "4/minute"}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def two_apps(tmp_path: Path, platform: str, **extra: str) -> tuple[Flask, Flask]:
    config = base_config(
        tmp_path, platform, DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, VOICE_ENABLED=0, **LIMITS, **extra
    )
    return create_app(dict(config)), create_app(dict(config))


def test_two_instances_share_the_sign_in_limit(tmp_path: Path, platform, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    a, b = two_apps(tmp_path, platform.url, REDIS_URL=redis_url)
    address = "198.51.100.31"
    assert attempt(a.test_client(), "x", "wrong", address).status_code == 401
    assert attempt(b.test_client(), "y", "wrong", address).status_code == 401
    assert attempt(a.test_client(), "z", "wrong", address).status_code == 401
    refused = attempt(b.test_client(), "ops", PASSWORD, address)  # B has seen one failure; Redis has three
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    page = b.test_client().get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
    assert "sign-in opens again in" in page  # told before trying, from B, of failures counted on A
    with b.app_context():
        from app.dashboard import login_guard

        assert [lock.address for lock in login_guard.current().lockouts()] == [address]  # listed from B
        login_guard.current().unlock("address", address)
    assert attempt(a.test_client(), "ops", PASSWORD, address).status_code == 302  # unlocked on B, for A too


def test_two_instances_share_the_api_limit(tmp_path: Path, platform, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    a, b = two_apps(tmp_path, platform.url, REDIS_URL=redis_url)
    answers = [app.test_client().get("/api/v1/calls", headers=api_headers()) for app in (a, b, a, b, a)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    body = answers[-1].get_json()
    assert body["code"] == "too_many_requests" and 1 <= int(answers[-1].headers["Retry-After"]) <= 60


def test_without_redis_each_process_counts_its_own(tmp_path: Path, platform) -> None:  # type: ignore[no-untyped-def]
    a, b = two_apps(tmp_path, platform.url)
    assert [a.test_client().get("/api/v1/calls", headers=api_headers()).status_code for _ in range(5)][-1] == 429
    assert b.test_client().get("/api/v1/calls", headers=api_headers()).status_code == 200
