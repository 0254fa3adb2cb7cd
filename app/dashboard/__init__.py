"""The operator's pages: sign-in, live calls, call detail with controls and listen-in, agents, softphone.

Server-rendered Jinja with a little JavaScript. Live updates use Server-Sent
Events: the browser only needs to *receive* a stream of small JSON events,
EventSource reconnects by itself, it passes through proxies as a plain HTTP
response, and controls go through ordinary POSTs (CSRF-checked). Audio
(listen-in) is binary and two-way-capable, so it uses a WebSocket.

``auth`` holds sign-in, CSRF and the page/data guards; ``pages`` the pages;
``data`` the data endpoints (JSON, commands, recordings, the softphone); ``feed``
the event stream and ``listen_in`` the audio.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, request
from flask.sessions import SecureCookieSessionInterface

log = logging.getLogger(__name__)
bp = Blueprint("dashboard", __name__)

from app.dashboard import auth, data, pages  # noqa: E402 - they add their routes to bp
from app.http import favicon  # noqa: E402

__all__ = ["auth", "bp", "data", "init_app", "pages"]


class SessionCookies(SecureCookieSessionInterface):
    """Without PUBLIC_URL (app/urls.py), the session cookie is Secure when its request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (not app.config["PUBLIC_URL"] and request.is_secure))


def init_app(app: Flask) -> None:
    if not app.extensions["callstream"].login_guard.configured:
        log.warning("DASHBOARD_PASSWORD is not set: the dashboard cannot be signed in to")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PUBLIC_URL"].startswith("https://"),
    )
    app.session_interface = SessionCookies()
    app.register_blueprint(bp)
    app.register_blueprint(favicon.bp)
