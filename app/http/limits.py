"""Rate limits as sliding windows: in this process's memory, or in Redis when ``REDIS_URL`` is set, so
that every worker and host counts against the same window (N workers must not mean N times the tries).

Used for failed dashboard sign-ins (app/dashboard/login_guard.py) and for the REST API: ``/api/v1``
allows ``API_RATE_LIMIT`` requests per client address (429 with Retry-After beyond it).

The Redis window is a sorted set per key (member: one hit, score: its wall-clock time), checked and
added to by one Lua script, so concurrent workers cannot both take the last place. If Redis cannot
be reached the request is let through and the failure logged: an outage must not lock the operator
out of the dashboard or stop the API.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Any, Protocol

from flask import Flask, current_app, request

from app.config import parse_rate
from app.errors import APIError

log = logging.getLogger(__name__)
MAX_KEYS = 10000  # keys remembered per window in memory; the stalest are forgotten first
MAX_LISTED = 200  # locked keys a listing returns at most
PREFIX = "callstream:limit:"


class Window(Protocol):
    limit: int
    period: float

    def acquire(self, key: str) -> float | None:
        """Record a hit and return None, or return the seconds until one is allowed (nothing recorded)."""

    def release(self, key: str) -> None:
        """Give the latest hit back."""

    def clear(self, key: str) -> None:
        """Forget every hit of ``key`` (an operator unlocked it)."""

    def waiting(self, key: str) -> float | None:
        """Seconds until ``key`` may take a hit again when it is at its limit; None otherwise (nothing recorded)."""

    def locked(self) -> list[tuple[str, float]]:
        """Keys at their limit now, with the seconds until each takes a hit again."""


class SlidingWindow:
    """At most ``limit`` hits per key in any ``period`` seconds, in this process's memory."""

    def __init__(self, limit: int, period: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.period = period
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget_stale(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.period:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.period - now)
            hits.append(now)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:  # a flood of new keys forgets the stalest ones
                self._hits.popitem(last=False)
            return None

    def release(self, key: str) -> None:
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def waiting(self, key: str, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [hit for hit in self._hits.get(key, ()) if hit > now - self.period]
        return recent[0] + self.period - now if len(recent) >= self.limit else None

    def locked(self, now: float | None = None) -> list[tuple[str, float]]:
        now = time.monotonic() if now is None else now
        with self._lock:
            found = []
            for key, hits in self._hits.items():
                recent = [hit for hit in hits if hit > now - self.period]
                if len(recent) >= self.limit:
                    found.append((key, recent[0] + self.period - now))
            return found[:MAX_LISTED]

    def _forget_stale(self, now: float) -> None:
        """Keys are kept in order of their latest hit: drop those at the front with nothing left in the window."""
        while self._hits:
            oldest = next(iter(self._hits.values()))
            if oldest and oldest[-1] > now - self.period:
                break
            self._hits.popitem(last=False)


ACQUIRE = """
local key, now, period, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + period - now)
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, math.ceil(period * 1000))
return false
"""


class RedisWindow:
    """The same window kept in Redis under ``callstream:limit:<name>:<key>``: shared by workers and hosts."""

    def __init__(self, client: Any, name: str, limit: int, period: float) -> None:
        self.client = client
        self.prefix = f"{PREFIX}{name}:"
        self.limit = limit
        self.period = period
        self._acquire = client.register_script(ACQUIRE)

    def acquire(self, key: str) -> float | None:
        import redis

        try:
            hit = uuid.uuid4().hex
            wait = self._acquire(keys=[self.prefix + key], args=[time.time(), self.period, self.limit, hit])
        except redis.RedisError as exc:
            log.error("rate limit not applied: Redis failed (%s)", type(exc).__name__)
            return None
        return None if wait is None else max(0.0, float(wait))

    def release(self, key: str) -> None:
        self._quietly(lambda: self.client.zpopmax(self.prefix + key))

    def clear(self, key: str) -> None:
        self._quietly(lambda: self.client.delete(self.prefix + key))

    def waiting(self, key: str) -> float | None:
        now = time.time()
        hits = self._quietly(
            lambda: self.client.zrangebyscore(self.prefix + key, now - self.period, "+inf", withscores=True)
        )
        return hits[0][1] + self.period - now if hits and len(hits) >= self.limit else None

    def locked(self) -> list[tuple[str, float]]:
        def scan() -> list[tuple[str, float]]:
            now, found = time.time(), []
            for name in self.client.scan_iter(match=self.prefix + "*", count=100):
                hits = self.client.zrangebyscore(name, now - self.period, "+inf", withscores=True)
                if len(hits) >= self.limit:
                    key = name.decode() if isinstance(name, bytes) else name
                    found.append((key[len(self.prefix) :], hits[0][1] + self.period - now))
                if len(found) >= MAX_LISTED:
                    break
            return found

        return self._quietly(scan) or []

    def _quietly(self, work: Any) -> Any:
        import redis

        try:
            return work()
        except redis.RedisError as exc:
            log.error("rate limit store: Redis failed (%s)", type(exc).__name__)
            return None


def make_window(rate: str, name: str, redis_url: str = "") -> Window | None:
    """The window for ``rate`` ("10/minute"; None for "off"), in Redis when ``redis_url`` is set."""
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    if not redis_url:
        return SlidingWindow(*parsed)
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=5)
    return RedisWindow(client, name, *parsed)


def client_address(proxy_hops: int) -> str:
    """The peer, or with proxies in front, the address the outermost trusted one saw."""
    if proxy_hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= proxy_hops:
            return forwarded[-proxy_hops]
    return request.remote_addr or "unknown"


class TooManyRequests(APIError):
    status, code = 429, "too_many_requests"


def _limit_api() -> None:
    if request.blueprint != "api":
        return
    window = current_app.extensions.get("callstream_api_limit")
    wait = window.acquire(client_address(int(current_app.config["TRUSTED_PROXY_HOPS"]))) if window else None
    if wait is not None:
        retry = str(max(1, math.ceil(wait)))
        raise TooManyRequests(f"Too many requests; try again in {retry} s.", headers={"Retry-After": retry})


def init_app(app: Flask) -> None:
    """``/api/v1`` requests limited per client address (API_RATE_LIMIT), shared through Redis when set."""
    app.extensions["callstream_api_limit"] = make_window(
        app.config["API_RATE_LIMIT"], "api", app.config.get("REDIS_URL", "")
    )
    app.before_request(_limit_api)
