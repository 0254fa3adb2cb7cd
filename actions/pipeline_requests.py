"""Request bodies of the v3 REST API that carry pipelines (PROTOCOL.md section 3)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from actions.errors import ActionValidationError
from actions.fields import StrictBool, StrictInt, StrictStr
from actions.pipeline_fields import UUIDStr, V3Phone, Variables
from actions.pipeline_schemas import validate_pipeline
from actions.schemas import StrictSchema


class CallOptionsV3Schema(StrictSchema):
    max_duration_sec = StrictInt(minimum=30, maximum=7200)
    record = StrictBool()
    ring_timeout_sec = StrictInt(minimum=5, maximum=120)


class PipelineField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            return validate_pipeline(value)
        except ActionValidationError as exc:
            raise ValidationError(exc.messages) from None


class PcmoCallRequestSchema(StrictSchema):
    """Body of ``POST /voice/pcmo/call``."""

    caller_id = V3Phone(required=True)
    to_number = V3Phone(required=True)
    app_id = StrictStr(required=True)
    pipeline = PipelineField(required=True)
    agent_id = UUIDStr()
    options = fields.Nested(CallOptionsV3Schema)
    variables = Variables()


class TransferRequestSchema(StrictSchema):
    """Body of ``POST /voice/pcmo/transfer``."""

    call_id = UUIDStr(required=True)
    pipeline = PipelineField(required=True)


class HangupRequestSchema(StrictSchema):
    """Body of ``POST /voice/call/hangup``."""

    call_id = UUIDStr(required=True)
    cause = StrictStr(validate=validate.Length(min=1, max=64))
    reason = StrictStr(validate=validate.Length(min=1, max=256))
