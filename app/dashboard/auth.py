"""Signing in, CSRF, and the guards every page and data endpoint goes through.

A session is signed in while the sign-in it names is open in the database (app/storage/sign_ins.py):
signing out, "sign out everywhere" and a new DASHBOARD_PASSWORD end it for every copy of the cookie.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, g, redirect, render_template, request, session, url_for

from app.dashboard import bp, login_guard
from app.errors import Unauthorized
from app.runtime.readiness import problems
from app.services import services
from app.storage import sign_ins

log = logging.getLogger(__name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def csrf_ok() -> bool:
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf", "")
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@bp.app_template_filter("clock")
def clock(epoch: float) -> str:
    """Epoch seconds as HH:MM:SS (UTC), for timelines; "?" for a time that cannot be shown."""
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(float(epoch), dt.UTC).strftime("%H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


@bp.app_template_filter("minutes")
def minutes(seconds: float) -> str:
    """A duration as M:SS, like the page's own ticking cells; "" for one that cannot be shown."""
    try:
        whole = max(0, int(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        return ""
    return f"{whole // 60}:{whole % 60:02d}"


def service_warnings() -> list[str]:
    """What an operator must know at a glance: the same problems /healthz reports."""
    return [problem.message for problem in problems(services())]


def session_ok() -> bool:
    """This request carries a signed-in operator's session whose sign-in is still open (asked once a request).

    A session whose sign-in has ended (signed out, everywhere, a new password) or expired is cleared."""
    if "signed_in" not in g:
        token, user = session.get("sign_in"), session.get("user")
        g.signed_in = bool(token and user) and sign_ins.is_open(
            services().db, str(token), login_guard.current().password_mark
        )
        if user and not g.signed_in:
            session.clear()
    return bool(g.signed_in)


def sign_in_check() -> Callable[[], bool]:
    """For a socket or stream that outlives its request: asks again whether this request's sign-in is open."""
    db, token, mark = services().db, str(session.get("sign_in", "")), login_guard.current().password_mark
    return lambda: bool(token) and sign_ins.is_open(db, token, mark)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    signed_in = session_ok()
    return {
        "csrf_token": csrf_token,
        "signed_in": signed_in,
        "warnings": service_warnings() if signed_in else [],
        "lockouts": login_guard.current().lockouts() if signed_in else [],
    }


def page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page: signed-in operators only (others go to the sign-in page)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session_ok():
            return redirect(url_for("dashboard.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def data(view: Callable[..., Any]) -> Callable[..., Any]:
    """A data endpoint: 401 without sign-in; state-changing requests need the CSRF token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session_ok():
            raise Unauthorized("Sign in to the dashboard first.")
        if request.method not in ("GET", "HEAD") and not csrf_ok():
            raise Unauthorized("Missing or wrong CSRF token.", status=403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign in. Failed attempts are limited per address and per user name (429 with Retry-After);
    the password check always hashes, off the event loop (see login_guard)."""
    guard = login_guard.current()
    if request.method != "POST":
        return render_template("login.html", error=None, locked_for=guard.lock_on(guard.client_address()))
    username = request.form.get("username", "")
    if not csrf_ok():
        return render_template("login.html", error="Your form expired; try again."), 401
    if not guard.configured:
        error = "The dashboard has no password configured (DASHBOARD_PASSWORD)."
        return render_template("login.html", error=error), 401
    attempt = guard.begin(username)
    if isinstance(attempt, login_guard.Limited):
        log.warning("dashboard sign-in refused: too many attempts (%r from %s)", username[:40], guard.client_address())
        error = f"Too many sign-in attempts. Try again in {attempt.retry_after} seconds."
        return render_template("login.html", error=error), 429, {"Retry-After": str(attempt.retry_after)}
    if not guard.check(username, request.form.get("password", "")):
        log.warning("dashboard sign-in failed for %r from %s", username[:40], guard.client_address())
        return render_template("login.html", error="Wrong user name or password."), 401
    attempt.succeeded()
    session.clear()
    user, lifetime = current_app.config["DASHBOARD_USER"], current_app.config["PERMANENT_SESSION_LIFETIME"]
    session["sign_in"] = sign_ins.open_sign_in(services().db, user, guard.password_mark, _seconds(lifetime))
    session["user"] = user
    session.permanent = True  # the cookie expires with the sign-in (PERMANENT_SESSION_LIFETIME)
    csrf_token()
    return redirect(same_origin_path(request.args.get("next", "")) or url_for("dashboard.calls_page"))


def same_origin_path(target: str) -> str | None:
    """``target`` as a path on this origin, or None when it is anything else.

    Parsed, not prefix-checked: browsers drop tabs and newlines from a URL and read a backslash as ``/``,
    so ``/%09/evil.com`` (decoded: slash, tab, slash) or ``/%5Cevil.com`` would pass a "starts with / but
    not //" test and land on another host; a newline in a Location header was a 500.
    A control character, a backslash, a scheme or a host refuses the whole target.
    """
    if not target or not target.isprintable() or "\\" in target or target.startswith("//"):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unbalanced "[" where a host would be
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None  # ("///evil.com" parses as an empty host and "/evil.com": refused before parsing)
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """Sign out: this sign-in ends on the server, so a copy of the cookie is refused too."""
    if csrf_ok():
        if session.get("sign_in"):
            sign_ins.end_sign_in(services().db, str(session["sign_in"]))
        session.clear()
    return redirect(url_for("dashboard.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():  # type: ignore[no-untyped-def]
    """Sign out everywhere: every open sign-in ends (a lost laptop, a cookie that may have been copied)."""
    if session_ok() and csrf_ok():
        ended = sign_ins.end_all(services().db)
        log.warning("dashboard: %s signed out everywhere (%d sign-ins ended)", session.get("user"), ended)
        session.clear()
    return redirect(url_for("dashboard.login"))


@bp.post("/dashboard/lockouts/unlock")
def unlock():  # type: ignore[no-untyped-def]
    """Lift a sign-in lock-out (shown to signed-in operators on every page)."""
    if session_ok() and csrf_ok():
        kind, key = request.form.get("kind", ""), request.form.get("key", "")
        login_guard.current().unlock(kind, key)
        log.warning("dashboard: %s lifted the sign-in lock-out of %s %r", session.get("user"), kind, key[:200])
    return redirect(same_origin_path(request.form.get("back", "")) or url_for("dashboard.calls_page"))


def _seconds(lifetime: Any) -> float:
    """PERMANENT_SESSION_LIFETIME as seconds (Flask takes a number or a timedelta)."""
    return float(lifetime.total_seconds() if hasattr(lifetime, "total_seconds") else lifetime)


# -- pages -------------------------------------------------------------------------------------
