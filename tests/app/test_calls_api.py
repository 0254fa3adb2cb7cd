"""The REST API: outbound calls through a real HTTP platform double, history, actions, OpenAPI."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import parse_qs, urlparse

import pytest

from app.piopiy import signing
from app.services import store
from tests.conftest import SECRET_KEY, api_headers
from tests.support.platform_double import PlatformDouble


def place(client, **body):
    return client.post("/api/v1/calls", json={"to": "919876543210", **body}, headers=api_headers())


def test_v2_outbound_call_sends_the_documented_body(app, client, platform: PlatformDouble) -> None:
    response = place(
        client, agent="demo-ko", duration=300, timeout=30, loop=2, record=True, variables={"ticket": "T-9"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    call = body["call"]
    assert body["platform"] == {"code": 200, "request_id": "req-1"}
    assert call["direction"] == "outbound" and call["state"] == "created" and call["agent"] == "demo-ko"
    assert call["platform_id"] == "req-1" and call["to"] == "919876543210" and call["from"] == "919000000000"

    [sent] = platform.requests
    assert sent.path == "/v2/ind_pcmo_make_call"  # 919000000000 is an Indian number
    assert "Authorization" not in sent.headers
    payload = sent.body
    assert set(payload) == {"appid", "secret", "from", "to", "duration", "extra_params", "pcmo", "timeout", "loop"}
    assert payload["appid"] == 4444444 and payload["secret"] == "app-secret-never-logged"
    assert payload["from"] == 919000000000 and payload["to"] == 919876543210 and payload["duration"] == 300
    assert payload["extra_params"] == {"ticket": "T-9", "callstream_id": call["id"]}
    assert [a["action"] for a in payload["pcmo"]] == ["record", "stream"]
    ws = urlparse(payload["pcmo"][1]["ws_url"])
    query = {k: v[0] for k, v in parse_qs(ws.query).items()}
    assert ws.path == f"/stream/{call['id']}"
    assert signing.verify(SECRET_KEY, call["id"], query["exp"], query["sig"]) is None


def test_v2_global_numbers_use_the_global_endpoint(make_app, platform: PlatformDouble) -> None:
    client = make_app(PIOPIY_NUMBER="14155550100").test_client()
    assert place(client).status_code == 201
    assert platform.requests[0].path == "/v2/global_pcmo_make_call"
    assert platform.requests[0].body["duration"] == 5400  # the platform's default, sent explicitly


def test_v3_outbound_call_uses_bearer_and_pipeline(make_app, platform: PlatformDouble) -> None:
    platform.answer_with((200, {"data": {"call_id": "8d3e5f0a-0000-4000-8000-000000000001"}}, 0))
    client = make_app(PIOPIY_API_VERSION="v3").test_client()
    response = place(client, caller_id="+919000000009", duration=600, timeout=20, record=True)
    assert response.status_code == 201, response.get_json()
    call = response.get_json()["call"]
    assert call["platform_id"] == "8d3e5f0a-0000-4000-8000-000000000001"
    [sent] = platform.requests
    assert sent.path == "/voice/pcmo/call"
    assert sent.headers["Authorization"] == "Bearer v3-token-never-logged"
    assert sent.body["caller_id"] == "919000000009" and sent.body["to_number"] == "919876543210"
    assert sent.body["app_id"] == "4444444"
    assert sent.body["options"] == {"max_duration_sec": 600, "ring_timeout_sec": 20, "record": True}
    assert sent.body["variables"] == {"callstream_id": call["id"]}
    assert [a["action"] for a in sent.body["pipeline"]] == ["stream"]


def test_platform_4xx_becomes_422_and_the_call_is_failed(app, client, platform: PlatformDouble) -> None:
    platform.answer_with((400, {"code": 400, "msg": "Invalid number"}, 0))
    response = place(client)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "platform_rejected" and "Invalid number" in body["message"]
    assert len(platform.requests) == 1  # a 4xx is not retried
    with app.app_context():
        call = store().get(body["errors"]["call_id"])
    assert call["state"] == "failed" and call["end_reason"] == "platform_rejected"


def test_legacy_200_with_error_code_is_a_failure(client, platform: PlatformDouble) -> None:
    platform.answer_with((200, {"code": 404, "msg": "App not found"}, 0))
    response = place(client)  # issue #20.3: a code >= 400 in a 200 body is our 502 with the platform's message
    assert response.status_code == 502 and "App not found" in response.get_json()["message"]


def test_platform_5xx_is_retried_then_502(app, client, platform: PlatformDouble) -> None:
    platform.answer_with((503, {"error": "busy"}, 0))
    response = place(client)
    assert response.status_code == 502 and response.get_json()["code"] == "platform_unavailable"
    assert len(platform.requests) == 3  # first try + PIOPIY_RETRIES=2
    with app.app_context():
        assert store().get(response.get_json()["errors"]["call_id"])["state"] == "failed"


def test_a_429_then_success_places_the_call(client, platform: PlatformDouble) -> None:
    platform.answer_with((429, {"error": "slow down"}, 0), (200, {"request_id": "r-2"}, 0))
    response = place(client)
    assert response.status_code == 201 and response.get_json()["call"]["platform_id"] == "r-2"
    assert len(platform.requests) == 2


def test_a_slow_platform_times_out_into_502(make_app, platform: PlatformDouble) -> None:
    platform.answer_with((200, {"request_id": "late"}, 1.0))
    client = make_app(PIOPIY_TIMEOUT=0.2, PIOPIY_RETRIES=1).test_client()
    started = time.monotonic()
    response = place(client)
    assert response.status_code == 502 and "in time" in response.get_json()["message"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("garbage", [b"<html>oops</html>", b"[1,2,3]", b""])
def test_garbage_from_the_platform_is_502(client, platform: PlatformDouble, garbage: bytes) -> None:
    platform.answer_with((200, garbage, 0))
    response = place(client)
    assert response.status_code == 502


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_platform_is_502(make_app) -> None:
    client = make_app(PIOPIY_API_URL=f"http://127.0.0.1:{closed_port()}", PIOPIY_RETRIES=0).test_client()
    response = place(client)
    assert response.status_code == 502 and "reach" in response.get_json()["message"]


def test_secrets_never_reach_the_logs(client, platform: PlatformDouble, caplog) -> None:
    platform.answer_with((500, {"error": "boom"}, 0))
    with caplog.at_level(logging.DEBUG):
        place(client)
        platform.answer_with((200, {"request_id": "ok"}, 0))
        place(client)
    for secret in ("app-secret-never-logged", "test-api-key", "test-webhook-token", "test-secret-key"):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"to"}),
        ({"to": "12ab"}, {"to"}),
        ({"to": "919876543210", "caller_id": "0"}, {"caller_id"}),
        ({"to": "919876543210", "timeout": 1, "duration": 10, "loop": 0}, {"timeout", "duration", "loop"}),
        ({"to": "919876543210", "record": "yes"}, {"record"}),
        ({"to": "919876543210", "variables": {"bad key": 1}}, {"variables"}),
        ({"to": "919876543210", "agent": "nobody"}, {"agent"}),
        ({"to": "919876543210", "colour": "red"}, {"colour"}),
    ],
)
def test_call_validation_errors_name_the_fields(client, platform: PlatformDouble, body, fields) -> None:
    response = client.post("/api/v1/calls", json=body, headers=api_headers())
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == fields
    assert platform.requests == []


def test_non_json_bodies_are_400(client) -> None:
    response = client.post("/api/v1/calls", data="to=1", headers=api_headers())
    assert response.status_code == 400 and response.get_json()["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/api/v1/calls", "/api/v1/calls/x", "/api/v1/pcmo"])
def test_api_key_is_required(client, path: str) -> None:
    for headers in ({}, api_headers("nope"), {"Authorization": "test-api-key"}):
        response = client.get(path, headers=headers) if "pcmo" not in path else client.post(path, headers=headers)
        assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"


def test_listing_filters_and_pages(app, client) -> None:
    with app.app_context():
        calls = store()
        ids = [
            calls.create(direction="outbound" if i % 2 else "inbound", from_number="1", to_number="2")["id"]
            for i in range(7)
        ]
        calls.set_state(ids[0], "ended", reason="completed")
    page = client.get("/api/v1/calls?per_page=3&page=1", headers=api_headers()).get_json()
    assert page["total"] == 7 and len(page["items"]) == 3 and page["page"] == 1
    assert [c["id"] for c in page["items"]] == ids[::-1][:3]  # newest first
    last = client.get("/api/v1/calls?per_page=3&page=3", headers=api_headers()).get_json()
    assert [c["id"] for c in last["items"]] == [ids[0]]
    outbound = client.get("/api/v1/calls?direction=outbound", headers=api_headers()).get_json()
    assert outbound["total"] == 3
    ended = client.get("/api/v1/calls?state=ended", headers=api_headers()).get_json()
    assert [c["id"] for c in ended["items"]] == [ids[0]] and ended["items"][0]["ended_at"].endswith("Z")
    future = client.get("/api/v1/calls?since=2999-01-01T00:00:00Z", headers=api_headers()).get_json()
    assert future["total"] == 0
    assert client.get(f"/api/v1/calls?since={time.time() - 60}", headers=api_headers()).get_json()["total"] == 7


@pytest.mark.parametrize(
    "query, field",
    [
        ("state=weird", "state"),
        ("direction=up", "direction"),
        ("since=yesterday", "since"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("sort=x", "sort"),
    ],
)
def test_listing_rejects_bad_filters(client, query: str, field: str) -> None:
    response = client.get(f"/api/v1/calls?{query}", headers=api_headers())
    assert response.status_code == 400 and field in response.get_json()["errors"]


def test_call_detail_has_timeline_and_transcript(app, client) -> None:
    created = place(client).get_json()["call"]
    with app.app_context():
        store().add_transcript(created["id"], "caller", "hello")
    detail = client.get(f"/api/v1/calls/{created['id']}", headers=api_headers()).get_json()
    assert detail["id"] == created["id"] and detail["live"] is False
    assert [e["kind"] for e in detail["timeline"]] == ["state", "platform.call"]
    assert detail["transcript"][0]["speaker"] == "caller" and detail["transcript"][0]["text"] == "hello"
    assert client.get("/api/v1/calls/missing", headers=api_headers()).status_code == 404


def test_actions_need_a_known_call_with_a_live_session(client) -> None:
    call_id = place(client).get_json()["call"]["id"]
    url = f"/api/v1/calls/{call_id}/actions"
    response = client.post(url, json={"action": "pause"}, headers=api_headers())
    assert response.status_code == 409 and response.get_json()["code"] == "call_not_live"
    response = client.post("/api/v1/calls/nope/actions", json={"action": "pause"}, headers=api_headers())
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "dance"}, "action"),
        ({"action": "play"}, "file"),
        ({"action": "say"}, "text"),
        ({"action": "pause", "text": "x"}, "text"),
        ({"action": "transfer", "numbers": []}, "numbers"),
        ({"action": "transfer", "numbers": ["abc"]}, "numbers"),
        ({}, "action"),
    ],
)
def test_action_validation(client, body, field: str) -> None:
    call_id = place(client).get_json()["call"]["id"]
    response = client.post(f"/api/v1/calls/{call_id}/actions", json=body, headers=api_headers())
    assert response.status_code == 400 and field in response.get_json()["errors"]


def test_openapi_document_and_page(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/calls" in spec["paths"]
    create = spec["components"]["schemas"]["CallCreate"]
    assert "to" in create["required"] and create["properties"]["timeout"]["type"] == "integer"
    schemas = spec["components"]["schemas"]
    one_of = schemas["CallAction"]["oneOf"]
    mapping = schemas["CallAction"]["discriminator"]["mapping"]
    assert set(mapping) == {"pause", "resume", "stop", "break", "play", "say", "transfer", "hangup"}
    assert len(one_of) == len(mapping)  # every command in the registry, one schema each
    for name, ref in mapping.items():
        command = schemas[ref.rsplit("/", 1)[1]]
        assert command["properties"]["action"]["enum"] == [name] and "action" in command["required"]
    assert schemas["CallActionSay"]["required"] == ["action", "text"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/calls/{call_id}/actions" in page.data and b"caller_id" in page.data
