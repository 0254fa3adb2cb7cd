"""Placing calls across nodes through a real Redis (#21.1): a burst is spread, then refused before its load shows.

Nodes are the heartbeats other workers would announce (app/runtime/cluster.py ``announce``); the
placements are counted in a real redis-server, as every node that places a call counts them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis

from app.runtime.load import Limits, Load
from app.runtime.placement import choose_address
from tests.support.redis_server import redis_server

LIMITS = Limits(high=0.8, low=0.6, window=30.0, burst=10)


def node(url: str, n: int, **figures: float | None) -> dict:
    return {"id": f"{url}-{n}", "url": url, "live": 0, "room": True, "load": 0.0, "linear": 0.0, "per_call": None,
            **figures}  # fmt: skip


def test_a_burst_is_spread_over_the_addresses_then_refused_by_what_each_can_take(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url)
        nodes = [node("http://a", 1), node("http://a", 2), node("http://b", 1)]  # two workers at a, one at b
        load = Load(LIMITS, cores=2)
        placed = Counter(choose_address(client, nodes, "http://a", load) for _ in range(40))
        # nothing measured yet: ADMIT_BURST calls a worker, i.e. 20 at a (two workers) and 10 at b
        assert placed == {"http://a": 20, "http://b": 10, None: 10}
        client.flushall()
        # measured: b's worker is half loaded at 0.01 a call (room for 30 more); a's two have no room
        nodes = [node("http://a", 1, room=False), node("http://b", 1, linear=0.5, per_call=0.01, load=0.5)]
        placed = Counter(choose_address(client, nodes, "http://a", load) for _ in range(35))
        assert placed == {"http://b": 30, None: 5}


def test_a_free_speech_call_is_placed_as_three(tmp_path: Path) -> None:
    """ADMIT_FREE_WEIGHT (3): a burst of free-speech calls fills an address's projection three times as fast,
    whichever node placed them (the weight is counted in Redis as three placements)."""
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url)
        nodes = [node("http://a", 1), node("http://b", 1)]
        load = Load(LIMITS, cores=2)
        placed = Counter(choose_address(client, nodes, "http://a", load, weight=3) for _ in range(10))
        assert placed == {"http://a": 3, "http://b": 3, None: 4}  # 10 a worker at once, i.e. 3 free-speech
        assert client.zcard("cs:placed:http://a") == 9
        assert choose_address(client, nodes, "http://a", load) == "http://a"  # room for one phrase call left


def test_without_a_load_to_follow_every_address_with_room_takes_calls(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url)
        placed = Counter(choose_address(client, [node("http://a", 1)], "http://a", None) for _ in range(50))
        assert placed == {"http://a": 50}
        assert choose_address(client, [node("http://a", 1, room=False)], "http://a", None) is None
