"""Callstream: a Flask service between the Piopiy phone network and a voice bot."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.config import FILES, finalize, load_config
from app.version import __version__

__all__ = ["__version__", "create_app"]


def _configure_logging(level: str, log_format: str = "text", node: str = "") -> None:
    """Line logs to stderr (text, or JSON with LOG_FORMAT=json) unless logging was configured already."""
    from app.logs import formatter, install_escaping

    install_escaping()  # caller-supplied text never starts a log line of its own
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter(log_format, node))
        root.addHandler(handler)
    root.setLevel(level)


def _agent_lookup(app: Flask) -> None:
    """JSON log lines name the agent of the call they are about (a live call of this process)."""
    from app.logs import set_agent_lookup

    calls = app.extensions["callstream"].calls

    def agent_of(call_id: str) -> str | None:
        call = calls.get(call_id)
        return (call.agent or {}).get("name") if call is not None else None

    set_agent_lookup(agent_of)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then ``config`` (tests)."""
    settings = load_config()
    settings.update(config or {})
    _configure_logging(settings["LOG_LEVEL"], settings["LOG_FORMAT"], settings["NODE_NAME"])
    finalize(settings)

    app = Flask(
        __name__,
        template_folder=str(FILES / "templates"),
        static_folder=str(FILES / "static"),
        instance_path=settings["INSTANCE_DIR"],
    )
    app.config.from_mapping(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Korean reads as Korean in the API, not \uXXXX

    from app import composition, dashboard, errors
    from app.api import views as api
    from app.http import security
    from app.live import socket as stream_socket
    from app.openapi import document as openapi
    from app.outbox import recordings
    from app.runtime import health, metrics
    from app.storage.db import is_transient
    from app.webhooks import views as webhooks

    composition.init_app(app)
    _agent_lookup(app)
    errors.init_app(app, is_transient)
    security.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(recordings.bp)  # the signed recording URL of the post-call webhook (#23.2)
    dashboard.init_app(app)
    stream_socket.init_app(app)
    logging.getLogger(__name__).info(
        "callstream %s ready (%s, platform %s at %s)",
        __version__,
        settings["CALLSTREAM_ENV"],
        settings["PIOPIY_API_VERSION"],
        settings["PIOPIY_API_URL"],
    )
    return app
