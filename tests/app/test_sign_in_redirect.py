"""Where sign-in sends the browser: only to a path of this origin, parsed, never by prefix (#22.6)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.app.test_dashboard import PASSWORD, csrf_of

HOME = "/dashboard/calls"


@pytest.fixture
def client(make_app):  # type: ignore[no-untyped-def]
    return make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD).test_client()


def sign_in_to(client, raw_next: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in with ``?next=`` + ``raw_next`` (already URL-encoded, as an attacker's link has it); the Location."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        f"/login?next={raw_next}", data={"username": "ops", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


@pytest.mark.parametrize(
    "raw_next",
    [
        "/%09/evil.com",  # tab: browsers drop it, "//evil.com" remains
        "/%0a/evil.com",
        "%0a/evil.com",
        "/%0d%0aSet-Cookie:%20x=1",  # header injection
        "/%5Cevil.com",  # backslash reads as a slash
        "/%5C%5Cevil.com",
        "//evil.com",
        "///evil.com",
        "https://evil.com/",
        "https:evil.com",
        "javascript:alert(1)",
        "%20//evil.com",
        "/%00/evil.com",
        "/%E2%80%A8/evil.com",  # U+2028, a line separator
        "//[evil",
        "evil.com",
        "",
    ],
)
def test_only_a_path_of_this_origin_is_followed(client, raw_next: str) -> None:  # type: ignore[no-untyped-def]
    assert sign_in_to(client, raw_next) == HOME


@pytest.mark.parametrize(
    "target",
    ["/dashboard/agents", "/dashboard/calls/abc?state=live&page=2", "/dashboard/agents/demo-ko#source"],
)
def test_a_path_of_this_origin_is_followed(client, target: str) -> None:  # type: ignore[no-untyped-def]
    assert sign_in_to(client, quote(target, safe="")) == target
