"""Issue #20.3: what make_call's answer means, as documented: success is ``status: "progress"`` with a
``request_id``; a ``code`` or ``cmi_code`` of 400 or more in an HTTP 200 body is a failure (our 502)."""

from __future__ import annotations

import pytest

from app.services import store
from tests.conftest import api_headers
from tests.support.platform_double import PlatformDouble

REQUEST_ID = "FrTckxcdYpJQFwSwki7ee2qY90MOYhgRyFzqgSlK5uT"  # TeleCMI's sample (PCMO outbound call page)
DOCUMENTED = {"data": {"status": "progress", "request_id": REQUEST_ID}, "status": "progress",
              "request_id": REQUEST_ID, "code": 200}  # fmt: skip


def place(client):
    return client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())


def test_the_documented_success_places_the_call_known_by_its_request_id(client, platform: PlatformDouble) -> None:
    platform.answer_with((200, DOCUMENTED, 0))
    response = place(client)
    assert response.status_code == 201
    call = response.get_json()["call"]
    assert call["platform_id"] == DOCUMENTED["request_id"] and call["state"] == "created"
    with client.application.app_context():
        assert store().find_by_platform_id(DOCUMENTED["request_id"])["id"] == call["id"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"code": 502, "status": "error", "msg": "The property required is missing"}, "property required is missing"),
        ({"cmi_code": 420, "status": "error", "message": "Invalid app id or secret"}, "Invalid app id or secret"),
        ({"code": "422", "error": "Missing required property"}, "Missing required property"),
        ({"status": "error", "request_id": "r-1", "reason": "no route"}, "no route"),
        ({"status": "progress"}, "no request_id"),
    ],
)
def test_a_failure_inside_a_200_body_is_our_502_with_the_platform_message(
    client, platform: PlatformDouble, answer, message
) -> None:
    platform.answer_with((200, answer, 0))
    response = place(client)
    assert response.status_code == 502, response.get_json()
    body = response.get_json()
    assert body["code"] == "platform_unavailable" and message in body["message"]
    assert len(platform.requests) == 1  # an answer, not an outage: not retried
    with client.application.app_context():
        call = store().get(body["errors"]["call_id"])
    assert call["state"] == "failed"
