"""Stopping without stranding callers, and starting without stale live calls.

On SIGTERM (a deploy, a PaaS restart) gunicorn stops accepting connections and
waits ``graceful_timeout`` for open requests. In that time every live call is
told (the agent's ``shutdown_message``) or handed to a person (``on_shutdown:
handoff``), then ended with the reason ``shutdown`` and a 1001 close frame.
New calls meanwhile get the busy answer or a 1013 close. On start, calls this
service left live (a killed worker, a crash) are ended as ``interrupted``.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import gevent

from app.services import Services
from streams.errors import CallError
from streams.events import StateChanged
from streams.link.settings import CLOSE_GOING_AWAY
from streams.session.call import Call

log = logging.getLogger(__name__)


def leave_call(call: Call, message: str | None, hand_off: bool = False) -> None:
    """Hand the caller to a person, or tell them why the call ends; then end it ("shutdown", 1001)."""
    if call.ended:
        return
    if hand_off and call.handoff.state == "idle":
        try:
            call.transfer(why="shutdown")
        except CallError as exc:
            call.log.info("no shutdown transfer: %s", exc.message)
    for _ in range(600):  # a transfer under way gets up to 12 s to reach its bridge
        if call.handoff.state != "holding":
            break
        gevent.sleep(0.02)
    if call.handoff.state == "bridged":  # a person has the caller: the call stays up, our stream closes
        call.end("shutdown", hangup=False, code=CLOSE_GOING_AWAY)
        return
    if message and call.speaker is not None:
        try:
            call.wait_heard(call.say(message, "goodbye"), 8)
        except CallError:
            pass
    call.end("shutdown", code=CLOSE_GOING_AWAY)


def drain(services: Services, timeout: float = 20.0) -> int:
    """Stop taking calls and leave every live one; return how many there were (once: a second SIGTERM is a no-op)."""
    if not services.accepting:
        return 0
    services.accepting = False
    if services.voice is not None and services.voice.reserve is not None:
        services.voice.reserve.stop()  # no more recognisers made for calls that will not come
    if services.cluster is not None:
        services.cluster.leave_rotation()  # /readyz says draining; Redis tells the other nodes
    calls = services.calls.all()
    log.warning("shutting down: leaving %d live call(s)", len(calls))
    jobs = []
    for call in calls:
        agent = call.agent
        jobs.append(
            gevent.spawn(leave_call, call, agent.get("shutdown_message"), agent.get("on_shutdown") == "handoff")
        )
    gevent.joinall(jobs, timeout=timeout)
    for call in services.calls.all():  # whatever did not finish in time still ends properly
        call.end("shutdown", code=CLOSE_GOING_AWAY)
    return len(calls)


def close_leftovers(services: Services) -> int:
    """End the calls this node left streaming in an earlier run (it can no longer hold them).

    Only this node's own (``NODE_NAME``): other nodes sharing the database keep theirs.
    """
    stale = services.store.left_live(services.config["NODE_NAME"])
    for call in stale:
        services.bus.publish(StateChanged(call_id=call["id"], state="ended", reason="interrupted"))
    if stale:
        log.warning("ended %d call(s) left live by a previous run (interrupted)", len(stale))
    return len(stale)


def install(worker: Any) -> None:
    """gunicorn ``post_worker_init``: on SIGTERM, drain the calls while gunicorn stops accepting.

    With ``DRAIN_NOTICE`` seconds, gunicorn's own handling (which closes the listener) waits that long after
    the drain began: meanwhile new connections still get /readyz 503 "draining" and the busy answer, so a load
    balancer polling /readyz sees the drain instead of a refused connection. A second SIGTERM does not wait."""
    app = worker.wsgi
    services: Services = app.extensions["callstream"]
    original = worker.handle_exit
    timeout = max(1.0, float(worker.cfg.graceful_timeout) - 5)
    notice = float(app.config.get("DRAIN_NOTICE") or 0)
    told: list[bool] = []

    def handle_exit(signum: int, frame: Any) -> None:
        if told or notice <= 0:
            original(signum, frame)
        else:
            gevent.spawn_later(notice, original, signum, frame)
        if not told:
            told.append(True)
            gevent.spawn(drain, services, timeout)

    signal.signal(signal.SIGTERM, handle_exit)
