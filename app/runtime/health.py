"""Liveness and readiness, and the media files we serve to the platform."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_from_directory

from app.config import MEDIA_DIR
from app.runtime.readiness import problems
from app.services import agents, registry, services
from app.version import __version__

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    book = agents()
    found = problems(services())
    return jsonify(
        {
            "status": "warming" if services().warming else "degraded" if found else "ok",
            "problems": [p.to_dict() for p in found],
            "version": __version__,
            "env": current_app.config["CALLSTREAM_ENV"],
            "calls": {"live": len(registry()), "max": registry().max_calls},
            "agents": {
                "loaded": sorted(book.agents),
                "default": book.default,
                "invalid": [{"file": e.file, "errors": e.errors} for e in book.errors],
            },
            **_voice_status(),
        }
    )


def _voice_status() -> dict:
    voice = services().voice
    if voice is None:
        return {"stt": {"status": "disabled"}, "tts": {"status": "disabled"}}
    tts = {"workers": voice.tts.size, "started": voice.tts.available is not None, **voice.tts.stats}
    tts["status"] = "unavailable" if voice.tts.available is False else "ok"
    if voice.tts.error:
        tts["error"] = voice.tts.error
    return {"stt": {**voice.models.describe(), "recognizers": voice.models.pool_stats}, "tts": tts}


@bp.get("/media/<path:name>")
def media(name: str):  # type: ignore[no-untyped-def]
    """Audio we ship (hold music, prompts), for play actions that use file_url."""
    return send_from_directory(MEDIA_DIR, name)
