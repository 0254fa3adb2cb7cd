"""The operator's pages: sign-in, live calls, call detail with controls and listen-in, agents, softphone.

Server-rendered Jinja with a little JavaScript. Live updates use Server-Sent
Events: the browser only needs to *receive* a stream of small JSON events,
EventSource reconnects by itself, it passes through proxies as a plain HTTP
response, and controls go through ordinary POSTs (CSRF-checked). Audio
(listen-in) is binary and two-way-capable, so it uses a WebSocket.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from streams import commands

from . import call_flow, control, favicon, login_guard
from .call_views import call_or_404, recording_response
from .errors import BadRequest, NotFound, Unauthorized
from .feed import stream_events
from .journal import create_call
from .schemas import CallListQuerySchema
from .services import agents, bus, registry, services, store
from .stream_socket import sock

log = logging.getLogger(__name__)
bp = Blueprint("dashboard", __name__)
LIST_QUERY = CallListQuerySchema()


def init_app(app: Flask) -> None:
    if not app.extensions["callstream"].login_guard.configured:
        log.warning("DASHBOARD_PASSWORD is not set: the dashboard cannot be signed in to")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PUBLIC_URL"].startswith("https://"),
    )
    app.register_blueprint(bp)
    app.register_blueprint(favicon.bp)


# -- sign-in and CSRF ------------------------------------------------------------------------
def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _csrf_ok() -> bool:
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf", "")
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@bp.app_template_filter("clock")
def clock(epoch: float) -> str:
    """Epoch seconds as HH:MM:SS (UTC), for timelines."""
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%H:%M:%S")


def service_warnings() -> list[str]:
    """What an operator must know at a glance: no hearing, no speaking, broken agents."""
    warnings = []
    voice = services().voice
    if voice is None:
        warnings.append("Voice is off (VOICE_ENABLED=false): calls stream, but nobody listens or speaks.")
    else:
        if not voice.models.available:
            warnings.append(
                "No speech recognition: no vosk model was found. Calls get the greeting, then the "
                "agent's no-STT rule (a person). Run `make model` or set VOSK_MODEL_PATH."
            )
        if voice.tts.available is False:
            warnings.append(f"Text to speech is unavailable: {voice.tts.error}")
    broken = agents().errors
    if broken:
        warnings.append(
            f"{len(broken)} agent file(s) have errors and were skipped: " + ", ".join(e.file for e in broken)
        )
    return warnings


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    signed_in = bool(session.get("user"))
    return {"csrf_token": csrf_token, "signed_in": signed_in, "warnings": service_warnings() if signed_in else []}


def page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page: signed-in operators only (others go to the sign-in page)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session.get("user"):
            return redirect(url_for("dashboard.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def data(view: Callable[..., Any]) -> Callable[..., Any]:
    """A data endpoint: 401 without sign-in; state-changing requests need the CSRF token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session.get("user"):
            raise Unauthorized("Sign in to the dashboard first.")
        if request.method not in ("GET", "HEAD") and not _csrf_ok():
            raise Unauthorized("Missing or wrong CSRF token.", status=403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign in. Failed attempts are limited per address and per user name (429 with Retry-After);
    the password check always hashes, off the event loop (see login_guard)."""
    if request.method != "POST":
        return render_template("login.html", error=None)
    guard = login_guard.current()
    username = request.form.get("username", "")
    if not _csrf_ok():
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
    session["user"] = current_app.config["DASHBOARD_USER"]
    csrf_token()
    target = request.args.get("next") or ""
    return redirect(
        target if target.startswith("/") and not target.startswith("//") else url_for("dashboard.calls_page")
    )


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    if _csrf_ok():
        session.clear()
    return redirect(url_for("dashboard.login"))


# -- pages -------------------------------------------------------------------------------------
@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return redirect(url_for("dashboard.calls_page"))


@bp.get("/dashboard/calls")
@page
def calls_page():  # type: ignore[no-untyped-def]
    query = LIST_QUERY.load({k: v for k, v in request.args.items() if v})
    items, total = store().list(
        state=query.get("state"),
        direction=query.get("direction"),
        limit=query["per_page"],
        offset=(query["page"] - 1) * query["per_page"],
    )
    live = [c for c in (store().get(cid) for cid in registry().ids()) if c]
    return render_template(
        "calls.html",
        calls=[_row(c) for c in items],
        live=[_row(c) for c in live],
        total=total,
        query=query,
        pages=max(1, -(-total // query["per_page"])),
    )


@bp.get("/dashboard/calls/<call_id>")
@page
def call_page(call_id: str):  # type: ignore[no-untyped-def]
    call = call_or_404(call_id)
    agent = agents().get(call["agent"]) or {}
    return render_template(
        "call.html",
        call=_detail(call),
        agent=agent,
        commands=[{**vars(c), "fields": c.form_fields()} for c in commands.REGISTRY.values()],
        human_numbers=",".join((agent.get("human") or {}).get("numbers", [])),
        media=sorted(p.name for p in call_flow.MEDIA_DIR.glob("*") if p.is_file()),
    )


@bp.get("/dashboard/agents")
@page
def agents_page():  # type: ignore[no-untyped-def]
    book = agents()
    return render_template(
        "agents.html",
        agents=sorted(book.agents.values(), key=lambda a: a["name"]),
        errors=book.errors,
        default=book.default,
    )


@bp.get("/dashboard/agents/<name>")
@page
def agent_page(name: str):  # type: ignore[no-untyped-def]
    agent = agents().get(name)
    if agent is None:
        raise NotFound(f"No agent {name}.")
    source = (Path(current_app.config["AGENTS_DIR"]) / agent["file"]).read_text(encoding="utf-8")
    return render_template("agent.html", agent=agent, source=source)


@bp.get("/dashboard/softphone")
@page
def softphone_page():  # type: ignore[no-untyped-def]
    return render_template("softphone.html", agents=sorted(agents().agents), default=agents().default)


# -- data ---------------------------------------------------------------------------------------
def _row(call: dict[str, Any]) -> dict[str, Any]:
    lines = store().transcript(call["id"])
    return {**call, "live": registry().get(call["id"]) is not None, "last_line": lines[-1]["text"] if lines else ""}


def _detail(call: dict[str, Any]) -> dict[str, Any]:
    calls = store()
    timeline = calls.timeline(call["id"])
    return {
        **_row(call),
        "timeline": timeline,
        "transcript": calls.transcript(call["id"]),
        "latencies": [e["detail"]["latency_ms"] for e in timeline if e["kind"] == "reply"],
        "recording": bool(call["extra"].get("recording")),
    }


@bp.get("/dashboard/api/calls/<call_id>")
@data
def call_data(call_id: str):  # type: ignore[no-untyped-def]
    return jsonify(_detail(call_or_404(call_id)))


@bp.post("/dashboard/api/calls/<call_id>/actions")
@data
def call_action(call_id: str):  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object.", {"_schema": ["Must be a JSON object."]})
    return jsonify(control.perform(call_id, body, by=f"dashboard:{session['user']}"))


@bp.get("/dashboard/calls/<call_id>/recording")
@data
def recording(call_id: str):  # type: ignore[no-untyped-def]
    return recording_response(call_or_404(call_id))


@bp.post("/dashboard/api/softphone")
@data
def softphone_call():  # type: ignore[no-untyped-def]
    """Create a call for the browser softphone and hand it a signed stream URL, as Piopiy would get."""
    body = request.get_json(silent=True) or {}
    name = body.get("agent") or agents().default
    agent = agents().get(name)
    if agent is None:
        raise BadRequest("Unknown agent.", {"agent": [f"No agent named {name!r}."]})
    if registry().full():
        raise BadRequest("All lines are busy (MAX_CALLS).", {"_schema": ["Try again later."]})
    call = create_call(
        store(),
        bus(),
        direction="browser",
        from_number=None,
        to_number=None,
        agent=name,
        extra={"softphone": session["user"]},
    )
    options = call_flow.stream_options(current_app.config, agent)
    return jsonify(
        {
            "call_id": call["id"],
            "ws_url": call_flow.stream_url(current_app.config, call["id"]),
            "rate": int(options["voice_quality"]),
        }
    ), 201


@bp.get("/dashboard/events")
@data
def events():  # type: ignore[no-untyped-def]
    """Server-Sent Events: every live call event, or one call's with ``?call=<id>``."""
    return Response(
        stream_events(bus(), request.args.get("call")),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@sock.route("/dashboard/calls/<call_id>/listen", bp=bp)
def listen(ws, call_id: str) -> None:  # type: ignore[no-untyped-def]
    """Listen-in: both legs of a live call, as binary frames b"c"+pcm (caller) and b"b"+pcm (bot)."""
    from gevent.queue import Full, Queue

    from streams import transport

    if not session.get("user"):
        transport.close(ws, 1008, "sign in first")
        return
    live = registry().get(call_id)
    if live is None:
        transport.close(ws, 1000, "the call is not live")
        return
    queue: Queue = Queue(maxsize=400)

    def tap(leg: str, pcm: bytes | None) -> None:
        try:
            queue.put_nowait((leg, pcm))
        except Full:
            pass  # a slow listener skips audio; the call is not slowed down

    ws.send(json.dumps({"rate": live.rate}))
    live.link.taps.add(tap)
    try:
        while True:
            leg, pcm = queue.get()
            if pcm is None:
                break
            transport.send_bytes(ws, (b"c" if leg == "caller" else b"b") + pcm)
    except (ConnectionError, OSError):
        pass
    finally:
        live.link.taps.discard(tap)
        transport.close(ws, 1000, "call ended")
