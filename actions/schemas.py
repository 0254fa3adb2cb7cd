"""marshmallow schemas for the legacy PCMO actions (PROTOCOL.md section 1).

Field order in each schema is the order the Piopiy SDK writes keys in, so a
loaded action serialises the way the SDK's does.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from actions.errors import ActionValidationError
from actions.fields import (
    FileName,
    HttpUrl,
    LegacyNumber,
    StrictBool,
    StrictInt,
    StrictStr,
    VoiceQuality,
    WsUrl,
)

LISTEN_MODES = ("caller", "callee", "both")


class StrictSchema(Schema):
    """Base for every schema of ours: an unknown key is an error, never dropped.

    A typo in an option ("listen" for "listen_mode") must fail loudly rather than
    vanish and leave the platform's default in force.
    """

    class Meta:
        unknown = RAISE


def action_name(value: str) -> fields.String:
    """The required ``action`` field of a schema that only accepts ``value``."""
    return fields.String(required=True, validate=validate.Equal(value, error=f"Must be '{value}'."))


class StreamSchema(StrictSchema):
    action = action_name("stream")
    ws_url = WsUrl(required=True)
    listen_mode = fields.String(validate=validate.OneOf(LISTEN_MODES))
    voice_quality = VoiceQuality()
    stream_on_answer = StrictBool()


class PlaySchema(StrictSchema):
    action = action_name("play")
    file_url = HttpUrl()
    file_name = FileName(non_empty=True)

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("file_url" in data) == ("file_name" in data):
            raise ValidationError("Give exactly one of file_url or file_name.", "_schema")


class SpeakSchema(StrictSchema):
    action = action_name("speak")
    text = StrictStr(required=True, non_empty=True)


class ParamSchema(StrictSchema):
    action = action_name("param")
    text = StrictStr(required=True)


class RecordSchema(StrictSchema):
    action = action_name("record")


class HangupSchema(StrictSchema):
    action = action_name("hangup")


class ConnectEntrySchema(StrictSchema):
    type = fields.String(required=True, validate=validate.Equal("pstn", error="Must be 'pstn'."))
    number = LegacyNumber(required=True)


class BridgeSchema(StrictSchema):
    action = action_name("bridge")
    from_ = LegacyNumber(required=True, data_key="from", attribute="from")
    connect = fields.List(
        fields.Nested(ConnectEntrySchema),
        required=True,
        validate=validate.Length(min=1, error="Give at least one number to connect."),
    )
    duration = StrictInt(minimum=1)
    timeout = StrictInt(minimum=1)
    loop = StrictInt(minimum=1)
    ring_type = fields.String(validate=validate.OneOf(("group",)))


class InputSchema(StrictSchema):
    action = action_name("input")
    action_url = HttpUrl(required=True)
    max_digit = StrictInt(minimum=1, maximum=32)
    timeout = StrictInt(minimum=1)


class PlayGetInputSchema(StrictSchema):
    action = action_name("play_get_input")
    action_url = HttpUrl(required=True)
    file_name = FileName(required=True, non_empty=True)
    file_url = HttpUrl()
    max_digit = StrictInt(minimum=1, maximum=32)
    max_retry = StrictInt(minimum=0)
    timeout = StrictInt(minimum=1)


ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "stream": StreamSchema,
    "play": PlaySchema,
    "speak": SpeakSchema,
    "param": ParamSchema,
    "record": RecordSchema,
    "hangup": HangupSchema,
    "bridge": BridgeSchema,
    "input": InputSchema,
    "play_get_input": PlayGetInputSchema,
}


def load_with(schema: Schema, data: Any) -> dict[str, Any]:
    """Load ``data`` with ``schema``, turning marshmallow's error into ours."""
    if not isinstance(data, dict):
        raise ActionValidationError({"_schema": ["Must be a JSON object."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ActionValidationError(exc.messages) from None


# Schema instances are reusable (load keeps no state on them), and building one
# deep-copies its fields: the hot paths share these.
SCHEMAS: dict[str, Schema] = {name: cls() for name, cls in ACTION_SCHEMAS.items()}


def validate_action(data: Any) -> dict[str, Any]:
    """Validate one legacy PCMO action object and return it normalised."""
    if not isinstance(data, dict):
        raise ActionValidationError({"_schema": ["Must be a JSON object."]})
    name = data.get("action")
    schema = SCHEMAS.get(name) if isinstance(name, str) else None
    if schema is None:
        raise ActionValidationError({"action": [f"Must be one of: {', '.join(sorted(ACTION_SCHEMAS))}."]})
    return load_with(schema, data)


def validate_pcmo(actions: Any) -> list[dict[str, Any]]:
    """Validate a whole legacy PCMO array; errors are keyed by the action's index."""
    if not isinstance(actions, list):
        raise ActionValidationError({"_schema": ["A PCMO must be a JSON array of actions."]})
    if not actions:
        raise ActionValidationError({"_schema": ["A PCMO needs at least one action."]})
    out: list[dict[str, Any]] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(actions):
        try:
            out.append(validate_action(item))
        except ActionValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise ActionValidationError(errors)
    return out
