from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app

from .platform_double import PlatformDouble, running_platform

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-api-key"
WEBHOOK_TOKEN = "test-webhook-token"
SECRET_KEY = "test-secret-key"
PUBLIC_URL = "https://callstream.example.test"


def base_config(tmp_path: Path, platform_url: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "CALLSTREAM_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_KEY": API_KEY,
        "PUBLIC_URL": PUBLIC_URL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
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


def api_headers(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hook_url(path: str, token: str = WEBHOOK_TOKEN) -> str:
    return f"/webhooks/piopiy/{path}?token={token}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many requests the API fuzzing sent (its target is 5,000), visible without -s."""
    import sys

    fuzz = sys.modules.get(f"{__package__}.test_fuzz_api")
    if fuzz is not None and fuzz.SENT:
        terminalreporter.write_line(
            f"schemathesis: {sum(fuzz.SENT.values())} generated requests over {len(fuzz.SENT)} operations, "
            f"{len(fuzz.FAILURES)} failures"
        )
