"""Live-call commands: one registry, one entry per command.

Each entry has a name, a marshmallow schema for its parameters, a handler and
the words the dashboard shows. The REST endpoint, the OpenAPI document, the
dashboard's controls and the call's dispatch all read this registry, so adding
a command is one ``@command`` here plus its test.

A handler gets the live call, the validated parameters and who asked; it
returns a JSON-able result or raises a ``CallError`` (409/422/501/503).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, validate

from actions import StrictSchema
from actions.fields import PhoneString, StrictInt, StrictStr, is_http_url
from streams.session.media_files import is_plain_name

if TYPE_CHECKING:
    from streams.session.call import Call

Handler = Callable[["Call", Mapping[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    label: str
    schema: type[Schema]
    handler: Handler
    confirm: bool = False  # the dashboard asks before sending

    def request_schema(self) -> type[Schema]:
        """The REST body for this command: ``{"action": name, ...parameters}`` (OpenAPI, tests)."""
        declared = {"action": fields.String(required=True, validate=validate.OneOf([self.name]))}
        declared.update(self.schema().declared_fields)
        return StrictSchema.from_dict(declared, name=f"CallAction{self.name.title()}")

    def form_fields(self) -> list[dict[str, Any]]:
        """What the dashboard renders for the parameters: name, input kind, choices."""
        out = []
        for name, field in self.schema().declared_fields.items():
            choices = getattr(field.validate, "choices", None) if field.validate else None
            meta = field.metadata
            out.append(
                {
                    "name": name,
                    "input": meta.get("input", "select" if choices else "text"),
                    "choices": list(choices or []),
                    "required": field.required,
                    "placeholder": meta.get("placeholder", meta.get("description", "")),
                }
            )
        return out


REGISTRY: dict[str, Command] = {}


class NoParameters(StrictSchema):
    pass


def command(
    name: str, summary: str, label: str, schema: type[Schema] = NoParameters, confirm: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Command(name, summary, label, schema, handler, confirm)
        return handler

    return register


def get(name: str) -> Command:
    return REGISTRY[name]


def load(body: Any) -> tuple[str, dict[str, Any]]:
    """Validate a REST/dashboard body into (command name, parameters); ValidationError names the fields."""
    if not isinstance(body, dict):
        raise ValidationError({"_schema": ["Must be a JSON object."]})
    name = body.get("action")
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValidationError({"action": [f"Must be one of: {', '.join(REGISTRY)}."]})
    params = {key: value for key, value in body.items() if key != "action"}
    return name, REGISTRY[name].schema().load(params)


# -- the commands ------------------------------------------------------------------------------
@command("pause", "Pause the stream: the platform stops sending and playing audio.", "Pause")
def _pause(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    call.pause()
    return {"sent": "pause"}


@command("resume", "Resume a paused stream.", "Resume")
def _resume(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    call.resume()
    return {"sent": "resume"}


@command("break", "Cut what the caller is hearing now (barge-in); returns what they had heard.", "Break")
def _break(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    return {"sent": "break", "cuts": call.interrupt("supervisor")}


@command("stop", "Stop the stream; the platform keeps the call, the bot leaves it.", "Stop stream", confirm=True)
def _stop(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    call.stop()
    return {"sent": "stop"}


@command("hangup", "Hang up the call.", "Hang up", confirm=True)
def _hangup(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    call.hang_up()
    return {"sent": "hangup"}


class Interruptible(fields.Field):
    """``true``, ``false`` or ``dtmf`` (JSON booleans too): may the caller's speech cut the line (#23.3)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value is True or value is False:
            return "true" if value else "false"
        if value in ("true", "false", "dtmf"):
            return str(value)
        raise ValidationError("Give true, false or dtmf.")


class SayParameters(StrictSchema):
    text = StrictStr(
        required=True, non_empty=True, max_length=2000, metadata={"description": "What the bot says.", "input": "text"}
    )
    interruptible = Interruptible(
        load_default="true",
        validate=validate.OneOf(("true", "false", "dtmf")),
        metadata={"description": "false or dtmf: speech cannot cut this line (default true; booleans too)."},
    )


@command("say", "Speak text to the caller with the agent's voice.", "Say", SayParameters)
def _say(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    utterance = call.say(params["text"], "speech", interruptible=params.get("interruptible", "true"))
    return {"queued": "say", "utterance": utterance.id if utterance else None}


def _playable(ref: str) -> None:
    if not (is_http_url(ref) or is_plain_name(ref)):
        raise ValidationError("Give an http(s) URL or the name of a file in media/ (no paths).")


class PlayParameters(StrictSchema):
    file = StrictStr(
        required=True,
        non_empty=True,
        max_length=2000,
        validate=_playable,
        metadata={"description": "An http(s) URL, or the name of a file in media/.", "input": "media"},
    )
    mode = fields.String(
        validate=validate.OneOf(("stream", "pcmo")),
        metadata={"description": "stream: we decode and stream it; pcmo: a PCMO play action (default PLAY_MODE)."},
    )


@command("play", "Play an audio file or URL to the caller.", "Play", PlayParameters)
def _play(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    return call.play(params["file"], params.get("mode"))


class TransferParameters(StrictSchema):
    numbers = fields.List(
        PhoneString(),
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Who to ring (default: the agent's human numbers).", "input": "numbers"},
    )
    ring_type = fields.String(validate=validate.OneOf(("group",)), metadata={"description": "Ring all at once."})
    timeout = StrictInt(minimum=1, maximum=300, metadata={"description": "Seconds to ring.", "input": "number"})
    loop = StrictInt(minimum=1, maximum=10, metadata={"description": "Ring rounds.", "input": "number"})


@command(
    "transfer",
    "Hand the caller to a person (hold line, then a bridge); the stream stays open.",
    "Transfer",
    TransferParameters,
)
def _transfer(call: Call, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    overrides = {key: params.get(key) for key in ("ring_type", "timeout", "loop")}
    return {"queued": "transfer", "numbers": call.transfer(params.get("numbers"), overrides, why=by)}
