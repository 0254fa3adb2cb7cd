"""marshmallow schemas of the v3 pipeline actions, and ``validate_pipeline``.

The rules are those piopiy 1.2.2's ``piopiy.voice.validators`` enforces; the
tests run the same good and bad pipelines through both and expect the same
verdict.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from actions.errors import ActionValidationError
from actions.fields import FileName, StrictBool, StrictInt, StrictStr
from actions.pipeline_fields import InputModes, Number, UUIDStr, V3Phone, Variables
from actions.schemas import StrictSchema, action_name, load_with

V3_ACTIONS = ("connect", "play", "play_get_input", "param", "record", "hangup", "input")


class RecordingSchema(StrictSchema):
    enabled = StrictBool()
    channels = fields.String(validate=validate.OneOf(("dual", "single")))
    format = fields.String(validate=validate.OneOf(("mp3", "wav")))


class ConnectOptionsSchema(StrictSchema):
    max_duration_sec = StrictInt(minimum=10, maximum=7200)
    ring_timeout_sec = StrictInt(minimum=5, maximum=120)
    machine_detection = StrictBool()
    recording = fields.Nested(RecordingSchema)
    waiting_music = StrictStr()


class ConnectParamsSchema(StrictSchema):
    caller_id = V3Phone(required=True)
    strategy = fields.String(validate=validate.OneOf(("simultaneous", "sequential")))
    options = fields.Nested(ConnectOptionsSchema)
    metadata = Variables()


class EndpointSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("pstn", "sip", "agent")))
    number = V3Phone()
    uri = StrictStr()
    id = UUIDStr()
    headers = fields.Dict()

    @validates_schema
    def _by_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {"pstn": "number", "sip": "uri", "agent": "id"}.get(data.get("type", ""))
        if needed and needed not in data:
            raise ValidationError(f"Required when type is {data['type']}.", needed)


class ConnectSchema(StrictSchema):
    action = action_name("connect")
    params = fields.Nested(ConnectParamsSchema, required=True)
    endpoints = fields.List(
        fields.Nested(EndpointSchema),
        required=True,
        validate=validate.Length(min=1, error="Give at least one endpoint."),
    )

    @validates_schema
    def _agents_last(self, data: dict[str, Any], **kwargs: Any) -> None:
        agents = 0
        for index, endpoint in enumerate(data.get("endpoints", [])):
            if endpoint["type"] == "agent":
                agents += 1
            elif agents:
                raise ValidationError({str(index): ["Agent endpoints must be at the end of endpoints."]}, "endpoints")
        if agents > 2:
            raise ValidationError("A maximum of two agent endpoints is allowed.", "endpoints")


class PromptSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("file", "say")))
    file_name = FileName()
    say = StrictStr()
    voice_id = StrictStr()
    language = StrictStr()
    speed = Number(minimum=0.5, maximum=2.0)

    @validates_schema
    def _by_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {"file": ("file_name",), "say": ("say", "language", "voice_id", "speed")}.get(data.get("type", ""), ())
        missing = {key: [f"Required when type is {data['type']}."] for key in needed if key not in data}
        if missing:
            raise ValidationError(missing)


class DtmfSchema(StrictSchema):
    min_digits = StrictInt(minimum=1)
    max_digits = StrictInt(minimum=1)
    finish_on_key = StrictStr(max_length=1)
    first_digit_timeout = StrictInt(minimum=1)
    inter_digit_timeout = StrictInt(minimum=1)
    flush_buffer = StrictBool()


class OnResultSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("pcmo", "url")))
    ref = StrictStr()
    url = StrictStr(validate=validate.Regexp(r"^https?://", error="Must start with http:// or https://."))

    @validates_schema
    def _by_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {"pcmo": "ref", "url": "url"}.get(data.get("type", ""))
        if needed and needed not in data:
            raise ValidationError(f"Required when type is {data['type']}.", needed)


class RetriesSchema(StrictSchema):
    max = StrictInt(minimum=0)
    no_input_prompt = fields.Nested(PromptSchema)
    invalid_prompt = fields.Nested(PromptSchema)


class PlayV3Schema(StrictSchema):
    action = action_name("play")
    file_name = FileName(required=True)


class PlayGetInputV3Schema(StrictSchema):
    action = action_name("play_get_input")
    prompt = fields.Nested(PromptSchema, required=True)
    input = InputModes(required=True)
    on_result = fields.Nested(OnResultSchema, required=True)
    dtmf = fields.Nested(DtmfSchema)
    retries = fields.Nested(RetriesSchema)


class ParamV3Schema(StrictSchema):
    action = action_name("param")
    data = Variables(required=True, max_properties=10, max_string_len=256)


class RecordV3Schema(StrictSchema):
    action = action_name("record")
    format = fields.String(validate=validate.OneOf(("mp3", "wav")))
    channels = fields.String(validate=validate.OneOf(("single", "dual")))


class HangupV3Schema(StrictSchema):
    action = action_name("hangup")


class InputV3Schema(StrictSchema):
    action = action_name("input")
    on_result = fields.Nested(OnResultSchema, required=True)
    dtmf = fields.Nested(DtmfSchema)


V3_SCHEMAS: dict[str, type[Schema]] = {
    "connect": ConnectSchema,
    "play": PlayV3Schema,
    "play_get_input": PlayGetInputV3Schema,
    "param": ParamV3Schema,
    "record": RecordV3Schema,
    "hangup": HangupV3Schema,
    "input": InputV3Schema,
}


def validate_pipeline(pipeline: Any) -> list[dict[str, Any]]:
    """Validate a v3 pipeline; errors are keyed by the action's index."""
    if not isinstance(pipeline, list) or not pipeline:
        raise ActionValidationError({"_schema": ["A pipeline must be a non-empty JSON array of actions."]})
    out: list[dict[str, Any]] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(pipeline):
        name = item.get("action") if isinstance(item, dict) else None
        schema = V3_SCHEMAS.get(name) if isinstance(name, str) else None
        if schema is None:
            errors[str(index)] = {"action": [f"Must be one of: {', '.join(sorted(V3_SCHEMAS))}."]}
            continue
        try:
            out.append(load_with(schema(), item))
        except ActionValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise ActionValidationError(errors)
    return out
