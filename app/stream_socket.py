"""The stream WebSocket: ``/stream/<call id>?exp=…&sig=…`` (flask-sock, gevent).

Close codes: 1008 bad or expired signature, 1013 at MAX_CALLS (try again
later), 4001 replaced by a newer socket for the same call, 1000 normal end,
1011 our own error.
"""

from __future__ import annotations

import logging

import requests
from flask import Blueprint, Flask, current_app, request
from flask_sock import Sock

from streams import transport
from streams.session import CLOSE_ERROR, CLOSE_POLICY, CLOSE_TRY_AGAIN, CallSession, SessionSettings

from . import call_flow, signing
from .services import agents, registry, store

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)
sock = Sock()


def session_settings(config: dict, agent: dict | None) -> SessionSettings:
    rate = int(call_flow.stream_options(config, agent)["voice_quality"])
    max_duration = float(config["MAX_CALL_SECONDS"])
    if agent and agent.get("max_duration"):
        max_duration = min(max_duration, float(agent["max_duration"]))
    return SessionSettings(
        rate=rate,
        max_frame_bytes=config["MAX_FRAME_BYTES"],
        idle_timeout=config["IDLE_TIMEOUT"],
        max_duration=max_duration,
        lead_ms=config["PLAYBACK_LEAD_MS"],
        chunk_ms=config["AUDIO_CHUNK_MS"],
        play_mode=config["PLAY_MODE"],
        recordings_dir=f"{config['INSTANCE_DIR']}/recordings" if config["RECORD_CALLS"] else None,
        media_dir=str(call_flow.MEDIA_DIR),
        public_url=config["PUBLIC_URL"],
        caller_id=config["PIOPIY_NUMBER"],
    )


def _ended(session: CallSession) -> None:
    services = session.services
    services["registry"].remove(session)
    services["metrics"].session_ended(session)


def fetch_media(url: str, limit: int = 20 * 1024 * 1024) -> bytes:
    """Download a file to play, bounded in time and size."""
    with requests.get(url, timeout=10, stream=True) as response:
        response.raise_for_status()
        data = bytearray()
        for part in response.iter_content(64 * 1024):
            data.extend(part)
            if len(data) > limit:
                raise ValueError(f"{url} is larger than {limit} bytes")
        return bytes(data)


@sock.route("/stream/<call_id>", bp=bp)
def stream(ws, call_id: str) -> None:  # type: ignore[no-untyped-def]
    config = current_app.config
    reason = signing.verify(config["SECRET_KEY"], call_id, request.args.get("exp"), request.args.get("sig"))
    if reason:
        log.warning("stream for %s refused: %s", call_id, reason)
        transport.close(ws, CLOSE_POLICY, reason)
        return
    sessions = registry()
    session = sessions.get(call_id)
    if session is not None:
        session.attach(ws)  # a duplicate socket replaces the old one
    else:
        calls = store()
        call = calls.get(call_id)
        if sessions.full():
            log.warning("stream for %s refused: MAX_CALLS=%d reached", call_id, sessions.max_calls)
            if call is not None:
                calls.add_timeline(call_id, "stream.refused", {"reason": "max_calls"})
            transport.close(ws, CLOSE_TRY_AGAIN, "try again later")
            return
        if call is None:
            # Validly signed but unknown: an outbound call can connect before any record of it reaches us.
            call = calls.create(
                direction="outbound", from_number=None, to_number=None, call_id=call_id, extra={"created_by": "stream"}
            )
        agent = agents().get(call["agent"]) or agents().for_number(call.get("to_number"))
        session = CallSession(
            call_id,
            store=calls,
            settings=session_settings(config, agent),
            agent=agent,
            on_end=_ended,
            fetch=fetch_media,
        )
        session.services = current_app.extensions["callstream"]
        attach_voice = session.services.get("voice_factory")
        if attach_voice is not None:
            attach_voice(session)
        sessions.add(session)
        session.attach(ws)
        session.start()
    try:
        session.serve(ws)
    except Exception:  # noqa: BLE001 - one broken call never disturbs another
        log.exception("call %s: stream handler failed", call_id)
        session.end("internal_error", code=CLOSE_ERROR)


def init_app(app: Flask) -> None:
    hard_cap = max(1024 * 1024, 4 * int(app.config["MAX_FRAME_BYTES"]))
    options = {"max_message_size": hard_cap}
    if app.config["WS_PING_INTERVAL"]:
        options["ping_interval"] = app.config["WS_PING_INTERVAL"]
    app.config.setdefault("SOCK_SERVER_OPTIONS", options)
    app.register_blueprint(bp)
    sock.init_app(app)
