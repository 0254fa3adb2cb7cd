"""The stream WebSocket: ``/stream/<call id>?exp=…&sig=…`` (flask-sock, gevent).

Close codes: 1008 bad or expired signature, 1013 at MAX_CALLS (try again
later), 4001 replaced by a newer socket for the same call, 1000 normal end,
1011 our own error.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from flask_sock import Sock

from streams.events import Note
from streams.media import CLOSE_ERROR, CLOSE_POLICY, CLOSE_TRY_AGAIN
from streams.transport import WebSocket

from . import signing
from .journal import create_call
from .live import open_call
from .services import services

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)
sock = Sock()


@sock.route("/stream/<call_id>", bp=bp)
def stream(ws, call_id: str) -> None:  # type: ignore[no-untyped-def]
    config = current_app.config
    socket = WebSocket(ws)
    reason = signing.verify(config["SECRET_KEY"], call_id, request.args.get("exp"), request.args.get("sig"))
    if reason:
        log.warning("stream for %s refused: %s", call_id, reason)
        socket.close(CLOSE_POLICY, reason)
        return
    svc = services()
    call = svc.calls.get(call_id)
    if call is not None:
        call.attach(socket)  # a duplicate socket replaces the old one
    else:
        record = svc.store.get(call_id)
        if svc.calls.full():
            log.warning("stream for %s refused: MAX_CALLS=%d reached", call_id, svc.calls.max_calls)
            if record is not None:
                svc.bus.publish(Note(call_id=call_id, what="stream.refused", info={"reason": "max_calls"}))
            socket.close(CLOSE_TRY_AGAIN, "try again later")
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
        call = open_call(svc, call_id, agent)
        call.attach(socket)
        call.start()
    try:
        call.serve(socket)
    except Exception:  # noqa: BLE001 - one broken call never disturbs another
        log.exception("call %s: stream handler failed", call_id)
        call.end("internal_error", code=CLOSE_ERROR)


def init_app(app: Flask) -> None:
    hard_cap = max(1024 * 1024, 4 * int(app.config["MAX_FRAME_BYTES"]))
    options = {"max_message_size": hard_cap}
    if app.config["WS_PING_INTERVAL"]:
        options["ping_interval"] = app.config["WS_PING_INTERVAL"]
    app.config.setdefault("SOCK_SERVER_OPTIONS", options)
    app.register_blueprint(bp)
    sock.init_app(app)
