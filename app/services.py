"""The app's long-lived services: one typed container (built in app.composition), and its accessors.

Views reach it with ``services()``; greenlets get what they need passed in.
Nothing is assigned into it from outside after it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from app.agents.book import AgentBook, load_agents

if TYPE_CHECKING:  # the types only: this module is the bottom of app/, built by app.composition
    from app.dashboard.login_guard import LoginGuard
    from app.piopiy.client import PiopiyClient
    from app.runtime.cluster import Cluster
    from app.runtime.load import Load
    from app.runtime.metrics import Metrics
    from app.storage.calls import CallStore
    from app.storage.db import Database
    from app.storage.writes import Writes
    from streams.events import EventBus
    from streams.session.registry import CallRegistry
    from streams.voice.services import VoiceServices


@dataclass
class Services:
    config: dict[str, Any]
    db: Database
    store: CallStore
    bus: EventBus
    calls: CallRegistry
    metrics: Metrics
    piopiy: PiopiyClient
    voice: VoiceServices | None
    writes: Writes  # call events waiting out a database outage
    agents: AgentBook = field(default_factory=AgentBook)
    login_guard: LoginGuard | None = None
    cluster: Cluster | None = None  # with REDIS_URL: calls, commands and events across nodes
    load: Load | None = None  # the measured load: calls are refused above it (app/runtime/load.py, #21.1)
    accepting: bool = True  # False while shutting down: new calls are turned away
    warming: bool = False  # True while app.live.warmup fills the TTS cache and warms recognisers

    def reload_agents(self) -> AgentBook:
        self.agents = load_agents(
            self.config["AGENTS_DIR"], self.config["DEFAULT_AGENT"], self.config.get("TOOL_HOSTS", ())
        )
        return self.agents


def is_live(call_id: str) -> bool:
    """Held by this node, or (with Redis) by any node."""
    svc = services()
    if svc.calls.get(call_id) is not None:
        return True
    if svc.cluster is None:
        return False
    try:
        return svc.cluster.owner(call_id) is not None
    except Exception:  # noqa: BLE001 - Redis down: what this node knows
        return False


def services() -> Services:
    return current_app.extensions["callstream"]


def store() -> CallStore:
    return services().store


def agents() -> AgentBook:
    return services().agents


def piopiy() -> PiopiyClient:
    return services().piopiy


def registry() -> CallRegistry:
    return services().calls


def bus() -> EventBus:
    return services().bus
