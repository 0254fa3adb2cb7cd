"""The service's exception family and the one place they become JSON.

Every error body has the shape ``{"code", "message", "errors"}``; ``errors``
holds field-level messages for validation failures and is ``{}`` otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from actions import ActionValidationError
from streams.errors import CallError

log = logging.getLogger(__name__)


class APIError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        errors: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}
        if status is not None:
            self.status = status


class BadRequest(APIError):
    status, code = 400, "validation_error"


class Unauthorized(APIError):
    status, code = 401, "unauthorized"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class PlatformRejected(APIError):
    """The Piopiy REST API answered 4xx: our request was refused."""

    status, code = 422, "platform_rejected"


class PlatformBusy(APIError):
    """The Piopiy REST API kept answering 429: retryable, so a 503 with Retry-After."""

    status, code = 503, "platform_busy"


class PlatformUnavailable(APIError):
    """The Piopiy REST API failed (5xx, timeout, garbage) after retries."""

    status, code = 502, "platform_unavailable"


class PlatformNotConfigured(APIError):
    """Outbound calls need Piopiy credentials that are not set: nothing was sent, nothing stored."""

    status, code = 503, "platform_not_configured"


class NotImplementedYet(APIError):
    status, code = 501, "not_implemented"


def error_body(code: str, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or {}}


def _stringify_keys(value: Any) -> Any:
    """marshmallow keys list errors by int index; JSON wants strings."""
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def init_app(app: Flask, is_transient: Callable[[BaseException], bool] = lambda exc: False) -> None:
    """Register the JSON error handlers; ``is_transient`` tells a database outage (a 503) from a bug (a 500)."""

    @app.errorhandler(APIError)
    def _api_error(exc: APIError):  # type: ignore[no-untyped-def]
        return jsonify(error_body(exc.code, exc.message, _stringify_keys(exc.errors))), exc.status, exc.headers

    @app.errorhandler(CallError)
    def _call_error(exc: CallError):  # type: ignore[no-untyped-def]
        errors = {exc.field: [exc.message]} if exc.field else {}
        return jsonify(error_body(exc.code, exc.message, errors)), exc.status

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):  # type: ignore[no-untyped-def]
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return jsonify(error_body("validation_error", "The request is not valid.", _stringify_keys(messages))), 400

    @app.errorhandler(ActionValidationError)
    def _action(exc: ActionValidationError):  # type: ignore[no-untyped-def]
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return jsonify(error_body("validation_error", "The actions are not valid.", _stringify_keys(messages))), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = (exc.name or "error").lower().replace(" ", "_")
        # Keep what the exception says beyond its HTML body: Allow on a 405, Retry-After, WWW-Authenticate.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")]
        return jsonify(error_body(code, exc.description or exc.name)), exc.code or 500, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if is_transient(exc):  # the database is down or busy: retryable, and never its URL or password
            log.error("database unavailable: %s", type(exc).__name__)
            body = error_body("database_unavailable", "The database cannot be reached right now; try again shortly.")
            return jsonify(body), 503, {"Retry-After": "5"}
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "Something went wrong on our side; it has been logged.")), 500
