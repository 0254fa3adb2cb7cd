"""Dashboard sign-in that neither stalls live calls nor helps a password guesser.

* The password hash (scrypt, ~100 ms of CPU) runs in a small thread pool of its
  own when the process runs under gevent, so the event loop that carries every
  call's audio keeps running (hashlib releases the GIL while it hashes). A pool
  of its own, not the hub's: the hub's threads are vosk's (STT), and a burst of
  sign-ins must not queue callers' speech recognition behind it; two threads
  also bound the memory scrypt takes (32 MB each) during a burst.
* Every attempt is checked against a hash, a throwaway one when the user name
  is unknown, so a wrong user name takes as long as a wrong password.
* Failed attempts are limited per client address and per user name (known or
  not) in sliding windows kept in memory: the service runs one process
  (gunicorn.conf.py), so memory is the one place every request of it sees.
  A successful sign-in gives its attempt back.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from werkzeug.security import check_password_hash, generate_password_hash

from app.config import parse_rate
from app.storage.sign_ins import password_mark
from streams.offload import in_gevent

HASH_THREADS = 2
MAX_KEYS = 10000  # addresses or user names remembered per window; the stalest are forgotten first
_pool: Any = None
_pool_lock = threading.Lock()


def _hash_pool() -> Any:
    """The gevent thread pool for password hashes, made on first use (in the worker, after the fork)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from gevent.threadpool import ThreadPool

            _pool = ThreadPool(HASH_THREADS)
        return _pool


def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in the hash pool under gevent (the loop keeps serving); call it directly otherwise."""
    if in_gevent():
        return _hash_pool().apply(fn, args)
    return fn(*args)


class SlidingWindow:
    """At most ``limit`` hits per key in any ``period`` seconds."""

    def __init__(self, limit: int, period: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.period = period
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float | None = None) -> float | None:
        """Record a hit and return None, or return the seconds until one is allowed (nothing recorded)."""
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
        """Give the latest hit back (the attempt succeeded)."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()

    def _forget_stale(self, now: float) -> None:
        """Keys are kept in order of their latest hit: drop those at the front with nothing left in the window."""
        while self._hits:
            oldest = next(iter(self._hits.values()))
            if oldest and oldest[-1] > now - self.period:
                break
            self._hits.popitem(last=False)


def _window(rate: str) -> SlidingWindow | None:
    parsed = parse_rate(rate)
    return SlidingWindow(*parsed) if parsed else None


@dataclass
class Attempt:
    """One sign-in attempt that passed the limits; ``succeeded`` gives its hits back."""

    guard: LoginGuard
    address: str
    account: str

    def succeeded(self) -> None:
        if self.guard.by_address:
            self.guard.by_address.release(self.address)
        if self.guard.by_account:
            self.guard.by_account.release(self.account)


@dataclass
class Limited:
    """The attempt was refused: too many recent failures; try again in ``retry_after`` seconds."""

    retry_after: int


class LoginGuard:
    def __init__(
        self, user: str, password: str, *, per_address: str, per_account: str, proxy_hops: int, secret_key: str = ""
    ) -> None:
        self.user = user
        self.password_hash = generate_password_hash(password) if password else None
        # What a sign-in records of the password it was made with: a new password ends every old sign-in.
        self.password_mark = password_mark(secret_key, user, password)
        # Same method and cost as the real hash: an unknown user costs what a known one does.
        # (Without a password nothing is ever checked, so nothing is hashed at start-up either.)
        self.dummy_hash = generate_password_hash(secrets.token_urlsafe(16)) if password else ""
        self.by_address = _window(per_address)
        self.by_account = _window(per_account)
        self.proxy_hops = proxy_hops

    @property
    def configured(self) -> bool:
        return self.password_hash is not None

    def client_address(self) -> str:
        """The peer, or with proxies in front, the address the outermost trusted one saw."""
        if self.proxy_hops:
            forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
            if len(forwarded) >= self.proxy_hops:
                return forwarded[-self.proxy_hops]
        return request.remote_addr or "unknown"

    def begin(self, username: str) -> Attempt | Limited:
        """Count an attempt against the address and the user name, or refuse it."""
        address = self.client_address()
        account = username.strip().lower()[:200]
        wait = self.by_address.acquire(address) if self.by_address else None
        if wait is None and self.by_account:
            wait = self.by_account.acquire(account)
            if wait is not None and self.by_address:
                self.by_address.release(address)
        if wait is not None:
            return Limited(max(1, math.ceil(wait)))
        return Attempt(self, address, account)

    def check(self, username: str, password: str) -> bool:
        """True for the right user and password; always one hash, off the event loop."""
        user_ok = hmac.compare_digest(username.encode(), self.user.encode())
        expected = self.password_hash if (user_ok and self.password_hash) else self.dummy_hash
        password_ok = bool(off_loop(check_password_hash, expected, password))
        return user_ok and password_ok and self.password_hash is not None


def from_config(config: dict[str, Any]) -> LoginGuard:
    """The guard for the dashboard's one account; the password leaves the config (only its hash is kept)."""
    return LoginGuard(
        config["DASHBOARD_USER"],
        config.pop("DASHBOARD_PASSWORD", ""),
        per_address=config["LOGIN_LIMIT_PER_ADDRESS"],
        per_account=config["LOGIN_LIMIT_PER_ACCOUNT"],
        proxy_hops=int(config["TRUSTED_PROXY_HOPS"]),
        secret_key=config["SECRET_KEY"],
    )


def current() -> LoginGuard:
    return current_app.extensions["callstream"].login_guard
