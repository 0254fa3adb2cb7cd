"""The app's long-lived services: one typed container, built once in the factory.

Views reach it with ``services()``; greenlets get what they need passed in.
Nothing is assigned into it from outside after it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from streams.events import EventBus
from streams.registry import CallRegistry
from streams.voice import VoiceServices

from . import login_guard
from .agents import AgentBook, load_agents
from .calls import CallStore
from .cluster import Cluster, connect
from .db import Database
from .journal import Journal
from .login_guard import LoginGuard
from .metrics import Metrics
from .piopiy import PiopiyClient
from .writes import Writes


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
    writes: Writes = field(default_factory=Writes)  # call events waiting out a database outage
    agents: AgentBook = field(default_factory=AgentBook)
    login_guard: LoginGuard | None = None
    cluster: Cluster | None = None  # with REDIS_URL: calls, commands and events across nodes
    accepting: bool = True  # False while shutting down: new calls are turned away
    warming: bool = False  # True while app.warmup fills the TTS cache and warms recognisers

    def reload_agents(self) -> AgentBook:
        self.agents = load_agents(self.config["AGENTS_DIR"], self.config["DEFAULT_AGENT"])
        return self.agents


def build(app: Flask) -> Services:
    """Make every service and wire the event subscribers (storage, metrics)."""
    from .voice import voice_services

    config = app.config
    db = Database(config["DATABASE_URL"])  # refuses to start when unreachable; migrates to the newest schema
    writes = Writes()
    store = CallStore(db, settle=writes.settle)  # a read first waits for this node's queued writes
    bus = EventBus()
    calls = CallRegistry(config["MAX_CALLS"])
    metrics = Metrics(calls, writes)
    bus.on_local(Journal(store, writes, config["NODE_NAME"]))
    bus.on_local(metrics.observe)
    built = Services(
        config=config,
        db=db,
        store=store,
        bus=bus,
        calls=calls,
        metrics=metrics,
        piopiy=PiopiyClient(config),
        voice=voice_services(config),
        writes=writes,
        login_guard=login_guard.from_config(config),
        cluster=_cluster(config, calls, bus),
    )
    built.reload_agents()
    return built


def _cluster(config: dict[str, Any], calls: CallRegistry, bus: EventBus) -> Cluster | None:
    if not config["REDIS_URL"]:
        return None
    return Cluster(
        connect(config["REDIS_URL"]),  # refuses to start, naming the URL without its password
        node_url=config["NODE_URL"] or config["PUBLIC_URL"],
        calls=calls,
        bus=bus,
        ttl=config["CLUSTER_TTL"],
        beat=config["CLUSTER_HEARTBEAT"],
    )


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


def init_app(app: Flask) -> Services:
    app.extensions["callstream"] = built = build(app)
    return built


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
