"""The stream WebSocket: ``/stream/<call id>?exp=…&sig=…`` (flask-sock, gevent).

Close codes: 1000 normal end; 1001 the service is shutting down (the caller
was told); 1008 bad or expired signature, a call that has already ended (a
replayed URL, a redial after a normal close or after the reconnect grace), or
caller audio far faster than real time (``audio_flood``); 1011 our own error; 1013 at MAX_CALLS or while shutting down
(try again later); 4001 replaced by a newer socket for the same call.

Extensions: none. FreeSWITCH's mod_audio_stream (what Piopiy's stream almost
certainly is) offers permessage-deflate by default; 20 ms of PCM does not
compress, inflating every frame costs CPU and switches the frame fast path off
(streams/link/frames.py), so the offer is declined: the header is taken out of
the handshake before simple-websocket answers it, on every socket route
(app/http/sockets.py; the offer is kept in the environ for logs and captures).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask_sock import Sock

from app.capture import watch as watch_socket
from app.live.opening import open_call
from app.piopiy import signing
from app.services import Services, services
from app.storage.calls import FINAL_STATES
from app.storage.journal import create_call
from streams.events import StateChanged
from streams.link import frames, websocket
from streams.link.settings import CLOSE_ERROR, CLOSE_POLICY, CLOSE_TRY_AGAIN
from streams.link.websocket import WebSocket

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)
sock = Sock()
LINGER = 1.0  # seconds to wait for the peer's close after ours


@sock.route("/stream/<call_id>", bp=bp)
def stream(ws, call_id: str) -> None:  # type: ignore[no-untyped-def]
    config = current_app.config
    socket = watch_socket(WebSocket(ws), config, call_id, request)  # PLATFORM_CAPTURE (app/capture.py)
    reason = signing.verify(config["SECRET_KEY"], call_id, request.args.get("exp"), request.args.get("sig"))
    if reason:
        log.warning("stream for %s refused: %s", call_id, reason)
        socket.close(CLOSE_POLICY, reason)
        socket.linger(LINGER)
        return
    svc = services()
    call = svc.calls.get(call_id)
    if call is not None and not call.ended:
        call.attach(socket)  # a redial continues the call; a duplicate socket replaces the old one
    else:
        record = svc.store.get(call_id)
        ended_here = call is not None or svc.calls.ended(call_id)  # its own end is published already
        refusal = _refusal(svc, record, ended=ended_here)
        if refusal is not None:
            code, why, message = refusal
            log.warning("stream for %s refused: %s", call_id, why)
            if record is not None and record["state"] not in FINAL_STATES and not ended_here:
                svc.bus.publish(StateChanged(call_id=call_id, state="ended", reason=why))
            socket.close(code, message)
            socket.linger(LINGER)  # a module redialling sends its metadata at once: the code must still arrive
            return
        if record is None:
            # Validly signed but unknown: an outbound call can connect before any record of it reaches us.
            record = create_call(
                svc.store,
                svc.bus,
                direction="outbound",
                from_number=None,
                to_number=None,
                call_id=call_id,
                extra={"created_by": "stream"},
            )
        agent = svc.agents.get(record["agent"]) or svc.agents.for_number(record.get("to_number"))
        call = open_call(svc, call_id, agent, outbound=record["direction"] == "outbound")
        call.attach(socket)
        call.start()
    try:
        call.serve(socket)
    except Exception:  # noqa: BLE001 - one broken call never disturbs another
        log.exception("call %s: stream handler failed", call_id)
        call.end("internal_error", code=CLOSE_ERROR)
    socket.linger(LINGER)  # our close frame reaches a peer still sending before the TCP connection goes


def _refusal(svc: Services, record: dict[str, Any] | None, ended: bool) -> tuple[int, str, str] | None:
    """Why a new stream cannot be taken, as (close code, stored reason, close message), or None.

    A call that ended (closed normally, ended by us, or its reconnect grace ran out) is never reopened: a
    redial of its URL is refused with 1008 "this call has ended", even before its stored state says so.
    """
    if ended or (record is not None and record["state"] in FINAL_STATES):
        return CLOSE_POLICY, "call_ended", "this call has ended"  # a replayed stream URL
    if not svc.accepting:
        return CLOSE_TRY_AGAIN, "shutting_down", "try again later"
    if svc.calls.full():
        return CLOSE_TRY_AGAIN, "max_calls", "try again later"
    return None


def _is_stream(environ: dict[str, Any]) -> bool:
    path = str(environ.get("PATH_INFO", ""))
    # Listen-in (app/dashboard) reads its socket itself too: a reader thread would take in all a page sends.
    return path.startswith("/stream/") or path.endswith("/listen")


def init_app(app: Flask) -> None:
    hard_cap = max(1024 * 1024, 4 * int(app.config["MAX_FRAME_BYTES"]))
    options: dict[str, Any] = {"max_message_size": hard_cap}
    if app.config["WS_PING_INTERVAL"]:
        # simple-websocket's reader thread sends the keep-alive pings: every socket keeps its thread.
        options["ping_interval"] = app.config["WS_PING_INTERVAL"]
    else:
        # Stream sockets are read by their handler (streams/link/websocket.py): no reader thread per call.
        options["thread_class"] = functools.partial(websocket.reader_thread, inline=_is_stream)
    app.config.setdefault("SOCK_SERVER_OPTIONS", options)
    frames.check()  # the fast path reads wsproto's internals: off (logged) if this release moved them
    app.register_blueprint(bp)
    sock.init_app(app)
