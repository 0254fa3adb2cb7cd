"""The OpenAPI document, generated from the same marshmallow schemas the views load with."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify, render_template
from marshmallow import fields

from actions import fields as action_fields
from actions import pipeline
from streams import commands

from . import schemas
from .version import __version__

bp = Blueprint("openapi", __name__)

_STRINGS = (action_fields.StrictStr, action_fields.PhoneString, action_fields.LegacyNumber, schemas.Since)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


AUTH = [{"apiKey": []}]
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
COMMON = {"401": _error("Missing or wrong API key.")}


def _call_operations() -> dict[str, dict[str, Any]]:
    call_id = CALL_ID
    return {
        "/api/v1/calls": {
            "post": {
                "summary": "Place an outbound call through Piopiy; the callee talks to an agent.",
                "security": AUTH,
                "requestBody": {"required": True, "content": {"application/json": {"schema": "CallCreate"}}},
                "responses": {
                    "201": _json("CallCreated", "Placed: our call and the platform's answer."),
                    "400": _error("The body is not valid; errors name the fields."),
                    "422": _error("Piopiy refused the call (its message is included)."),
                    "502": _error("Piopiy failed, timed out or answered garbage after retries."),
                    **COMMON,
                },
            },
            "get": {
                "summary": "Calls, newest first, filtered and paged.",
                "security": AUTH,
                "parameters": [{"in": "query", "schema": schemas.CallListQuerySchema}],
                "responses": {"200": _json("CallPage", "A page of calls."), "400": _error("Bad filter."), **COMMON},
            },
        },
        "/api/v1/calls/{call_id}": {
            "get": {
                "summary": "One call with its timeline and transcript.",
                "security": AUTH,
                "parameters": [call_id],
                "responses": {"200": _json("CallDetail", "The call."), "404": _error("No such call."), **COMMON},
            }
        },
        "/api/v1/calls/{call_id}/actions": {
            "post": {
                "summary": "Command a live call: " + ", ".join(commands.REGISTRY) + ".",
                "description": "\n".join(f"- `{c.name}`: {c.summary}" for c in commands.REGISTRY.values()),
                "security": AUTH,
                "parameters": [call_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": "CallAction"}}},
                "responses": {
                    "200": _json("CallActionResult", "Carried out by the live call."),
                    "400": _error("The command or its parameters are not valid; errors name the fields."),
                    "404": _error("No such call."),
                    "409": _error("The call is not live here, or the command conflicts with what it is doing."),
                    "422": _error("The command cannot apply to this call (e.g. nobody to transfer to)."),
                    "501": _error("The command needs a part this call lacks (e.g. text to speech for say)."),
                    "503": _error("Too much is queued on the call; try again shortly."),
                    **COMMON,
                },
            }
        },
    }


def _pcmo_operations() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/pcmo": {
            "post": {
                "summary": "Validate actions and return the PCMO array (v2 actions or a v3 pipeline).",
                "security": AUTH,
                "requestBody": {"required": True, "content": {"application/json": {"schema": "PcmoRequest"}}},
                "responses": {
                    "200": {
                        "description": "The validated PCMO array.",
                        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
                    },
                    "400": _error("Field-level errors, keyed by the action's index."),
                    **COMMON,
                },
            }
        },
    }


def _webhook_operations() -> dict[str, dict[str, Any]]:
    call_id = CALL_ID
    return {
        "/webhooks/piopiy/answer": {
            "post": {
                "summary": "Answer URL: Piopiy posts an inbound call (from, to, time, cmiuuid); we return its PCMO.",
                "parameters": [{"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "PCMO array."},
                    "400": _error("Missing fields."),
                    "401": _error("Missing or wrong webhook token."),
                },
            }
        },
        "/webhooks/piopiy/events": {
            "post": {
                "summary": "CDR and live call events; stored once each, however often they are retried.",
                "parameters": [{"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Stored (or recognised as a repeat)."},
                    "401": _error("Missing or wrong webhook token."),
                },
            }
        },
        "/webhooks/piopiy/input/{call_id}": {
            "post": {
                "summary": "action_url of input/play_get_input: the digits pressed; we return the next PCMO.",
                "parameters": [
                    call_id,
                    {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "PCMO array."},
                    "404": _error("No such call or menu."),
                    "401": _error("Missing or wrong webhook token."),
                },
            }
        },
    }


def _operations() -> dict[str, dict[str, Any]]:
    return {**_call_operations(), **_pcmo_operations(), **_webhook_operations()}


def build_spec() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Callstream",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Voice bots on Piopiy: webhooks, outbound calls, live-call control."},
    )
    for cls in _STRINGS:
        plugin.map_to_openapi_type(cls, "string", None)
    plugin.map_to_openapi_type(action_fields.StrictInt, fields.Integer)
    plugin.map_to_openapi_type(action_fields.StrictBool, fields.Boolean)
    plugin.map_to_openapi_type(pipeline.Variables, fields.Dict)
    plugin.map_to_openapi_type(schemas.Epoch, "string", "date-time")
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    for name, schema in (
        ("Error", schemas.ErrorSchema),
        ("Call", schemas.CallSchema),
        ("CallCreate", schemas.CallCreateSchema),
        ("CallCreated", schemas.CallCreatedSchema),
        ("CallDetail", schemas.CallDetailSchema),
        ("CallPage", schemas.CallPageSchema),
        ("CallActionResult", schemas.CallActionResultSchema),
        ("PcmoRequest", schemas.PcmoRequestSchema),
    ):
        spec.components.schema(name, schema=schema)
    for command in commands.REGISTRY.values():
        spec.components.schema(f"CallAction{command.name.title()}", schema=command.request_schema())
    spec.components.schema(
        "CallAction",
        {
            "oneOf": [{"$ref": f"#/components/schemas/CallAction{name.title()}"} for name in commands.REGISTRY],
            "discriminator": {
                "propertyName": "action",
                "mapping": {name: f"#/components/schemas/CallAction{name.title()}" for name in commands.REGISTRY},
            },
        },
    )
    for path, operations in _operations().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


_SPEC: dict[str, Any] | None = None


def get_spec() -> dict[str, Any]:
    global _SPEC
    if _SPEC is None:
        _SPEC = build_spec()
    return _SPEC


@bp.get("/api/v1/openapi.json")
def openapi_json():  # type: ignore[no-untyped-def]
    return jsonify(get_spec())


@bp.get("/api/v1/docs")
def openapi_page():  # type: ignore[no-untyped-def]
    """The spec rendered server-side: no CDN, works offline."""
    return render_template("openapi.html", spec=get_spec())
