"""The Procfile's command, for real: gunicorn with the gevent worker on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import requests

from emulator.service import ROOT, running_service
from tests.conftest import API_KEY, WEBHOOK_TOKEN, base_config
from tests.support.platform_double import PlatformDouble


def test_procfile_runs_gunicorn_with_our_config() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "web: gunicorn -c gunicorn.conf.py wsgi:app"


def test_the_real_server_answers_webhooks_and_places_calls(tmp_path: Path, platform: PlatformDouble) -> None:
    config = base_config(tmp_path, platform.url)
    with running_service(config) as url:
        health = requests.get(f"{url}/healthz", timeout=5).json()
        assert health["env"] == "production" and health["agents"]["default"] == "demo-en"
        assert health["status"] in ("ok", "degraded", "warming")  # degraded here: no English model (test_app)
        body = {"from": "919876543210", "to": "919111111111", "cmiuuid": "srv-1", "time": "now"}
        pcmo = requests.post(
            f"{url}/webhooks/piopiy/answer", params={"token": WEBHOOK_TOKEN}, data=body, timeout=5
        ).json()
        assert pcmo[-1]["action"] == "stream"
        created = requests.post(
            f"{url}/api/v1/calls",
            json={"to": "919876543210"},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )
        assert created.status_code == 201
        assert platform.requests[0].body["to"] == 919876543210
        listed = requests.get(f"{url}/api/v1/calls", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5).json()
        assert listed["total"] == 2


def test_production_without_settings_fails_fast_and_says_what_is_missing(tmp_path: Path) -> None:
    import pytest

    config = base_config(tmp_path, "http://127.0.0.1:1", SECRET_KEY="", API_KEY="")
    with pytest.raises(RuntimeError) as caught, running_service(config, startup=20):
        pass
    assert "missing required settings: SECRET_KEY, API_KEY" in str(caught.value)
