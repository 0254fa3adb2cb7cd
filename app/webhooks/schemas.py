"""What the platform's webhooks carry, as we read it: the answer and DTMF-input bodies (also the OpenAPI source).

Call events (CDRs, live and stream statuses) are read by ``shapes.read`` and applied by
``events.record_event``; their shapes vary by doc set and platform version, so they are kept as sent.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields


class NumberText(fields.Field):
    """A number or id as text: platforms send 9198… as an int or a string."""

    default_error_messages = {"invalid": "Must be a non-empty string or number."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
            raise self.make_error("invalid")

        return str(value).strip()


class AnswerSchema(Schema):
    class Meta:
        unknown = INCLUDE

    cmiuuid = NumberText(required=True)
    from_ = NumberText(required=True, data_key="from", attribute="from")
    to = NumberText(required=True)
    time = fields.Raw()


class Digits(fields.Field):
    """Pressed digits as text; empty (the caller pressed nothing before the timeout) is allowed."""

    default_error_messages = {"invalid": "Must be digits (0-9, *, #) as a string or number."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self.make_error("invalid")
        text = str(value).strip()
        if any(ch not in "0123456789*#" for ch in text):
            raise self.make_error("invalid")
        return text


class InputSchema(Schema):
    class Meta:
        unknown = INCLUDE

    dtmf = Digits(allow_none=True)
    digits = Digits(allow_none=True)


ANSWER_SCHEMA = AnswerSchema()
INPUT_SCHEMA = InputSchema()
