"""The one JSON reading rule for every way text enters the service: webhooks, API bodies, stream text frames.

What it refuses (NaN/Infinity and numbers that overflow to them, nesting
deeper than MAX_DEPTH, strings or keys with lone surrogates such as "\\ud800")
is what once stored would make a call's API emit invalid JSON, or its
dashboard page, live feeds and logs fail to encode it for good. Size is each
entrance's own bound (MAX_CONTENT_LENGTH, MAX_FRAME_BYTES), checked first.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

MAX_DEPTH = 64  # no real webhook, API body or platform event nests this deep


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()  # what ``loads`` answers for text that breaks the rule


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError("not a finite number")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def sound(value: Any) -> bool:
    """Nested at most MAX_DEPTH deep, and every string (keys too) encodable as UTF-8."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                return False
        elif isinstance(item, float) and not math.isfinite(item):
            return False
    return True


def loads(raw: str | bytes) -> Any:
    """Parse JSON we can store, log and answer with; ``MISSING`` for anything else (never raises)."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any real body
        return MISSING
    return value if sound(value) else MISSING
