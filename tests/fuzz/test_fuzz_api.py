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
