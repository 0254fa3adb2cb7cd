"""Run blocking work (C calls, file crunching) without stalling the gevent loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def in_gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return False
    return bool(monkey.is_module_patched("threading"))


class _Raised:
    """What ``fn`` raised in the pool, carried back to the greenlet that asked."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - re-raised in the caller's greenlet
        return _Raised(exc)


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """In a patched (gevent) process: run in the hub's thread pool; else call directly.

    An exception is raised in the caller, as a direct call would, and only there: gevent's pool would also print
    its traceback to stderr, outside logging (its format, its redaction), for every refused file (review D3)."""
    if in_gevent():
        import gevent

        got = gevent.get_hub().threadpool.apply(_outcome, (fn, args))
        if isinstance(got, _Raised):
            raise got.error
        return got
    return fn(*args)


def start_native_thread(fn: Callable[[], None], name: str) -> None:
    """Start ``fn`` on an operating-system thread of its own, also in a patched process (where
    ``threading.Thread`` would be a greenlet on the loop). Such a thread must not touch the loop: it may
    call C code, take locks and sleep with ``native_sleep``."""
    if in_gevent():
        from gevent import monkey

        start = monkey.get_original("_thread", "start_new_thread")
        start(fn, ())
        return
    import threading

    threading.Thread(target=fn, name=name, daemon=True).start()


def native_sleep(seconds: float) -> None:
    """Sleep this operating-system thread (time.sleep, unpatched: a patched one would start a hub here)."""
    if in_gevent():
        from gevent import monkey

        monkey.get_original("time", "sleep")(seconds)
        return
    import time

    time.sleep(seconds)
