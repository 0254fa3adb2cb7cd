"""The app's long-lived services, reachable from any request or greenlet in it."""

from __future__ import annotations

from flask import Flask, current_app

from streams.registry import SessionRegistry

from . import voice
from .agents import AgentBook, load_agents
from .calls import CallStore
from .db import Database
from .metrics import Metrics
from .piopiy import PiopiyClient


def init_app(app: Flask) -> None:
    db = Database(app.config["DATABASE_URL"])
    sessions = SessionRegistry(app.config["MAX_CALLS"])
    metrics = Metrics()
    metrics.sessions = sessions
    app.extensions["callstream"] = {
        "db": db,
        "store": CallStore(db),
        "agents": load_agents(app.config["AGENTS_DIR"], app.config["DEFAULT_AGENT"]),
        "piopiy": PiopiyClient(app.config),
        "registry": sessions,
        "metrics": metrics,
    }
    voice.init_app(app, metrics)


def store() -> CallStore:
    return current_app.extensions["callstream"]["store"]


def agents() -> AgentBook:
    return current_app.extensions["callstream"]["agents"]


def piopiy() -> PiopiyClient:
    return current_app.extensions["callstream"]["piopiy"]


def registry() -> SessionRegistry:
    return current_app.extensions["callstream"]["registry"]


def metrics() -> Metrics:
    return current_app.extensions["callstream"]["metrics"]


def reload_agents(app: Flask) -> AgentBook:
    book = load_agents(app.config["AGENTS_DIR"], app.config["DEFAULT_AGENT"])
    app.extensions["callstream"]["agents"] = book
    return book
