"""Signing out revokes (#25.4): a session is good only while its sign-in is open in the database, so a copied
cookie is refused after sign-out, after a password change, and after "sign out everywhere"; and it expires."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.services import services
from app.storage import sign_ins
from tests.app.test_dashboard import PASSWORD, csrf_of, sign_in


@pytest.fixture
def dash(make_app):  # type: ignore[no-untyped-def]
    def factory(password: str = PASSWORD, **overrides: object) -> Flask:
        return make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=password, **overrides)

    return factory


def signed_in(app: Flask) -> tuple[FlaskClient, str]:
    """A client signed in to ``app``, and its session cookie (what an attacker would copy)."""
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client, client.get_cookie("session").value


def with_cookie(app: Flask, cookie: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def works(client: FlaskClient) -> bool:
    page = client.get("/dashboard/calls").status_code
    data = client.get("/dashboard/api/calls/none").status_code
    assert (page == 200) == (data == 404), (page, data)  # pages and data endpoints agree
    return page == 200


def sign_out(client: FlaskClient, path: str = "/logout") -> None:
    token = csrf_of(client.get("/dashboard/calls").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 302


def test_a_copied_cookie_is_refused_after_sign_out(dash) -> None:  # type: ignore[no-untyped-def]
    app = dash()
    client, cookie = signed_in(app)
    copy = with_cookie(app, cookie)
    assert works(copy)
    sign_out(client)
    assert not works(client) and not works(with_cookie(app, cookie))


def test_a_new_password_ends_every_sign_in_and_a_restart_does_not(dash) -> None:  # type: ignore[no-untyped-def]
    _, cookie = signed_in(dash())
    assert works(with_cookie(dash(), cookie))  # restarted with the same settings: still signed in
    assert not works(with_cookie(dash("a-new-password"), cookie))


def test_sign_out_everywhere_ends_every_session(dash) -> None:  # type: ignore[no-untyped-def]
    app = dash()
    laptop, laptop_cookie = signed_in(app)
    phone, _ = signed_in(app)
    page = laptop.get("/dashboard/calls").get_data(as_text=True)
    assert 'action="/logout/everywhere"' in page and "Sign out everywhere" in page
    sign_out(laptop, "/logout/everywhere")
    assert not works(phone) and not works(with_cookie(app, laptop_cookie))
    assert works(signed_in(app)[0])  # signing in again works


def test_a_sign_in_expires(dash) -> None:  # type: ignore[no-untyped-def]
    app = dash(PERMANENT_SESSION_LIFETIME=3600)
    client = app.test_client()
    sign_in(client)
    set_cookie = client.get("/dashboard/calls").headers.get("Set-Cookie", "")
    assert "Expires=" in set_cookie  # the cookie itself expires (a permanent session), not at browser close
    with app.app_context():
        db, mark = services().db, services().login_guard.password_mark
        token = sign_ins.open_sign_in(db, "ops", mark, 3600)
        assert sign_ins.is_open(db, token, mark)
        assert not sign_ins.is_open(db, token, mark, now=time.time() + 3601)
        assert not sign_ins.is_open(db, token, "another-mark") and not sign_ins.is_open(db, "forged", mark)


def test_the_default_lifetime_is_twelve_hours(tmp_path: Path) -> None:
    from app.config import load_config

    assert load_config({})["PERMANENT_SESSION_LIFETIME"] == 12 * 3600
    assert load_config({"SESSION_LIFETIME_HOURS": "0.5"})["PERMANENT_SESSION_LIFETIME"] == 1800


def test_an_open_live_feed_stops_when_its_sign_in_ends(dash) -> None:  # type: ignore[no-untyped-def]
    """The event stream outlives the request that checked the session: it asks again while it runs."""
    from app.dashboard.feed import stream_events

    app = dash()
    with app.app_context():
        db, mark = services().db, services().login_guard.password_mark
        token = sign_ins.open_sign_in(db, "ops", mark, 3600)
        feed = stream_events(
            services().bus, keepalive=0.05, still_signed_in=lambda: sign_ins.is_open(db, token, mark), recheck=0.05
        )
        assert next(feed).startswith("retry:") and next(feed) == ": keep-alive\n\n"
        sign_ins.end_sign_in(db, token)
        assert len(list(itertools.islice(feed, 5))) <= 1  # at most the keep-alive already due, then the end


def test_a_live_feed_sends_nothing_once_its_sign_in_has_ended(dash) -> None:  # type: ignore[no-untyped-def]
    """With its default pace (2 s) the feed asks again before an event goes out: an event published 2 s after
    the sign-out never reaches the browser, and the stream ends (it once kept sending for 15 s more)."""
    import time

    from app.dashboard.feed import stream_events
    from streams.events import Note

    app = dash()
    with app.app_context():
        db, mark, bus = services().db, services().login_guard.password_mark, services().bus
        token = sign_ins.open_sign_in(db, "ops", mark, 3600)
        feed = stream_events(bus, still_signed_in=lambda: sign_ins.is_open(db, token, mark))
        assert next(feed).startswith("retry:")
        sign_ins.end_sign_in(db, token)
        time.sleep(2.1)
        bus.publish(Note(call_id="c-after-sign-out", what="caller.secret"))
        started = time.monotonic()
        assert list(itertools.islice(feed, 3)) == []  # no event, not even a keep-alive: the feed ended
        assert time.monotonic() - started < 1.0
