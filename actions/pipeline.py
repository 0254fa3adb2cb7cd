"""The v3 PCMO pipeline vocabulary and request bodies (PROTOCOL.md sections 1 and 3).

The rules are those piopiy 1.2.2's ``piopiy.voice.validators`` enforces; the
tests run the same good and bad pipelines through both and expect the same
verdict.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .errors import ActionValidationError
from .fields import PHONE_RE, StrictBool, StrictInt, StrictStr
from .schemas import load_with

_VAR_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
V3_ACTIONS = ("connect", "play", "play_get_input", "param", "record", "hangup", "input")


class V3Phone(StrictStr):
    """v3 numbers are strings of 7 to 16 digits (no "+", no leading 0)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not PHONE_RE.match(value):
            raise ValidationError("Must match ^[1-9][0-9]{6,15}$.")
        return value


class UUIDStr(StrictStr):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValidationError("Must be a valid UUID string.") from None
        return value


class Number(fields.Field):
    def __init__(self, *, minimum: float, maximum: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Must be a number.")
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(f"Must be between {self.minimum} and {self.maximum}.")
        return value


class Variables(fields.Field):
    """Flat key/value data: identifier keys, string/number/boolean values."""

    def __init__(self, *, max_properties: int | None = None, max_string_len: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_properties, self.max_string_len = max_properties, max_string_len

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("Must be an object.")
        if self.max_properties is not None and len(value) > self.max_properties:
            raise ValidationError(f"At most {self.max_properties} entries.")
        errors: dict[str, list[str]] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _VAR_KEY_RE.match(key):
                errors[str(key)] = ["Key must match ^[A-Za-z_][A-Za-z0-9_]*$."]
            elif isinstance(item, str):
                if self.max_string_len is not None and len(item) > self.max_string_len:
                    errors[key] = [f"At most {self.max_string_len} characters."]
            elif not isinstance(item, (bool, int, float)):
                errors[key] = ["Must be a string, number or boolean."]
        if errors:
            raise ValidationError(errors)
        return value


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _name(value: str) -> fields.String:
    return fields.String(required=True, validate=validate.Equal(value, error=f"Must be '{value}'."))


class RecordingSchema(_Strict):
    enabled = StrictBool()
    channels = fields.String(validate=validate.OneOf(("dual", "single")))
    format = fields.String(validate=validate.OneOf(("mp3", "wav")))


class ConnectOptionsSchema(_Strict):
    max_duration_sec = StrictInt(minimum=10, maximum=7200)
    ring_timeout_sec = StrictInt(minimum=5, maximum=120)
    machine_detection = StrictBool()
    recording = fields.Nested(RecordingSchema)
    waiting_music = StrictStr()


class ConnectParamsSchema(_Strict):
    caller_id = V3Phone(required=True)
    strategy = fields.String(validate=validate.OneOf(("simultaneous", "sequential")))
    options = fields.Nested(ConnectOptionsSchema)
    metadata = Variables()


class EndpointSchema(_Strict):
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


class ConnectSchema(_Strict):
    action = _name("connect")
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


class PromptSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(("file", "say")))
    file_name = StrictStr()
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


class DtmfSchema(_Strict):
    min_digits = StrictInt(minimum=1)
    max_digits = StrictInt(minimum=1)
    finish_on_key = StrictStr(max_length=1)
    first_digit_timeout = StrictInt(minimum=1)
    inter_digit_timeout = StrictInt(minimum=1)
    flush_buffer = StrictBool()


class OnResultSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(("pcmo", "url")))
    ref = StrictStr()
    url = StrictStr(validate=validate.Regexp(r"^https?://", error="Must start with http:// or https://."))

    @validates_schema
    def _by_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {"pcmo": "ref", "url": "url"}.get(data.get("type", ""))
        if needed and needed not in data:
            raise ValidationError(f"Required when type is {data['type']}.", needed)


class RetriesSchema(_Strict):
    max = StrictInt(minimum=0)
    no_input_prompt = fields.Nested(PromptSchema)
    invalid_prompt = fields.Nested(PromptSchema)


