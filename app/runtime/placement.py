"""Where a new call goes when several nodes share the work through Redis (#21.1, #21.3).

Workers of one host share its address, and a stream lands on whichever worker the kernel hands
it to, so a call is placed on an address, not a worker. An address has room while one of its
workers announces room (app/runtime/cluster.py ``announce``) and the calls placed on it within
the window would not take its workers' mean linear load past ``ADMIT_HIGH`` once they talk
(``projected`` in app/runtime/load.py): the calls placed are counted in Redis by every node
that places one, so a burst is spread over the addresses and then refused before its load
shows, whichever node's webhook it reached. Among addresses with room: the least loaded (in
bands of 0.2, the figures are noisy), then the fewest live calls, then our own.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from app.runtime.load import Limits, Load, projected

PLACED = "cs:placed:"


def by_address(nodes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        grouped.setdefault(node["url"], []).append(node)
    return grouped


def ahead(group: list[dict[str, Any]], placed: int, limits: Limits, weight: int = 1) -> float:
    """The mean linear load of an address's workers once the calls placed there within the window talk."""
    linear = sum(float(n.get("linear") or 0.0) for n in group) / len(group)
    costs = [float(n["per_call"]) for n in group if n.get("per_call")]
    per_call = sum(costs) / len(costs) if costs else None
    if per_call is not None:  # measured on the calls the address has: their own mix, unweighted
        weight = 1
    return projected(linear, per_call, (placed + weight) / len(group), limits)


def choose_address(
    client: redis.Redis, nodes: list[dict[str, Any]], ours: str, load: Load | None, weight: int = 1
) -> str | None:
    """The address for one more call (and counted as placed there, ``weight`` times: a free-speech call's
    weight, app/runtime/load.py ``call_weight``), or None when none has room."""
    with_room = [n for n in nodes if n.get("room")]
    if not with_room:
        return None
    limits = load.limits if load is not None else Limits()
    now = time.time()
    choices = []
    for url, group in by_address(with_room).items():
        expected = 0.0  # without a load to follow (none measured here), the announced room decides
        if load is not None and limits.high <= 1:  # ADMIT_HIGH above 1: admission off
            placed = int(client.zcount(f"{PLACED}{url}", now - limits.window, "+inf"))
            expected = ahead(group, placed, limits, weight)
            if expected > limits.high:
                continue
        band = int(max(expected, *(float(n.get("load") or 0.0) for n in group)) * 5)
        choices.append((band, sum(int(n.get("live", 0)) for n in group), url != ours, url))
    if not choices:
        return None
    url = min(choices)[3]
    key = f"{PLACED}{url}"
    pipe = client.pipeline(transaction=False)
    pipe.zadd(key, {uuid.uuid4().hex: now for _ in range(weight)})
    pipe.zremrangebyscore(key, 0, now - limits.window)
    pipe.pexpire(key, int(limits.window * 2000))
    pipe.execute()
    return url
