"""Liveness and readiness, and the media files we serve to the platform.

* ``/livez``: the process answers (200). For a supervisor that restarts a hung
  process (a container's liveness probe). Never 503 for load or warming.
* ``/readyz``: this node takes calls (200) or not (503, with the reason): for a
  router or load balancer, a container ``HEALTHCHECK``, a PaaS health check.
* ``/healthz``: everything an operator wants (problems, agents, speech), with
  readiness's status code.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_from_directory

from app.config import MEDIA_DIR
from app.runtime.readiness import Readiness, problems, readiness
from app.services import agents, registry, services
from app.version import __version__

bp = Blueprint("health", __name__)


NO_STORE = {"Cache-Control": "no-store"}


def _status(state: Readiness, degraded: bool) -> str:
    if state.reason in ("draining", "warming", "overloaded"):
        return state.reason
    return "degraded" if degraded else "ok"


@bp.get("/livez")
def livez():  # type: ignore[no-untyped-def]
    """The process answers: nothing else is checked (a busy or warming node is alive)."""
    return jsonify({"status": "alive", "version": __version__}), 200, NO_STORE


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """200 when this node takes a call now, else 503 with the reason (draining, warming, full, overloaded, degraded)."""
    state = readiness(services())
    body = {
        "ready": state.ready,
        "reason": state.reason,
        "message": state.message,
        "calls": {"live": len(registry()), "max": registry().max_calls},
        "load": _load(),
    }
    return jsonify(body), 200 if state.ready else 503, NO_STORE


def _load() -> dict | None:
    """The measured load, whether calls are taken, and the calls refused by reason (app/runtime/load.py)."""
    load = services().load
    return load.describe() if load is not None else None


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    book = agents()
    found = problems(services())
    state = readiness(services(), found)
    body = {
        "status": _status(state, bool(found)),
        "ready": state.ready,
        "reason": state.reason,
        "problems": [p.to_dict() for p in found],
        "version": __version__,
        "env": current_app.config["CALLSTREAM_ENV"],
        "calls": {"live": len(registry()), "max": registry().max_calls},
        "load": _load(),
        "agents": {
            "loaded": sorted(book.agents),
            "default": book.default,
            "invalid": [{"file": e.file, "errors": e.errors} for e in book.errors],
        },
        **_voice_status(),
    }
    return jsonify(body), 200 if state.ready else 503, NO_STORE


def _voice_status() -> dict:
    voice = services().voice
    if voice is None:
        return {"stt": {"status": "disabled"}, "tts": {"status": "disabled"}}
    tts = {"workers": voice.tts.size, "started": voice.tts.available is not None, **voice.tts.stats}
    tts["status"] = "unavailable" if voice.tts.available is False else "ok"
    if voice.tts.error:
        tts["error"] = voice.tts.error
    stt = {**voice.models.describe(), "recognizers": voice.models.pool_stats}
    if voice.reserve is not None:
        stt["reserve"] = voice.reserve.describe()
    return {"stt": stt, "tts": tts}


@bp.get("/media/<path:name>")
def media(name: str):  # type: ignore[no-untyped-def]
    """Audio we ship (hold music, prompts), for play actions that use file_url."""
    return send_from_directory(MEDIA_DIR, name)
