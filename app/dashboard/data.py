"""The dashboard's data: one call as JSON, commands, recordings, the softphone, the live feed, listen-in."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import gevent
from flask import Response, current_app, jsonify, request, session

from app.api import control
from app.api.presenter import call_or_404, recording_response
from app.dashboard import bp, listen_in
from app.dashboard.auth import data, session_ok, sign_in_check
from app.dashboard.charts import hour_svg, latency_axis, per_minute
from app.dashboard.feed import stream_events
from app.dashboard.listen_in import LISTEN_MAX_MESSAGE
from app.dashboard.pages import _detail
from app.dashboard.timeline import lanes, svg
from app.errors import BadRequest
from app.http.bodies import json_object
from app.http.sockets import Forbidden, origin_ok, refuse_foreign_origin
from app.live.socket import sock
from app.piopiy import pcmo
from app.services import agents, bus, registry, services, store
from app.storage.journal import create_call


@bp.get("/dashboard/api/calls/<call_id>")
@data
def call_data(call_id: str):  # type: ignore[no-untyped-def]
    return jsonify(_detail(call_or_404(call_id)))


@bp.post("/dashboard/api/calls/<call_id>/actions")
@data
def call_action(call_id: str):  # type: ignore[no-untyped-def]
    body = json_object()
    return jsonify(control.perform(call_id, body, by=f"dashboard:{session['user']}"))


@bp.get("/dashboard/calls/<call_id>/recording")
@data
def recording(call_id: str):  # type: ignore[no-untyped-def]
    return recording_response(call_or_404(call_id))


@bp.get("/dashboard/calls/<call_id>/timeline.svg")
@data
def timeline_picture(call_id: str):  # type: ignore[no-untyped-def]
    """The call's lanes (refreshed by the call page while the call is live)."""
    call_or_404(call_id)
    return Response(str(svg(lanes(store().timeline(call_id)))), mimetype="image/svg+xml")


@bp.get("/dashboard/charts/hour.svg")
@data
def hour_chart():  # type: ignore[no-untyped-def]
    """Calls started and reply latency per minute, last hour (an image on the calls page)."""
    since = time.time() - 3600
    longest = current_app.config["MAX_CALL_SECONDS"]  # a call live in the last hour started at most this before it
    calls, _ = store().list(since=since - longest, limit=20_000)
    replies = store().timeline_since("reply", since)
    rows = per_minute(calls, replies)
    samples = [r["detail"].get("latency_ms") for r in replies]
    axis = latency_axis([float(ms) for ms in samples if isinstance(ms, (int, float)) and not isinstance(ms, bool)])
    cluster = services().cluster
    live = len(cluster.live_ids()) if cluster is not None else len(registry())
    return Response(hour_svg(rows, live, axis), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.post("/dashboard/api/softphone")
@data
def softphone_call():  # type: ignore[no-untyped-def]
    """Create a call for the browser softphone and hand it a signed stream URL, as Piopiy would get."""
    body = json_object() if request.get_data() else {}
    name = body.get("agent") or agents().default
    if not isinstance(name, str):  # a list or an object was a 500 (#25.13)
        raise BadRequest("The agent must be a name.", {"agent": ["Must be a string."]})
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
    options = pcmo.stream_options(current_app.config, agent)
    return jsonify(
        {
            "call_id": call["id"],
            "ws_url": pcmo.stream_url(current_app.config, call["id"]),
            "rate": int(options["voice_quality"]),
        }
    ), 201


def _open_while(signed_in: Callable[[], bool]) -> Callable[[], bool]:
    """A feed stays open while its sign-in does and the node is not shutting down (a drain waits for it)."""
    svc = services()
    return lambda: svc.accepting and signed_in()


@bp.get("/dashboard/events")
@data
def events():  # type: ignore[no-untyped-def]
    """Server-Sent Events: every live call event, or one call's with ``?call=<id>``.

    EventSource sends ``Origin`` only across origins: such a request from another site's page is refused."""
    if request.headers.get("Origin") and not origin_ok():
        raise Forbidden("The live feed only serves this service's own pages (Origin).")
    return Response(
        stream_events(bus(), request.args.get("call"), still_signed_in=_open_while(sign_in_check())),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


bp.before_request(refuse_foreign_origin)  # the dashboard's sockets (listen-in): this service's own pages only


@sock.route("/dashboard/calls/<call_id>/listen", bp=bp)
def listen(ws, call_id: str) -> None:  # type: ignore[no-untyped-def]
    """Listen-in: both legs of a live call, as binary frames b"c"+pcm (caller) and b"b"+pcm (bot), from any node.

    The browser has nothing to say here, but what it sends is read all the same (and dropped): unread
    messages would pile up in the socket's buffer for as long as the call lasts. One larger than
    LISTEN_MAX_MESSAGE closes the socket with 1009. (Origin and handshake: checked before the upgrade.)
    """
    from streams.errors import CallError
    from streams.link import websocket

    ws.max_message_size = LISTEN_MAX_MESSAGE  # before its reader greenlet first runs: nothing has been read
    if not session_ok():
        websocket.close(ws, 1008, "sign in first")
        return
    live = registry().get(call_id)
    cluster = services().cluster
    try:
        if live is not None:
            rate, frames = live.link.out_rate, listen_in.local_frames(live)
        elif cluster is not None:
            rate, frames = listen_in.remote_frames(cluster, call_id)
        else:
            raise CallError("the call is not live")
    except CallError:
        websocket.close(ws, 1000, "the call is not live")
        return
    reader = gevent.spawn(listen_in.discard_incoming, ws)
    still_signed_in, next_check = sign_in_check(), time.monotonic() + listen_in.RECHECK
    ws.send(json.dumps({"rate": rate}))
    try:
        for frame in frames:
            if time.monotonic() >= next_check:  # a listener whose sign-in has ended stops hearing the call
                if not still_signed_in():
                    websocket.close(ws, 1008, "signed out")
                    break
                next_check = time.monotonic() + listen_in.RECHECK
            websocket.send_bytes(ws, frame)
    except (ConnectionError, OSError):
        pass
    finally:
        reader.kill(block=False)
        frames.close()
        websocket.close(ws, 1000, "call ended")
