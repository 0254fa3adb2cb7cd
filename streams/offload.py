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


def submit(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Queue ``fn`` in the hub's thread pool (in a patched process; else run it now); returns a function that
    waits for its result and raises what ``fn`` raised.

    Queueing waits while every pool thread is taken (gevent bounds tasks in flight). Once ``submit`` has
    returned, ``fn`` runs even if the caller is killed; a caller killed while it waited here queued nothing. A
    caller that must know which (streams/voice/hearing.py: who gives a recogniser back) uses this, not
    ``run_blocking``."""
    if in_gevent():
        import gevent

        pending = gevent.get_hub().threadpool.spawn(_outcome, fn, args)
        return lambda: _unwrapped(pending.get())
    got = _outcome(fn, args)
    return lambda: _unwrapped(got)


def _unwrapped(got: Any) -> Any:
    if isinstance(got, _Raised):
        raise got.error
    return got


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """In a patched (gevent) process: run in the hub's thread pool; else call directly.

    An exception is raised in the caller, as a direct call would, and only there: gevent's pool would also print
    its traceback to stderr, outside logging (its format, its redaction), for every refused file (review D3)."""
    if in_gevent():
        import gevent

        return _unwrapped(gevent.get_hub().threadpool.apply(_outcome, (fn, args)))
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
