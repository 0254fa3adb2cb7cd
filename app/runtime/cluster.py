"""Many nodes, one service: who holds each call, commands to its node, events to every node (Redis).

A node is one worker process. With ``REDIS_URL`` set, every node:

- keeps ``cs:node:<id>`` (its URL, live calls, load, room) and ``cs:call:<call id>`` (which node holds the
  socket) alive with a TTL it refreshes every beat; a node that stops, is gone: a survivor ends its calls;
- takes commands for its calls from its inbox list ``cs:inbox:<id>`` and answers on a per-request reply
  list (lists, not pub/sub: nothing is lost while a node is busy; a dead node's request times out);
- publishes its call events on ``cs:events``, and relays the other nodes' events to its own dashboard
  feed (storage is written once, by the node that holds the call).

Without Redis none of this runs: one process, the in-process bus and registry.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import gevent
import redis
from gevent.queue import Full, Queue

from app.runtime.load import Load
from app.runtime.placement import choose_address
from app.storage.db import is_transient
from app.urls import safe_url
from streams.errors import CallError, CallNotLive, error_from_dict
from streams.events import CallEvent, EventBus, StateChanged
from streams.session.registry import CallRegistry

log = logging.getLogger(__name__)

PREFIX = "cs:"
STREAM_STATES = ("connecting", "live", "handed_off")


class ClusterUnavailable(CallError):
    """Redis cannot be reached, or the node holding the call did not answer in time."""

    status, code = 503, "cluster_unavailable"


def connect(url: str) -> redis.Redis:
    """A client for ``url``; refuses (RuntimeError naming the URL, never its password) when unreachable."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5, health_check_interval=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"REDIS_URL {safe_url(url)} cannot be reached: {type(exc).__name__}") from None
    return client


