"""Schemathesis against our own OpenAPI document, in process (WSGI): no 5xx, every error in one shape.

Every operation gets positive (schema-valid) and negative (schema-breaking)
requests, authenticated with the API key and the webhook token. The number of
requests sent is printed in the terminal summary (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import API_KEY, WEBHOOK_TOKEN

HEADERS = {"Authorization": f"Bearer {API_KEY}", "X-Webhook-Token": WEBHOOK_TOKEN}
# Examples per operation and mode; cheap operations get more. Together well over 5,000 requests.
# Per operation; CALLSTREAM_FUZZ_EXAMPLES=2000 for a deeper run than the everyday one (the suite's 10 minutes).
DEFAULT_EXAMPLES = int(os.environ.get("CALLSTREAM_FUZZ_EXAMPLES") or 400)
EXAMPLES = {"default": DEFAULT_EXAMPLES, "GET /api/v1/runtime": 40, "GET /metrics": 60, "GET /api/v1/openapi.json": 20}
SENT: Counter[str] = Counter()
FAILURES: list[str] = []


def check(label: str, case: Any, response: Any) -> None:
    """No server error; every error response is ``{code, message, errors}`` with errors an object."""
    SENT[label] += 1
    status = response.status_code
    where = f"{label}: {case.method} {case.formatted_path} query={case.query!r} body={str(case.body)[:200]!r}"
    if status >= 500 and status not in (502, 503):  # 502/503: the platform's state, reported on purpose
        FAILURES.append(f"{where} -> {status} {response.content[:300]!r}")
        return
    if status >= 400:
        try:
            body = json.loads(response.content)
        except ValueError:
            FAILURES.append(f"{where} -> {status} not JSON: {response.content[:200]!r}")
            return
        if not (
            isinstance(body, dict) and set(body) == {"code", "message", "errors"} and isinstance(body["errors"], dict)
        ):
            FAILURES.append(f"{where} -> {status} not the error shape: {body!r:.200}")


def fuzz(schema: Any, operation: Any, mode: GenerationMode, examples: int) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        check(label, case, case.call(headers=HEADERS))

    try:
        run()
    except Unsatisfiable:  # nothing to break: an operation without parameters or body has no negative cases
        assert mode == GenerationMode.NEGATIVE, label


@pytest.mark.timeout(150)
def test_no_generated_request_gets_a_server_error_or_a_bare_error(app) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        examples = EXAMPLES.get(label, EXAMPLES["default"])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(schema, operation, mode, examples // 2)
    total = sum(SENT.values())
    print(f"\nschemathesis: {total} generated requests over {len(SENT)} operations: {dict(SENT)}")
    assert not FAILURES, "\n".join(FAILURES[:20])
    assert total >= 8 * DEFAULT_EXAMPLES


# -- wrong types (#25.13): every field of every JSON body, as a list, an object, a number… -------------------

WRONG_TYPES: list[Any] = [[], ["x"], {}, {"a": "b"}, 0, -1, 1.5, 10**30, True, None, "", "x", "\u0000", [[{}]]]


def _names_and_choices(doc: dict[str, Any], schema: Any, names: set[str], actions: set[str], seen: set[str]) -> None:
    """Every property name a request schema (and what it refers to) mentions; the ``action`` values too."""
    if isinstance(schema, list):
        for item in schema:
            _names_and_choices(doc, item, names, actions, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        seen.add(ref)
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        _names_and_choices(doc, target, names, actions, seen)
    for name, sub in (schema.get("properties") or {}).items():
        names.add(name)
        if name == "action" and isinstance(sub, dict):
            actions.update(sub.get("enum") or [])
    for key in ("oneOf", "anyOf", "allOf", "items", "additionalProperties", "properties", "mapping"):
        if key != "properties":
            _names_and_choices(doc, schema.get(key), names, actions, seen)
        else:
            _names_and_choices(doc, list((schema.get(key) or {}).values()), names, actions, seen)
    discriminator = schema.get("discriminator") or {}
    actions.update((discriminator.get("mapping") or {}).keys())


def wrong_type_bodies(doc: dict[str, Any], body_schema: Any) -> list[Any]:
    """Bodies with one field of the wrong type each, over every ``action``, and wrong types for the whole body."""
    names: set[str] = set()
    actions: set[str] = set()
    _names_and_choices(doc, body_schema, names, actions, set())
    bases: list[dict[str, Any]] = [{}] + [{"action": action} for action in sorted(actions)]
    bodies: list[Any] = list(WRONG_TYPES)
    for base in bases:
        for name in sorted(names):
            bodies += [{**base, name: value} for value in WRONG_TYPES if name != "action" or not base]
    return bodies


def _post_json(client: Any, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.timeout(240)
def test_a_wrong_type_in_any_json_field_is_a_400_never_a_500(make_app) -> None:
    """Every JSON operation of the OpenAPI document and the dashboard's JSON endpoints (softphone, commands)."""
    import re

    from app.services import store

    app = make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD="fuzz-password")
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    with app.app_context():
        live_id = store().create(direction="inbound", from_number="919876543210", to_number="919000000000")["id"]
    failures: list[str] = []
    sent = 0

    def send(label: str, path: str, body: Any, headers: dict[str, str], via: Any = client) -> None:
        nonlocal sent
        sent += 1
        response = _post_json(via, path, body, headers)
        if response.status_code >= 500 and response.status_code not in (502, 503):
            failures.append(f"{label} {json.dumps(body)[:120]} -> {response.status_code}")
        elif response.status_code >= 400:
            shape = response.get_json(silent=True)
            if not (isinstance(shape, dict) and isinstance(shape.get("errors"), dict) and "message" in shape):
                failures.append(f"{label} {json.dumps(body)[:120]} -> {response.status_code} not the error shape")

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content") or {}
            if method != "post" or "application/json" not in content:
                continue
            url = re.sub(r"\{[^}]+\}", live_id, path)
            url += f"?token={WEBHOOK_TOKEN}" if path.startswith("/webhooks/") else ""
            for body in wrong_type_bodies(doc, content["application/json"].get("schema")):
                send(f"POST {path}", url, body, HEADERS)
    dashboard_sessions(app, send, live_id, doc)
    print(f"\nwrong types: {sent} requests")
    assert not failures, "\n".join(failures[:20])
    assert sent >= 1000


def dashboard_sessions(app: Any, send: Any, call_id: str, doc: dict[str, Any]) -> None:
    """The dashboard's JSON endpoints, signed in: the softphone and the call commands."""
    import re

    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', login).group(1)
    client.post("/login", data={"username": "ops", "password": "fuzz-password", "csrf_token": token})
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/dashboard/softphone").get_data(as_text=True))
    assert token is not None, "not signed in"
    headers = {"X-CSRF-Token": token.group(1)}
    actions_schema = doc["paths"]["/api/v1/calls/{call_id}/actions"]["post"]["requestBody"]["content"]
    for body in wrong_type_bodies(doc, {"properties": {"agent": {}}}):
        send("POST /dashboard/api/softphone", "/dashboard/api/softphone", body, headers, client)
    for body in wrong_type_bodies(doc, actions_schema["application/json"].get("schema")):
        send("POST /dashboard/api/calls/<id>/actions", f"/dashboard/api/calls/{call_id}/actions", body, headers, client)
