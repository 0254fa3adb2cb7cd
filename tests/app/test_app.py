"""The factory, configuration, health and the PCMO endpoint."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app import __version__, create_app
from app.config import ConfigError, load_config
from app.runtime.readiness import has_model_for
from tests.conftest import api_headers, base_config


def test_healthz_reports_version(make_app) -> None:
    app = make_app(DEFAULT_AGENT="demo-ko")  # Korean: the speech model the tests install
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == __version__ and body["agents"]["loaded"] == ["demo-en", "demo-ko"]
    english = has_model_for(app.extensions["callstream"], "en")
    assert body["status"] == ("ok" if english else "degraded")  # demo-en needs an English model
    assert [p["code"] for p in body["problems"]] == ([] if english else ["no_speech_model"])


def test_healthz_is_degraded_and_says_why(tmp_path: Path, make_app) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "good.yaml").write_text("name: good\nlanguage: ko\nvoice: ko\ngreeting: hi\n")
    (agents / "broken.yaml").write_text("name: broken\nrate: fast\n")
    app = make_app(AGENTS_DIR=str(agents), DEFAULT_AGENT="missing")
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "degraded"
    problems = {p["code"]: p for p in body["problems"]}
    assert problems["agent_invalid"]["detail"] == {"file": "broken.yaml", "errors": {"rate": ["Must be an integer."]}}
    assert problems["no_default_agent"]["detail"] == {"default": "missing", "loaded": ["good"]}
    muted = make_app(AGENTS_DIR=str(agents), DEFAULT_AGENT="good", VOICE_ENABLED=0).test_client()
    assert [p["code"] for p in muted.get("/healthz").get_json()["problems"]] == ["agent_invalid", "voice_off"]


def test_production_refuses_to_start_without_required_settings(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:9")
    for name in ("SECRET_KEY", "API_KEY", "PIOPIY_APP_SECRET"):
        config[name] = ""
    with pytest.raises(ConfigError) as caught:
        create_app(config)
    message = str(caught.value)
    assert "SECRET_KEY" in message and "API_KEY" in message and "PIOPIY_APP_SECRET" in message
    assert "WEBHOOK_TOKEN" not in message


def test_v3_needs_a_token_not_an_app_secret(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:9", PIOPIY_API_VERSION="v3", PIOPIY_TOKEN="", PIOPIY_APP_SECRET="")
    with pytest.raises(ConfigError, match="PIOPIY_TOKEN"):
        create_app(config)


@pytest.mark.parametrize(
    "env, name",
    [
        ({"PIOPIY_API_VERSION": "v4"}, "PIOPIY_API_VERSION"),
        ({"MAX_CALLS": "many"}, "MAX_CALLS"),
        ({"STREAM_VOICE_QUALITY": "44100"}, "STREAM_VOICE_QUALITY"),
        ({"CALLSTREAM_ENV": "staging"}, "CALLSTREAM_ENV"),
        ({"REPLY_DEADLINE": "0"}, "REPLY_DEADLINE"),
        ({"REPLY_DEADLINE": "nan"}, "REPLY_DEADLINE"),  # parses as a float, and no bound catches it
        ({"TTS_TIMEOUT": "inf"}, "TTS_TIMEOUT"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config(env)


def test_development_generates_secrets_and_keeps_them_out_of_logs(tmp_path: Path, caplog) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:9", CALLSTREAM_ENV="development")
    for name in ("SECRET_KEY", "WEBHOOK_TOKEN", "API_KEY", "PUBLIC_URL"):
        config[name] = ""
    with caplog.at_level(logging.INFO):
        app = create_app(config)
    secrets = json.loads((tmp_path / "instance" / "dev-secrets.json").read_text())
    assert app.config["API_KEY"] == secrets["API_KEY"] and len(secrets["API_KEY"]) > 20
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert "development mode" in caplog.text
    for value in secrets.values():
        assert value not in caplog.text
    # A restart keeps the same values, so URLs registered with them keep working.
    again = create_app(config)
    assert again.config["WEBHOOK_TOKEN"] == secrets["WEBHOOK_TOKEN"]


def test_unknown_routes_and_methods_get_json_errors(client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    response = client.get("/webhooks/piopiy/answer")
    assert response.status_code == 405 and set(response.get_json()) == {"code", "message", "errors"}


# -- POST /api/v1/pcmo -----------------------------------------------------------------
def test_pcmo_endpoint_returns_the_validated_array(client) -> None:
    actions = [
        {"action": "speak", "text": "Hi"},
        {"action": "stream", "ws_url": "wss://x.test/s", "listen_mode": "both", "voice_quality": "16000"},
        {"action": "bridge", "from": "919000000000", "connect": [{"type": "pstn", "number": 919876543210}]},
    ]
    response = client.post("/api/v1/pcmo", json={"actions": actions}, headers=api_headers())
    assert response.status_code == 200
    body = response.get_json()
    assert body[0] == actions[0] and body[1]["voice_quality"] == "16000"
    assert body[2]["from"] == 919000000000


def test_pcmo_endpoint_gives_field_errors(client) -> None:
    actions = [{"action": "stream", "ws_url": "https://x"}, {"action": "hangup"}, {"action": "play"}]
    response = client.post("/api/v1/pcmo", json={"actions": actions}, headers=api_headers())
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "validation_error"
    assert body["errors"]["0"]["ws_url"] and body["errors"]["2"]["_schema"] and "1" not in body["errors"]


def test_pcmo_endpoint_speaks_v3(client) -> None:
    pipeline = [{"action": "play", "file_name": "a.wav"}, {"action": "hangup"}]
    response = client.post("/api/v1/pcmo", json={"actions": pipeline, "version": "v3"}, headers=api_headers())
    assert response.status_code == 200 and response.get_json() == pipeline
    response = client.post(
        "/api/v1/pcmo", json={"actions": [{"action": "speak", "text": "x"}], "version": "v3"}, headers=api_headers()
    )
    assert response.status_code == 400 and "action" in response.get_json()["errors"]["0"]


@pytest.mark.parametrize("body", [None, [], {"actions": "x"}, {"actions": [], "version": "v9"}, {"acts": []}])
def test_pcmo_endpoint_rejects_bad_bodies(client, body) -> None:
    response = client.post("/api/v1/pcmo", json=body, headers=api_headers())
    assert response.status_code == 400 and response.get_json()["errors"]


def test_pcmo_endpoint_needs_the_api_key(client) -> None:
    assert client.post("/api/v1/pcmo", json={"actions": []}).status_code == 401
    assert client.post("/api/v1/pcmo", json={"actions": []}, headers=api_headers("wrong")).status_code == 401


def test_default_lines_follow_the_agents_language(tmp_path: Path, caplog) -> None:
    from app.agents.book import load_agents
    from app.agents.default_lines import DEFAULT_LINES

    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "ko.yaml").write_text("name: ko\nlanguage: ko\nvoice: ko\ngoodbye: 또 만나요.\n")
    (agents / "fr.yaml").write_text("name: fr\nlanguage: fr\nvoice: fr\n")
    with caplog.at_level(logging.WARNING, logger="app.agents.book"):
        book = load_agents(agents, "ko")
    korean = book.get("ko")
    assert korean["goodbye"] == "또 만나요." and korean["hold_message"] == DEFAULT_LINES["ko"]["hold_message"]
    assert korean["fallback"] == DEFAULT_LINES["ko"]["fallback"]
    assert book.get("fr")["fallback"] == DEFAULT_LINES["en"]["fallback"]
    assert "fr.yaml: language 'fr' has no default lines" in caplog.text and "ko.yaml" not in caplog.text


def test_a_minimal_agent_loads(tmp_path: Path) -> None:
    from app.agents.book import load_agents

    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "mini.yaml").write_text(
        "name: mini\ngreeting: Hello.\nintents:\n  - {name: hi, phrases: [hi], reply: Hi!}\n"
    )
    book = load_agents(agents, "mini")
    assert book.errors == [] and book.get("mini")["no_stt"] == "handoff"  # with nobody to hand to: a goodbye
