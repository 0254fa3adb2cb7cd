"""Shared-secret guards for webhooks (WEBHOOK_TOKEN) and the REST API (API_KEY)."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from app.errors import Unauthorized


def _same(given: str | None, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def webhook_token_ok() -> bool:
    """The token may come as ``?token=``, ``X-Webhook-Token`` or a Bearer header."""
    given = request.args.get("token") or request.headers.get("X-Webhook-Token") or _bearer()
    return _same(given, current_app.config["WEBHOOK_TOKEN"])


def require_webhook_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not webhook_token_ok():
            raise Unauthorized("A valid webhook token is required (?token=… or X-Webhook-Token).")
        return view(*args, **kwargs)

    return wrapped


def require_api_key(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not _same(_bearer(), current_app.config["API_KEY"]):
            raise Unauthorized("A valid API key is required (Authorization: Bearer <API_KEY>).")
        return view(*args, **kwargs)

    return wrapped
