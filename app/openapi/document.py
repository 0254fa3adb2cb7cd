"""The OpenAPI document, generated from the same marshmallow schemas the views load with."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify, render_template
from marshmallow import fields

from actions import fields as action_fields
from actions import pipeline
from app.api import schemas
from app.openapi.json_schema import field_attributes
from app.openapi.paths import operations
from app.version import __version__
from app.webhooks import schemas as webhooks
from streams.session import commands

bp = Blueprint("openapi", __name__)

_STRINGS = (action_fields.StrictStr, action_fields.PhoneString, action_fields.LegacyNumber, schemas.Since)
_SCHEMAS = (
    ("Error", schemas.ErrorSchema),
    ("Call", schemas.CallSchema),
    ("CallCreate", schemas.CallCreateSchema),
    ("CallCreated", schemas.CallCreatedSchema),
    ("CallDetail", schemas.CallDetailSchema),
    ("CallPage", schemas.CallPageSchema),
    ("CallActionResult", schemas.CallActionResultSchema),
    ("PcmoRequest", schemas.PcmoRequestSchema),
    ("AnswerWebhook", webhooks.AnswerSchema),
    ("InputWebhook", webhooks.InputSchema),
)


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
    plugin.converter.add_attribute_function(field_attributes)  # type: ignore[union-attr]
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("webhookToken", {"type": "apiKey", "in": "query", "name": "token"})
    spec.components.security_scheme("webhookHeader", {"type": "apiKey", "in": "header", "name": "X-Webhook-Token"})
    for name, schema in _SCHEMAS:
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
    for path, ops in operations().items():
        spec.path(path=path, operations=ops)
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
