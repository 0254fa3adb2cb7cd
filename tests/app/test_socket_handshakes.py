"""Every WebSocket route checks the handshake before the upgrade (#25.11), and the dashboard's own sockets
the page's Origin (#22.6): refusals are plain HTTP answers, never a 500 or a traceback."""

from __future__ import annotations

import logging

import pytest

from app.http.sockets import handshake_problem, origin_of, own_origins
from tests.conftest import PUBLIC_URL

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example: 16 bytes
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade"}
ROUTES = ["/stream/abc?exp=1&sig=2", "/dashboard/calls/abc/listen"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-WebSocket-Version": "13"},
        {"Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": KEY},
        {"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"},
        {"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "not base64 at all!!!!!!!"},
        {"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "é" * 24},
    ],
)
def test_a_bad_upgrade_is_a_400_without_a_traceback(app, route: str, headers: dict, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    response = app.test_client().get(route, headers={**UPGRADE, **headers, "Origin": PUBLIC_URL})
    assert response.status_code == 400, response.data
    assert response.get_json()["code"] == "validation_error" and "headers" in response.get_json()["errors"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "origin",
    [None, "null", "https://evil.example", "http://callstream.example.test", "https://callstream.example.test.evil"],
)
def test_listen_in_refuses_another_sites_page_before_the_upgrade(app, origin: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {**UPGRADE, "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY}
    if origin is not None:
        headers["Origin"] = origin
    response = app.test_client().get("/dashboard/calls/abc/listen", headers=headers)
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_the_handshake_rules() -> None:
    assert handshake_problem({"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY}) is None
    assert handshake_problem({"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY + "A"})
    assert origin_of("HTTPS://Example.COM:443/x") == "https://example.com"
    assert origin_of("http://[::1]:8080") == "http://[::1]:8080"
    assert origin_of("http://x:99999") is None and origin_of("ftp://x") is None and origin_of("null") is None
    assert own_origins("https://a.example", "http", "127.0.0.1:5000") == {"https://a.example", "http://127.0.0.1:5000"}


def test_the_live_feed_refuses_another_sites_page(make_app) -> None:  # type: ignore[no-untyped-def]
    from tests.app.test_dashboard import PASSWORD, sign_in

    client = make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD).test_client()
    sign_in(client)
    refused = client.get("/dashboard/events", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    for headers in ({}, {"Origin": PUBLIC_URL}):  # same-origin EventSource sends none; or our own
        feed = client.get("/dashboard/events", headers=headers)
        assert feed.status_code == 200 and feed.mimetype == "text/event-stream"
        feed.close()
