"""How an agent paces speech (docs/agents.md): fillers while the policy thinks (#23.6)."""

from __future__ import annotations

from marshmallow import fields, validate

from actions import StrictSchema
from actions.fields import StrictInt, StrictStr


class FillerSchema(StrictSchema):
    """A short line said when the policy has not answered within ``after_ms``; the reply follows it."""

    after_ms = StrictInt(minimum=100, maximum=10000, load_default=800)
    lines = fields.List(StrictStr(non_empty=True, max_length=200), required=True, validate=validate.Length(min=1))
