"""The ``tools`` of an agent file: which built-ins its LLM may call, and its HTTP tools (docs/agents.md).

A tool's secret headers name environment variables (``secret_headers: {Authorization: CRM_TOKEN}``), never
the secret itself: a ``headers`` field is refused with that advice. Every HTTP tool's host must be on the
operator's allow-list (``TOOL_HOSTS``), checked when the file is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from actions import StrictSchema
from actions.fields import StrictInt, StrictStr

BUILTIN_TOOLS = ("end_call", "transfer", "hold")
JSON_TYPES = ("object", "string", "number", "integer", "boolean", "array", "null")


def check_parameters(schema: Any) -> None:
    """A tool's arguments: a JSON Schema object with named properties (what OpenAI-compatible servers take)."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValidationError("Give a JSON Schema with type: object (e.g. {type: object, properties: {...}}).")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ValidationError("properties must map each argument's name to its schema.")
    for name, spec in properties.items():
        if not isinstance(spec, dict) or spec.get("type", "string") not in JSON_TYPES:
            raise ValidationError(f"Argument {name!r} needs a schema with a JSON type ({', '.join(JSON_TYPES)}).")
    required = schema.get("required", [])
    if not isinstance(required, list) or any(name not in properties for name in required):
        raise ValidationError("required must list names from properties.")


class HttpToolSchema(StrictSchema):
    name = StrictStr(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="1-64 letters, digits, _ or - (OpenAI's rule)."),
    )
    description = StrictStr(required=True, non_empty=True, metadata={"description": "What the model reads."})
    parameters = fields.Dict(load_default=lambda: {"type": "object", "properties": {}}, validate=check_parameters)
    url = StrictStr(required=True, validate=validate.URL(schemes={"http", "https"}, require_tld=False))
    method = fields.String(load_default="POST", validate=validate.OneOf(("GET", "POST")))
    timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0.1, max=30))
    secret_headers = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z0-9-]{1,64}$", error="Not a header name.")),
        values=fields.String(
            validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", error="Name an environment variable.")
        ),
        load_default=dict,
        metadata={"description": "Header name -> the environment variable that holds its value."},
    )

    @pre_load
    def _no_secrets_in_the_file(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "headers" in data:
            raise ValidationError(
                "Secrets never go in the agent file: use secret_headers: {Header-Name: ENV_VARIABLE}.", "headers"
            )
        return data

    @validates_schema
    def _not_a_builtin(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["name"] in BUILTIN_TOOLS:
            raise ValidationError(f"{data['name']!r} is a built-in tool: list it under builtin.", "name")


class ToolsSchema(StrictSchema):
    """What the LLM policy may do besides talking (streams/voice/tools.py)."""

    builtin = fields.List(fields.String(validate=validate.OneOf(BUILTIN_TOOLS)), load_default=list)
    http = fields.List(fields.Nested(HttpToolSchema), load_default=list)
    max_rounds = StrictInt(minimum=1, maximum=10, load_default=3)
    wait_ms = StrictInt(minimum=100, maximum=10000, load_default=1000)
    waiting = StrictStr(non_empty=True, metadata={"description": "Said while a slow tool runs."})
    fallback = StrictStr(non_empty=True, metadata={"description": "Said when a turn's tools came to nothing."})
    hold_file = StrictStr(non_empty=True, metadata={"description": "What the hold tool plays (default hold.wav)."})

    @validates_schema
    def _unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = [tool["name"] for tool in data["http"]]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValidationError(f"Tool names must be unique: {', '.join(twice)}.", "http")


def check_tools(agent: dict[str, Any], hosts: Sequence[str]) -> None:
    """Agent-level rules for tools; ValidationError names the field (``tools.http.0.url``)."""
    tools = agent.get("tools")
    if not tools:
        return
    if agent["policy"] != "llm":
        raise ValidationError({"tools": ["Tools are for the LLM policy: set policy: llm."]})
    if "transfer" in tools["builtin"] and "human" not in agent:
        raise ValidationError({"tools": {"builtin": ["Give human.numbers: the transfer tool hands to a person."]}})
    allowed = {host.lower() for host in hosts}
    for n, tool in enumerate(tools["http"]):
        host = (urlsplit(tool["url"]).hostname or "").lower()
        if host not in allowed:
            listed = ", ".join(sorted(allowed)) or "empty"
            message = f"Host {host!r} is not on TOOL_HOSTS (now: {listed}); the operator allows tool hosts there."
            raise ValidationError({"tools": {"http": {n: {"url": [message]}}}})
