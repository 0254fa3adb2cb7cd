"""How our own marshmallow fields look in JSON Schema: types, bounds, patterns, nullability.

apispec knows the stock fields; these attribute functions (added with
``plugin.converter.add_attribute_function``) describe the custom ones so the
document says what the views actually accept.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from actions import fields as action_fields
from actions import pipeline_fields
from app.api import schemas
from app.webhooks import schemas as webhooks

NOT_BLANK = r"\S"
PHONE = r"^\+?[1-9][0-9]{6,15}$"
DIGITS = r"^[0-9*#]*$"
SCALAR = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


def _bounds(field: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(field, "minimum", None) is not None:
        out["minimum"] = field.minimum
    if getattr(field, "maximum", None) is not None:
        out["maximum"] = field.maximum
    return out


def _string(field: action_fields.StrictStr) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if field.non_empty:
        out.update(minLength=1, pattern=NOT_BLANK)
    if field.max_length is not None:
        out["maxLength"] = field.max_length
    return out


def _custom(field: fields.Field) -> dict[str, Any]:
    if isinstance(field, (action_fields.StrictInt, pipeline_fields.Number)):
        return _bounds(field)
    if isinstance(field, action_fields.StrictStr):
        return _string(field)
    if isinstance(field, action_fields.PhoneString):
        return {"pattern": PHONE}
    if isinstance(field, pipeline_fields.Variables):
        out: dict[str, Any] = {"additionalProperties": SCALAR}
        if field.max_properties is not None:
            out["maxProperties"] = field.max_properties
        return out
    if isinstance(field, webhooks.NumberText):
        return {"oneOf": [{"type": "string", "pattern": NOT_BLANK}, {"type": "integer"}]}
    if isinstance(field, webhooks.Digits):
        return {"oneOf": [{"type": "string", "pattern": DIGITS}, {"type": "integer", "minimum": 0}]}
    return {}


def field_attributes(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """Extra JSON Schema for ``field`` (an apispec attribute function)."""
    out = _custom(field)
    if isinstance(field, schemas.Epoch):
        out["nullable"] = True  # a time that is not (or not yet) known is null
    return out
