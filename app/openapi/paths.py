"""The operations of the OpenAPI document: every route a client or the platform calls."""

from __future__ import annotations

from typing import Any

from app.api import schemas
from streams.session import commands

AUTH = [{"apiKey": []}]
HOOK_AUTH = [{"webhookToken": []}, {"webhookHeader": []}]
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
PCMO = {"type": "array", "items": ANY_OBJECT}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def body(schema: Any, *, form: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if form is not None:
        content["application/x-www-form-urlencoded"] = {"schema": form}
    return {"required": True, "content": content}


COMMON = {"401": error("Missing or wrong API key.")}
TOO_LARGE = {"413": error("The body is larger than MAX_CONTENT_LENGTH.")}
HOOK_COMMON = {"401": error("Missing or wrong webhook token."), **TOO_LARGE}


def call_operations() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/calls": {
            "post": {
                "summary": "Place an outbound call through Piopiy; the callee talks to an agent.",
                "security": AUTH,
                "requestBody": body("CallCreate"),
                "responses": {
                    "201": json("CallCreated", "Placed: our call and the platform's answer."),
                    "400": error("The body is not valid; errors name the fields."),
                    "422": error("Piopiy refused the call (its message is included)."),
                    "502": error("Piopiy failed, timed out or answered garbage after retries."),
                    "503": error(
                        "Piopiy is rate limiting (platform_busy): retry after the Retry-After header's seconds. "
                        "A platform call, retries included, takes at most about PIOPIY_TIMEOUT seconds. "
                        "platform_not_configured: the Piopiy credentials are not set (errors.settings names "
                        "them); no call was stored."
                    ),
                    **COMMON,
                    **TOO_LARGE,
                },
            },
            "get": {
                "summary": "Calls, newest first, filtered and paged.",
                "security": AUTH,
                "parameters": [{"in": "query", "schema": schemas.CallListQuerySchema}],
                "responses": {"200": json("CallPage", "A page of calls."), "400": error("Bad filter."), **COMMON},
            },
        },
        "/api/v1/calls/{call_id}": {
            "get": {
                "summary": "One call with its timeline and transcript.",
                "security": AUTH,
                "parameters": [CALL_ID],
                "responses": {"200": json("CallDetail", "The call."), "404": error("No such call."), **COMMON},
            }
        },
        "/api/v1/calls/{call_id}/actions": {
            "post": {
                "summary": "Command a live call: " + ", ".join(commands.REGISTRY) + ".",
                "description": "\n".join(f"- `{c.name}`: {c.summary}" for c in commands.REGISTRY.values()),
                "security": AUTH,
                "parameters": [CALL_ID],
                "requestBody": body("CallAction"),
                "responses": {
                    "200": json("CallActionResult", "Carried out by the live call."),
                    "400": error("The command or its parameters are not valid; errors name the fields."),
                    "404": error("No such call."),
                    "409": error("The call is not live here, or the command conflicts with what it is doing."),
                    "422": error("The command cannot apply to this call (e.g. nobody to transfer to)."),
                    "501": error("The command needs a part this call lacks (e.g. text to speech for say)."),
                    "503": error("Too much is queued on the call; try again shortly."),
                    **COMMON,
                    **TOO_LARGE,
                },
            }
        },
        **recording_operations(),
    }


BINARY = {"type": "string", "format": "binary"}


def recording_operations() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/calls/{call_id}/recording": {
            "get": {
                "summary": "The call's stereo WAV (caller left, bot right), when RECORD_CALLS is on.",
                "security": AUTH,
                "parameters": [CALL_ID],
                "responses": {
                    "200": {
                        "description": "The recording.",
                        "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": error("No such call, or it has no recording (yet)."),
                    **COMMON,
                },
            }
        },
        "/api/v1/calls/{call_id}/webhooks/redeliver": {
            "post": {
                "summary": "Send the call's failed outgoing webhooks again: the same bodies and webhook-ids.",
                "security": AUTH,
                "parameters": [CALL_ID],
                "responses": {
                    "202": json(ANY_OBJECT, "How many were queued again, and the call's webhooks now."),
                    "404": error("No such call."),
                    "409": error("The call has no failed webhook."),
                    **COMMON,
                },
            }
        },
        "/recordings/{call_id}.wav": {  # the link in the post-call webhook (#23.2): its signature is the credential
            "get": {
                "summary": "The recording_url of a call.ended webhook: the WAV without an API key, until it expires.",
                "security": [],
                "parameters": [
                    CALL_ID,
                    {"name": "exp", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "The recording.", "content": {"audio/wav": {"schema": BINARY}}},
                    "403": error("A wrong or expired signature."),
                    "404": error("No such call, or it has no recording."),
                },
            }
        },
    }