class Cluster:
    def __init__(
        self,
        client: redis.Redis,
        *,
        node_url: str,
        calls: CallRegistry,
        bus: EventBus,
        ttl: float = 10.0,
        beat: float = 2.0,
        node_id: str | None = None,
        load: Load | None = None,
    ) -> None:
        self.redis = client
        self.node_id = node_id or ""  # named in start(): after gunicorn forks, each worker is a node
        self.node_url = node_url
        self.calls = calls
        self.load = load  # this node's measured load, announced: a node refusing by load is not picked
        self.bus = bus
        self.ttl, self.beat = ttl, beat
        self.healthy = True
        self.accepting = True  # False once draining: other nodes stop placing calls here (leave_rotation)
        self._outbox: Queue = Queue(maxsize=10_000)
        self._tasks: list[gevent.Greenlet] = []
        self.sweep: Callable[[], int] | None = None  # set by start(): ends calls of lost nodes
        # Other requests a node answers for its calls, by type (e.g. "tap": app/dashboard/listen_in.py).
        self.handlers: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, sweep: Callable[[], int]) -> None:
        """Run the heartbeat, the inbox, the event relay and the sweeper (greenlets of this process)."""
        self.sweep = sweep
        self.node_id = self.node_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.bus.relay = self._relay
        for loop in (self._heartbeat, self._serve_inbox, self._publish_events, self._listen_events, self._sweeper):
            self._tasks.append(gevent.spawn(self._forever, loop))
        log.info("node %s joined the cluster (%s)", self.node_id, self.node_url)

    def stop(self) -> None:
        gevent.killall(self._tasks, timeout=2)
        try:
            self.redis.delete(f"{PREFIX}node:{self.node_id}")
        except redis.RedisError:
            pass

    def _forever(self, loop: Callable[[], None]) -> None:
        """Run ``loop`` again after a Redis failure, with backoff; live calls never notice."""
        delay = 0.5
        while True:
            try:
                loop()
                return
            except redis.RedisError as exc:
                if self.healthy:
                    log.error("redis unreachable (%s): retrying; commands from other nodes fail meanwhile", exc)
                self.healthy = False
                gevent.sleep(delay)
                delay = min(delay * 2, 10)

    # -- who holds what -------------------------------------------------------------------------
    def claim(self, call_id: str) -> None:
        """This node holds ``call_id`` from now on (called when its socket opens)."""
        try:
            self.redis.set(f"{PREFIX}call:{call_id}", self.node_id, px=int(self.ttl * 1000))
        except redis.RedisError as exc:
            log.warning("call %s: could not register it in redis: %s", call_id, exc)

    def release(self, call_id: str) -> None:
        try:
            key = f"{PREFIX}call:{call_id}"
            if self.redis.get(key) == self.node_id.encode():
                self.redis.delete(key)
        except redis.RedisError:
            pass

    def owner(self, call_id: str) -> str | None:
        value = self.redis.get(f"{PREFIX}call:{call_id}")
        return value.decode() if value else None

    def live_ids(self) -> list[str]:
        return [key.decode()[len(PREFIX) + 5 :] for key in self.redis.scan_iter(f"{PREFIX}call:*", count=500)]

    def nodes(self) -> list[dict[str, Any]]:
        keys = list(self.redis.scan_iter(f"{PREFIX}node:*", count=100))
        return [json.loads(v) for v in self.redis.mget(keys) if v] if keys else []

    def has_room(self) -> bool:
        """This node takes a call: not draining, under MAX_CALLS, its measured load below the mark."""
        return self.accepting and not self.calls.full() and not (self.load is not None and self.load.refusing)

    def pick_node(self, weight: int = 1) -> str | None:
        """The address to place a call on, or None (busy): app/runtime/placement.py decides."""
        try:
            return choose_address(self.redis, self.nodes(), self.node_url, self.load, weight)
        except redis.RedisError:
            return self.node_url if self.has_room() else None  # on our own: our room

    def leave_rotation(self) -> None:
        """Draining (SIGTERM): no node places a new call here from now on; our live calls stay ours."""
        self.accepting = False
        try:
            self.announce()
        except redis.RedisError:
            pass  # the next heartbeat says it

    def announce(self) -> None:
        """One heartbeat: this node (its room, whether it takes calls) and its calls, for ``ttl`` seconds."""
        pipe = self.redis.pipeline(transaction=False)
        info = {"id": self.node_id, "url": self.node_url, "live": len(self.calls), "max": self.calls.max_calls}
        info["accepting"] = self.accepting
        info["room"] = self.has_room()
        info["load"] = self.load.figures.load if self.load is not None else 0.0
        if self.load is not None:  # what a burst placed here would add (pick_node)
            info["linear"], info["per_call"] = self.load.figures.linear, self.load.figures.per_call
        pipe.set(f"{PREFIX}node:{self.node_id}", json.dumps(info), px=int(self.ttl * 1000))
        for call_id in self.calls.ids():
            pipe.set(f"{PREFIX}call:{call_id}", self.node_id, px=int(self.ttl * 1000))
        pipe.execute()

    def _heartbeat(self) -> None:
        while True:
            self.announce()
            if not self.healthy:
                log.info("redis is back")
            self.healthy = True
            gevent.sleep(self.beat)

    def _sweeper(self) -> None:
        """Every few seconds one node (a short lock) ends the calls whose node is gone."""
        while True:
            gevent.sleep(self.beat * 1.5)
            if self.sweep is not None and self.redis.set(
                f"{PREFIX}sweep", self.node_id, nx=True, px=int(self.beat * 1000)
            ):
                self.sweep()

    # -- commands --------------------------------------------------------------------------------
    def send(self, call_id: str, name: str, params: Mapping[str, Any], by: str, timeout: float = 3.0) -> dict:
        """Carry out a command on the node that holds ``call_id``; its CallError comes back as one."""
        return self.request(call_id, {"type": "command", "name": name, "params": dict(params), "by": by}, timeout)

    def request(self, call_id: str, body: dict[str, Any], timeout: float = 3.0) -> dict:
        """Ask the node holding ``call_id`` (a command, or a ``handlers`` type); its answer or its CallError."""
        try:
            owner = self.owner(call_id)
            if owner is None:
                raise CallNotLive(f"Call {call_id} has no live stream on any node; commands need one.")
            request_id = uuid.uuid4().hex
            body = {**body, "id": request_id, "call_id": call_id}
            self.redis.rpush(f"{PREFIX}inbox:{owner}", json.dumps(body))
            answer = self.redis.blpop([f"{PREFIX}reply:{request_id}"], timeout=timeout)
        except redis.RedisError as exc:
            raise ClusterUnavailable(f"The call's node cannot be reached right now ({type(exc).__name__}).") from None
        if answer is None:
            raise ClusterUnavailable(f"The node holding call {call_id} did not answer within {timeout:.0f} s.")
        reply = json.loads(answer[1])
        if not reply["ok"]:
            raise error_from_dict(reply["error"])
        return reply["result"]

    def _serve_inbox(self) -> None:
        inbox = f"{PREFIX}inbox:{self.node_id}"
        while True:
            item = self.redis.blpop([inbox], timeout=1)
            if item is not None:
                gevent.spawn(self._answer, json.loads(item[1]))

    def _answer(self, request: dict[str, Any]) -> None:
        call = self.calls.get(request["call_id"])
        try:
            if call is None:
                raise CallNotLive(f"Call {request['call_id']} is no longer live.")
            if request.get("type", "command") == "command":
                result = call.handle(request["name"], request["params"], request["by"])
            else:
                result = self.handlers[request["type"]](call, request)
            reply: dict[str, Any] = {"ok": True, "result": result}
        except CallError as exc:
            reply = {"ok": False, "error": exc.to_dict()}
        key = f"{PREFIX}reply:{request['id']}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(key, json.dumps(reply, default=str))
        pipe.expire(key, 30)
        pipe.execute()

    # -- events ----------------------------------------------------------------------------------
    def _relay(self, event: CallEvent) -> None:
        """Called by the bus for every local event: queue it for the publisher (never blocks a call)."""
        try:
            self._outbox.put_nowait(event)
        except Full:
            pass  # Redis far behind: other nodes' dashboards miss a line, calls go on

    def _publish_events(self) -> None:
        while True:
            events = [self._outbox.get()]
            while not self._outbox.empty() and len(events) < 200:
                events.append(self._outbox.get_nowait())
            pipe = self.redis.pipeline(transaction=False)
            for event in events:
                pipe.publish(
                    f"{PREFIX}events", json.dumps({"node": self.node_id, "event": event.to_dict()}, default=str)
                )
            pipe.execute()

    def _listen_events(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(f"{PREFIX}events")
        try:
            for message in pubsub.listen():
                data = json.loads(message["data"])
                if data["node"] != self.node_id:
                    self.bus.deliver(CallEvent.from_dict(data["event"]))
        finally:
            pubsub.close()


def lost_calls_sweeper(cluster: Cluster, store: Any, bus: EventBus, grace: float = 5.0) -> Callable[[], int]:
    """A sweep that ends every streaming call no node holds any more (``node_lost``)."""

    def sweep() -> int:
        lost = 0
        now = time.time()
        try:
            streaming = [call for state in STREAM_STATES for call in store.list(state=state, limit=10_000)[0]]
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("lost-call sweep skipped: the database cannot be reached (%s)", type(exc).__name__)
            return 0  # the next sweep tries again; the sweeper itself must not die
        for call in streaming:
            if now - call["updated_at"] < grace or cluster.calls.get(call["id"]) is not None:
                continue  # just opened (its node may not have registered it yet), or ours
            if cluster.owner(call["id"]) is None:
                bus.publish(StateChanged(call_id=call["id"], state="ended", reason="node_lost"))
                lost += 1
        if lost:
            log.warning("ended %d call(s) whose node is gone (node_lost)", lost)
        return lost

    return sweep