class InputModes(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty array.")
        if any(mode not in ("dtmf", "speech") for mode in value):
            raise ValidationError("Each item must be dtmf or speech.")
        if len(set(value)) != len(value):
            raise ValidationError("Items must not repeat.")
        return value


class PlayV3Schema(_Strict):
    action = _name("play")
    file_name = StrictStr(required=True)


class PlayGetInputV3Schema(_Strict):
    action = _name("play_get_input")
    prompt = fields.Nested(PromptSchema, required=True)
    input = InputModes(required=True)
    on_result = fields.Nested(OnResultSchema, required=True)
    dtmf = fields.Nested(DtmfSchema)
    retries = fields.Nested(RetriesSchema)


class ParamV3Schema(_Strict):
    action = _name("param")
    data = Variables(required=True, max_properties=10, max_string_len=256)


class RecordV3Schema(_Strict):
    action = _name("record")
    format = fields.String(validate=validate.OneOf(("mp3", "wav")))
    channels = fields.String(validate=validate.OneOf(("single", "dual")))


class HangupV3Schema(_Strict):
    action = _name("hangup")


class InputV3Schema(_Strict):
    action = _name("input")
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


class CallOptionsV3Schema(_Strict):
    max_duration_sec = StrictInt(minimum=30, maximum=7200)
    record = StrictBool()
    ring_timeout_sec = StrictInt(minimum=5, maximum=120)


class PipelineField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            return validate_pipeline(value)
        except ActionValidationError as exc:
            raise ValidationError(exc.messages) from None


class PcmoCallRequestSchema(_Strict):
    """Body of ``POST /voice/pcmo/call``."""

    caller_id = V3Phone(required=True)
    to_number = V3Phone(required=True)
    app_id = StrictStr(required=True)
    pipeline = PipelineField(required=True)
    agent_id = UUIDStr()
    options = fields.Nested(CallOptionsV3Schema)
    variables = Variables()


class TransferRequestSchema(_Strict):
    """Body of ``POST /voice/pcmo/transfer``."""

    call_id = UUIDStr(required=True)
    pipeline = PipelineField(required=True)


class HangupRequestSchema(_Strict):
    """Body of ``POST /voice/call/hangup``."""

    call_id = UUIDStr(required=True)
    cause = StrictStr(validate=validate.Length(min=1, max=64))
    reason = StrictStr(validate=validate.Length(min=1, max=256))


class Pipeline:
    """A v3 pipeline under construction, with the v3 SDK's ``PipelineBuilder`` methods."""

    def __init__(self) -> None:
        self._actions: list[dict[str, Any]] = []

    def connect(self, params: dict[str, Any], endpoints: list[dict[str, Any]]) -> Pipeline:
        return self._add({"action": "connect", "params": params, "endpoints": endpoints})

    def play(self, file_name: str) -> Pipeline:
        return self._add({"action": "play", "file_name": file_name})

    def play_get_input(
        self,
        prompt: dict[str, Any],
        input_modes: list[str],
        on_result: dict[str, Any],
        dtmf: dict[str, Any] | None = None,
        retries: dict[str, Any] | None = None,
    ) -> Pipeline:
        action: dict[str, Any] = {
            "action": "play_get_input",
            "prompt": prompt,
            "input": input_modes,
            "on_result": on_result,
        }
        if dtmf is not None:
            action["dtmf"] = dtmf
        if retries is not None:
            action["retries"] = retries
        return self._add(action)

    def param(self, data: dict[str, Any]) -> Pipeline:
        return self._add({"action": "param", "data": data})

    def record(self, fmt: str | None = None, channels: str | None = None) -> Pipeline:
        action: dict[str, Any] = {"action": "record"}
        if fmt is not None:
            action["format"] = fmt
        if channels is not None:
            action["channels"] = channels
        return self._add(action)

    def hangup(self) -> Pipeline:
        return self._add({"action": "hangup"})

    def input(self, on_result: dict[str, Any], dtmf: dict[str, Any] | None = None) -> Pipeline:
        action: dict[str, Any] = {"action": "input", "on_result": on_result}
        if dtmf is not None:
            action["dtmf"] = dtmf
        return self._add(action)

    def build(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self._actions]

    def clear(self) -> Pipeline:
        self._actions = []
        return self

    def _add(self, action: dict[str, Any]) -> Pipeline:
        self._actions.extend(validate_pipeline([action]))
        return self
