"""The composition root: every long-lived service made once, wired together, and put on the app.

``create_app`` calls ``init_app``; everything else reaches the result through
``app.services`` (its accessors), so this is the only module of app/ that
imports most of the others, and none imports it but the factory.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.dashboard import login_guard
from app.live.wiring import voice_services
from app.piopiy.client import PiopiyClient
from app.runtime.cluster import Cluster, connect
from app.runtime.load import Limits, Load
from app.runtime.metrics import Metrics
from app.services import Services
from app.storage.calls import CallStore
from app.storage.db import Database
from app.storage.journal import Journal
from app.storage.writes import Writes
from streams.events import EventBus
from streams.session.registry import CallRegistry


def init_app(app: Flask) -> Services:
    app.extensions["callstream"] = built = build(app)
    return built


def build(app: Flask) -> Services:
    """Make every service and wire the event subscribers (storage, metrics)."""
    config = app.config
    db = Database(config["DATABASE_URL"])  # refuses to start when unreachable; migrates to the newest schema
    writes = Writes()
    store = CallStore(db, settle=writes.settle)  # a read first waits for this node's queued writes
    bus = EventBus()
    calls = CallRegistry(config["MAX_CALLS"])
    load = Load(Limits.from_config(config), workers=config["CALLSTREAM_WORKERS"], active=calls.__len__)
    metrics = Metrics(calls, writes, load)
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
        cluster=_cluster(config, calls, bus, load),
        load=load,
    )
    built.reload_agents()
    store.announce = lambda: _call_webhook_set(built)  # no URL anywhere: no outbox rows to write
    return built


def _call_webhook_set(built: Services) -> bool:
    """Is a post-call webhook configured: CALL_WEBHOOK_URL, or any agent's call_webhook_url (#23.2)?"""
    agents = built.agents.agents.values()
    return bool(built.config["CALL_WEBHOOK_URL"]) or any(a.get("call_webhook_url") for a in agents)


def _cluster(config: dict[str, Any], calls: CallRegistry, bus: EventBus, load: Load) -> Cluster | None:
    if not config["REDIS_URL"]:
        return None
    return Cluster(
        connect(config["REDIS_URL"]),  # refuses to start, naming the URL without its password
        node_url=config["NODE_URL"] or config["PUBLIC_URL"],
        calls=calls,
        bus=bus,
        ttl=config["CLUSTER_TTL"],
        beat=config["CLUSTER_HEARTBEAT"],
        load=load,
    )
