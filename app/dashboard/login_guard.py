"""Dashboard sign-in that neither stalls live calls nor helps a password guesser.

* The password hash (scrypt, ~100 ms of CPU) runs in a small thread pool of its
  own when the process runs under gevent, so the event loop that carries every
  call's audio keeps running (hashlib releases the GIL while it hashes). A pool
  of its own, not the hub's: the hub's threads are vosk's (STT), and a burst of
  sign-ins must not queue callers' speech recognition behind it; two threads
  also bound the memory scrypt takes (32 MB each) during a burst. The threads run
  at nice 10, so on a machine with as many hashing threads as cores the kernel
  still hands the event loop a core as soon as it wakes (CI once saw a 330 ms
  gap in hold music during a 20-attempt flood at normal priority).
* Every attempt is checked against a hash, a throwaway one when the user name
  is unknown, so a wrong user name takes as long as a wrong password.
* Failed attempts are limited per client address, and per user name (known or
  not) *from that client*: a guesser locks out only itself, and the operator
  can still sign in from elsewhere (a lock-out of one user name everywhere let
  anyone keep the operator out). The windows live in Redis when ``REDIS_URL`` is
  set, so every worker and host counts together, in memory otherwise
  (app/http/limits.py). A successful sign-in gives its attempt back.
* A lock-out is visible and can be lifted: the sign-in page says until when,
  and a signed-in operator sees the current ones on every page, with Unlock.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.http.limits import SlidingWindow, Window, client_address, make_window
from app.storage.sign_ins import password_mark
from streams.offload import in_gevent

HASH_THREADS = 2
HASH_NICE = 10  # below the loop and vosk's threads: a sign-in may wait, a caller's audio may not
__all__ = ["Attempt", "Limited", "LoginGuard", "SlidingWindow", "current", "from_config"]
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


def _niced(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run ``fn`` on this pool thread after lowering the thread's priority (once; Linux threads have their own)."""
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < HASH_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, HASH_NICE)
    except (AttributeError, OSError):  # pragma: no cover - not Linux: hashes at normal priority
        pass
    return fn(*args)


def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in the hash pool under gevent (the loop keeps serving); call it directly otherwise."""
    if in_gevent():
        return _hash_pool().apply(_niced, (fn, args))
    return fn(*args)


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
        self,
        user: str,
        password: str,
        *,
        per_address: str,
        per_account: str,
        proxy_hops: int,
        secret_key: str = "",
        redis_url: str = "",
    ) -> None:
        self.user = user
        self.password_hash = generate_password_hash(password) if password else None
        # What a sign-in records of the password it was made with: a new password ends every old sign-in.
        self.password_mark = password_mark(secret_key, user, password)
        # Same method and cost as the real hash: an unknown user costs what a known one does.
        # (Without a password nothing is ever checked, so nothing is hashed at start-up either.)
        self.dummy_hash = generate_password_hash(secrets.token_urlsafe(16)) if password else ""
        self.by_address: Window | None = make_window(per_address, "login-address", redis_url)
        self.by_account: Window | None = make_window(per_account, "login-account", redis_url)  # client + name
        self.proxy_hops = proxy_hops

    @property
    def configured(self) -> bool:
        return self.password_hash is not None

    def client_address(self) -> str:
        return client_address(self.proxy_hops)

    def begin(self, username: str) -> Attempt | Limited:
        """Count an attempt against the address and the user name from that address, or refuse it."""
        address = self.client_address()
        account = account_key(address, username)
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

    def lock_on(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, when it is locked out as a whole; None otherwise."""
        if not self.by_address:
            return None
        left = self.by_address.waiting(address)  # one key: a sign-in page view never scans the store
        return None if left is None else max(1, math.ceil(left))

    def lockouts(self) -> list[Lockout]:
        """Every current lock-out, for the operator (bounded)."""
        found = [Lockout("address", key, key, "", math.ceil(left)) for key, left in self._locked(self.by_address)]
        for key, left in self._locked(self.by_account):
            address, _, name = key.partition(ACCOUNT_SEPARATOR)
            found.append(Lockout("account", key, address, name, math.ceil(left)))
        return found

    def unlock(self, kind: str, key: str) -> None:
        """Lift one lock-out (an operator's action)."""
        window = self.by_address if kind == "address" else self.by_account if kind == "account" else None
        if window is not None:
            window.clear(key)

    @staticmethod
    def _locked(window: Window | None) -> list[tuple[str, float]]:
        return window.locked() if window else []


ACCOUNT_SEPARATOR = " "  # between the address and the user name in a per-account key (addresses have none)


def account_key(address: str, username: str) -> str:
    return f"{address}{ACCOUNT_SEPARATOR}{username.strip().lower()[:200]}"


@dataclass
class Lockout:
    """A window at its limit: an address (``name`` empty), or a user name from an address."""

    kind: str
    key: str
    address: str
    name: str
    seconds_left: int


def from_config(config: dict[str, Any]) -> LoginGuard:
    """The guard for the dashboard's one account; the password leaves the config (only its hash is kept)."""
    return LoginGuard(
        config["DASHBOARD_USER"],
        config.pop("DASHBOARD_PASSWORD", ""),
        per_address=config["LOGIN_LIMIT_PER_ADDRESS"],
        per_account=config["LOGIN_LIMIT_PER_ACCOUNT"],
        proxy_hops=int(config["TRUSTED_PROXY_HOPS"]),
        secret_key=config["SECRET_KEY"],
        redis_url=config.get("REDIS_URL", ""),
    )


def current() -> LoginGuard:
    return current_app.extensions["callstream"].login_guard
