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


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """In a patched (gevent) process: run in the hub's thread pool; else call directly."""
    if in_gevent():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)
