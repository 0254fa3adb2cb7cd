"""One POST to the Piopiy REST API, retried inside a time budget.

The whole exchange, retries and backoff included, takes about PIOPIY_TIMEOUT
seconds at most: each try gets only the time that is left, and a wait (the
backoff, or the platform's own ``Retry-After``) that would not end before the
budget does is not slept at all; the last answer is returned instead, with
the ``Retry-After`` the platform asked for so the caller can pass it on.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))


@dataclass
class Outcome:
    """The last answer (or the last failure) and how long the platform asked us to wait."""

    response: requests.Response | None
    error: requests.RequestException | None
    retry_after: float | None = None


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    raw = (response.headers.get("Retry-After") or "").strip() if response is not None else ""
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():
        return float(min(int(raw[:12]), 10**9))
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def _retryable(outcome: Outcome) -> bool:
    if outcome.response is not None:
        return outcome.response.status_code in RETRY_STATUSES
    return outcome.error is not None


@dataclass
class Budget:
    seconds: float
    retries: int
    backoff: float
    sleep: Callable[[float], None] = time.sleep

    def wait_for(self, attempt: int, outcome: Outcome) -> float:
        """The pause before try ``attempt + 1``: the platform's Retry-After, else exponential backoff."""
        if outcome.retry_after is not None:
            return outcome.retry_after
        return self.backoff * (2**attempt)


def post(session: requests.Session, url: str, budget: Budget, **kwargs: Any) -> Outcome:
    """POST ``url``; retry 429/5xx and connection failures while the budget lasts."""
    deadline = time.monotonic() + budget.seconds
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Outcome(None, requests.Timeout("the time budget ran out"))
        try:
            response = session.post(url, timeout=remaining, **kwargs)
            outcome = Outcome(response, None, retry_after(response))
        except requests.RequestException as exc:
            outcome = Outcome(None, exc)
        if attempt >= budget.retries or not _retryable(outcome):
            return outcome
        wait = budget.wait_for(attempt, outcome)
        if not math.isfinite(wait) or wait >= deadline - time.monotonic():
            return outcome  # never sleep past the budget: the caller reports what we have
        budget.sleep(wait)
        attempt += 1
