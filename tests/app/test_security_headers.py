"""Security headers on every kind of response: API JSON (and its errors), pages, static files."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import api_headers


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize(
    "path, headers, status",
    [
        ("/api/v1/calls", api_headers(), 200),
        ("/api/v1/calls", {}, 401),  # an error answer too
        ("/login", {}, 200),
        ("/api/v1/docs", {}, 200),
        ("/static/callstream.css", {}, 200),
        ("/static/calls.js", {}, 200),
        ("/favicon.ico", {}, 200),
        ("/no/such/page", {}, 404),
    ],
)
def test_every_response_carries_the_security_headers(
    client: FlaskClient, path: str, headers: dict, status: int
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = directives(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]  # nothing inline
    assert csp["object-src"] == ["'none'"] and csp["media-src"] == ["'self'"]
    # SSE and listen-in go to this origin; the softphone's stream socket to PUBLIC_URL (wss for https).
    assert csp["connect-src"] == ["'self'", "wss://callstream.example.test"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"  # PUBLIC_URL is https (#22.6)


def test_no_hsts_when_the_service_is_reached_over_plain_http(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app(PUBLIC_URL="http://127.0.0.1:5000").test_client().get("/login")
    assert response.status_code == 200 and "Strict-Transport-Security" not in response.headers


def test_templates_have_no_inline_script_or_style() -> None:
    import re

    from tests.conftest import ROOT

    for template in (ROOT / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name
        assert not re.search(r"\sstyle\s*=|<style", html), template.name