def service_operations() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/pcmo": {
            "post": {
                "summary": "Validate actions and return the PCMO array (v2 actions or a v3 pipeline).",
                "security": AUTH,
                "requestBody": body("PcmoRequest"),
                "responses": {
                    "200": json(PCMO, "The validated PCMO array."),
                    "400": error("Field-level errors, keyed by the action's index."),
                    **COMMON,
                    **TOO_LARGE,
                },
            }
        },
        "/api/v1/runtime": {
            "get": {
                "summary": "Live sessions, greenlets, loop and STT lag of this process.",
                "security": AUTH,
                "parameters": [
                    {
                        "name": "reset",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "1: clear the lag samples after reading them.",
                    }
                ],
                "responses": {"200": json(ANY_OBJECT, "Counters of this process."), **COMMON},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: reply latency, calls, frames.",
                "security": AUTH,
                "responses": {
                    "200": {
                        "description": "Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **COMMON,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document.", "responses": {"200": json(ANY_OBJECT, "OpenAPI 3.0.")}}
        },
    }


def webhook_operations() -> dict[str, dict[str, Any]]:
    events = {"oneOf": [ANY_OBJECT, {"type": "array", "items": ANY_OBJECT}]}
    return {
        "/webhooks/piopiy/answer": {
            "post": {
                "summary": "Answer URL: Piopiy posts an inbound call (from, to, time, cmiuuid); we return its PCMO.",
                "security": HOOK_AUTH,
                "requestBody": body("AnswerWebhook", form="AnswerWebhook"),
                "responses": {"200": json(PCMO, "PCMO array."), "400": error("Missing or bad fields."), **HOOK_COMMON},
            }
        },
        "/webhooks/piopiy/events": {
            "post": {
                "summary": "CDR and live call events; stored once each, however often they are retried.",
                "description": "One event object or a list of them; unknown fields are kept.",
                "security": HOOK_AUTH,
                "requestBody": body(events, form=ANY_OBJECT),
                "responses": {
                    "200": json(ANY_OBJECT, "Stored (or recognised as a repeat): one result per event."),
                    "400": error("A body that is not JSON or form data, or an item that is not an object."),
                    **HOOK_COMMON,
                },
            }
        },
        "/webhooks/piopiy/input/{call_id}": {
            "post": {
                "summary": "action_url of input/play_get_input: the digits pressed; we return the next PCMO.",
                "security": HOOK_AUTH,
                "parameters": [CALL_ID],
                "requestBody": body("InputWebhook", form="InputWebhook"),
                "responses": {
                    "200": json(PCMO, "PCMO array."),
                    "400": error("Digits that are not 0-9, * or #."),
                    "404": error("No such call or menu."),
                    **HOOK_COMMON,
                },
            }
        },
    }


def health_operations() -> dict[str, dict[str, Any]]:
    """/healthz for operators, /livez and /readyz for supervisors and routers (app/runtime/health.py)."""
    return {
        "/healthz": {
            "get": {
                "summary": "Status for operators: problems, version, live calls, agents, speech engines.",
                "responses": {
                    "200": json(ANY_OBJECT, "This node takes calls."),
                    "503": json(ANY_OBJECT, "This node takes no calls now (ready, reason say why)."),
                },
            }
        },
        "/livez": {"get": {"summary": "Liveness: the process answers.", "responses": {"200": json(ANY_OBJECT, "Up.")}}},
        "/readyz": {
            "get": {
                "summary": "Readiness for routers: this node takes calls now.",
                "responses": {
                    "200": json(ANY_OBJECT, "Ready."),
                    "503": json(ANY_OBJECT, "Warming, draining, full or degraded (reason, message)."),
                },
            }
        },
    }


def operations() -> dict[str, dict[str, Any]]:
    return {**call_operations(), **service_operations(), **health_operations(), **webhook_operations()}
