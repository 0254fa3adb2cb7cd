"""How an agent paces speech (docs/agents.md): lines that cannot be cut (#23.3), fillers while the policy
thinks (#23.6)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from actions import StrictSchema
from actions.fields import StrictInt, StrictStr

MODES = ("true", "false", "dtmf")
AGENT_LINES = ("greeting", "fallback", "goodbye", "reprompt")  # the agent's own lines with a mode


class Interruptible(fields.Field):
    """``true``, ``false`` or ``dtmf`` (YAML booleans too): may the caller's speech cut the line."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(MODES), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value is True or value is False:
            return "true" if value else "false"
        if value in MODES:
            return str(value)
        raise ValidationError("Give true, false or dtmf.")


def line_modes() -> fields.Dict:
    """The agent's ``interruptible`` map: its own lines' modes (e.g. ``{greeting: false}``)."""
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(AGENT_LINES)),
        values=Interruptible(),
        load_default=dict,
        metadata={"description": "The agent's own lines that speech may not cut: {greeting: false, ...}."},
    )


class ResumeSchema(StrictSchema):
    """False interruptions resume (#23.5): a barge-in that was no words, a backchannel or shorter than min_ms."""

    backchannels = fields.List(
        StrictStr(non_empty=True, max_length=40),
        validate=validate.Length(min=1),
        metadata={"description": "What is not a turn after a barge-in (default by language: uh-huh, ok; 네, 응)."},
    )
    min_ms = StrictInt(minimum=0, maximum=5000, load_default=0)


class FillerSchema(StrictSchema):
    """A short line said when the policy has not answered within ``after_ms``; the reply follows it."""

    after_ms = StrictInt(minimum=100, maximum=10000, load_default=800)
    lines = fields.List(StrictStr(non_empty=True, max_length=200), required=True, validate=validate.Length(min=1))
