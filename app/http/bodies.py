"""Reading request bodies: the one JSON reader, and the webhooks' JSON-or-form reader.

Bodies that cannot be read (not JSON, nested deeper than MAX_DEPTH, not
UTF-8, NaN/Infinity, strings with lone surrogates that no database or log can
encode) are a 400 with a field-level message, never a 500. Bodies larger than
MAX_CONTENT_LENGTH are a 413 before they are read.
"""

from __future__ import annotations

from typing import Any

from flask import request

from app.errors import BadRequest
from streams.jsontext import MAX_DEPTH, MISSING, loads

__all__ = ["MAX_DEPTH", "json_object", "json_value", "loads", "webhook_body"]

_MISSING = MISSING  # the rule itself lives in streams/jsontext.py: stream text frames read by it too


def _parse(raw: str) -> Any:
    return loads(raw)


def json_value() -> Any:
    """The body as JSON (any type); 400 when it is not JSON."""
    try:
        raw = request.get_data(as_text=False).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8 text.", {"_schema": ["Send UTF-8 JSON."]}) from None
    value = _parse(raw) if raw.strip() else _MISSING
    if value is _MISSING:
        raise BadRequest(
            "Send a JSON object (Content-Type: application/json).",
            {"_schema": [f"Must be JSON (UTF-8 text, no NaN, nested at most {MAX_DEPTH} deep)."]},
        )
    return value


def json_object() -> dict[str, Any]:
    """The body as a JSON object; 400 for anything else."""
    body = json_value()
    if not isinstance(body, dict):
        raise BadRequest(
            "Send a JSON object (Content-Type: application/json).", {"_schema": ["Must be a JSON object."]}
        )
    return body


def webhook_body() -> dict[str, Any]:
    """A webhook's body as a dict, from JSON or a form (platforms send either); 400 when it is neither."""
    if request.form:
        return {key: request.form.get(key) for key in request.form}
    if not request.get_data():
        raise BadRequest("The body is empty.", {"_schema": ["Send JSON or form fields."]})
    try:
        body = json_value()
    except BadRequest:
        raise BadRequest("The body is neither JSON nor form data.", {"_schema": ["Unreadable body."]}) from None
    if not isinstance(body, dict):
        raise BadRequest("The JSON body must be an object.", {"_schema": ["Must be a JSON object."]})
    return body
