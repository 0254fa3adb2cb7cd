"""Request and response schemas of the REST API (also the OpenAPI document's source)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from actions import StrictSchema
from actions.fields import PhoneString, StrictBool, StrictInt, StrictStr
from actions.pipeline import Variables
from app.storage.calls import DIRECTIONS, STATES


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Machine-readable error code."})
    message = fields.String(required=True)
    errors = fields.Dict(
        required=True, metadata={"description": "Field name -> list of messages (validation errors); {} otherwise."}
    )


class PcmoRequestSchema(StrictSchema):
    actions = fields.List(fields.Dict(), required=True, metadata={"description": "PCMO action objects to validate."})
    version = fields.String(
        load_default="v2",
        validate=validate.OneOf(("v2", "v3")),
        metadata={"description": "v2: legacy PCMO actions; v3: the v3 pipeline vocabulary."},
    )


class CallCreateSchema(StrictSchema):
    to = PhoneString(required=True, metadata={"description": "Number to call, digits only (a leading + is dropped)."})
    caller_id = PhoneString(metadata={"description": "Piopiy number the call comes from (default PIOPIY_NUMBER)."})
    agent = StrictStr(non_empty=True, metadata={"description": "Agent that talks on the call (default DEFAULT_AGENT)."})
    loop = StrictInt(minimum=1, maximum=10, metadata={"description": "Retry attempts if unanswered (v2 only)."})
    timeout = StrictInt(minimum=5, maximum=120, metadata={"description": "Seconds to ring before giving up."})
    duration = StrictInt(minimum=30, maximum=7200, metadata={"description": "Maximum call duration, seconds."})
    record = StrictBool(load_default=False)
    variables = Variables(max_properties=20, metadata={"description": "Key/values carried with the call."})


class Since(fields.Field):
    """ISO 8601 time or epoch seconds (ASCII, finite, year 1..9999), loaded as epoch seconds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        text = str(value).strip()
        if not text.isascii() or len(text) > 40:
            raise ValidationError("Must be an ISO 8601 time or epoch seconds.")
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            if not math.isfinite(seconds) or abs(seconds) > MAX_EPOCH:
                raise ValidationError(f"Must be epoch seconds between -{MAX_EPOCH:.0f} and {MAX_EPOCH:.0f}.")
            return seconds
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("Must be an ISO 8601 time or epoch seconds.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()


MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z


class QueryInt(fields.Integer):
    """An integer query parameter: ASCII digits only, bounded (int() would take "١٢" and 10**30)."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(strict=False, validate=validate.Range(min=minimum, max=maximum), **kwargs)
        self.maximum = maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()):
            raise ValidationError("Must be a whole number (digits 0-9).")
        if len(text) > len(str(self.maximum)):
            raise ValidationError(f"Must be at most {self.maximum}.")
        return super()._deserialize(text, attr, data, **kwargs)


class CallListQuerySchema(StrictSchema):
    state = fields.String(validate=validate.OneOf(STATES))
    direction = fields.String(validate=validate.OneOf(DIRECTIONS))
    since = Since(metadata={"description": "ISO 8601 time or epoch seconds: calls created at or after."})
    page = QueryInt(minimum=1, maximum=1_000_000, load_default=1)
    per_page = QueryInt(minimum=1, maximum=200, load_default=50)


def iso_time(value: Any) -> str | None:
    """Epoch seconds as ISO 8601 UTC; None for anything that is not a representable time (never raises)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, ValueError, OSError):  # NaN, inf, beyond year 9999 or before year 1
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Epoch(fields.Field):
    """Stored epoch seconds, shown as ISO 8601 UTC (null when the stored value is not a usable time)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso_time(value)


class CallSchema(Schema):
    id = fields.String()
    platform_id = fields.String(allow_none=True)
    direction = fields.String()
    from_number = fields.String(data_key="from", allow_none=True)
    to_number = fields.String(data_key="to", allow_none=True)
    agent = fields.String(allow_none=True)
    state = fields.String()
    end_reason = fields.String(allow_none=True)
    answered_by = fields.String(
        allow_none=True,
        metadata={"description": "Outbound calls with answering-machine detection: human, machine or unknown."},
    )
    handoff = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The transfer to a person, if any: state (holding, ringing, bridged, unanswered, "
            "retrying, declined, failed; ended: the call ended before the platform told how the transfer went), "
            "numbers, why, attempts, by (platform, or timer: the backstop decided), at (ISO 8601 UTC)."
        },
    )
    live = fields.Boolean()
    created_at = Epoch()
    updated_at = Epoch()
    answered_at = Epoch()
    ended_at = Epoch()
    talk_seconds = fields.Float(
        allow_none=True, metadata={"description": "From the platform's CDR: end_time - answer_time, seconds."}
    )
    billed_seconds = fields.Float(allow_none=True, metadata={"description": "The CDR's duration, seconds."})
    call_rate = fields.String(allow_none=True, metadata={"description": "The CDR's call_rate, as sent."})
    balance = fields.String(
        allow_none=True, metadata={"description": "The account balance after the call (the CDR's balance), as sent."}
    )


class TimelineEntrySchema(Schema):
    at = Epoch()
    kind = fields.String()
    detail = fields.Dict()


class TranscriptLineSchema(Schema):
    at = Epoch()
    speaker = fields.String()
    text = fields.String()


class CallDetailSchema(CallSchema):
    timeline = fields.List(fields.Nested(TimelineEntrySchema))
    transcript = fields.List(fields.Nested(TranscriptLineSchema))
    platform_response = fields.Raw(allow_none=True)
    legs = fields.List(
        fields.Dict(),
        metadata={"description": "Platform ids the call is known by (request_id, each leg's cmiuuid)."},
    )
    turns = fields.List(
        fields.Dict(),
        metadata={
            "description": "Caller turns: n, text, confidence, intent, miss, action, latency_ms (end of "
            "speech to the first reply byte), ended_by (silence, smart or max_wait), waited_ms (the pause before "
            "the turn ended), completeness (the turn model's P(complete) at each pause)."
        },
    )
    stats = fields.Dict(allow_none=True, metadata={"description": "Stream counters: frames in/out, drops, seconds."})
    recording = fields.Boolean(metadata={"description": "True when GET …/recording has a WAV."})
    webhooks = fields.List(
        fields.Dict(),
        metadata={
            "description": "Outgoing webhooks about the call (call.ended, transfer.*): event, state (pending, "
            "sending, delivered, failed, skipped: no URL), attempts, last_status, created_at, done_at, msg_id."
        },
    )


class CallPageSchema(Schema):
    items = fields.List(fields.Nested(CallSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class CallCreatedSchema(Schema):
    call = fields.Nested(CallSchema)
    platform = fields.Raw(metadata={"description": "The Piopiy API's answer, as it came."})


class CallActionResultSchema(Schema):
    call_id = fields.String()
    action = fields.String()
    result = fields.Dict()
