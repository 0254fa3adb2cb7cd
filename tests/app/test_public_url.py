"""PUBLIC_URL unset (#22.1): URLs from the request's origin; the session cookie's Secure flag from its scheme."""

from __future__ import annotations

from tests.conftest import hook_url

ANSWER = {"from": "919876543210", "to": "919111111111", "cmiuuid": "conv-origin"}


def test_stream_urls_come_from_the_requests_origin(make_app) -> None:
    client = make_app(VOICE_ENABLED=0, PUBLIC_URL="").test_client()
    actions = client.post(hook_url("answer"), json=ANSWER, base_url="https://calls.example.test").get_json()
    stream = next(a for a in actions if a["action"] == "stream")
    assert stream["ws_url"].startswith("wss://calls.example.test/stream/")


def test_without_public_url_the_session_cookie_is_secure_over_https(make_app) -> None:
    app = make_app(VOICE_ENABLED=0, PUBLIC_URL="", DASHBOARD_PASSWORD="pw-for-the-cookie")
    https = app.test_client().get("/login", base_url="https://calls.example.test").headers.get("Set-Cookie", "")
    plain = app.test_client().get("/login", base_url="http://calls.example.test").headers.get("Set-Cookie", "")
    assert "session=" in https and "Secure" in https
    assert "session=" in plain and "Secure" not in plain
