"""Bad input and a misbehaving platform never make a 500, a hang, a forged log line or a duplicate call."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest
import sqlalchemy as sa

from app.api.schemas import CallSchema, iso_time
from app.piopiy import signing
from app.services import store
from app.storage.tables import calls
from tests.conftest import SECRET_KEY, api_headers, hook_url
from tests.support.platform_double import PlatformDouble


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"} and isinstance(body["errors"], dict)
    return body


# -- 1. times --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", [1e300, -1e20, 10**30, 253402300800, "1" * 40, 5, "NaN-ish"])
def test_an_out_of_range_cdr_time_never_breaks_the_call_list(client, stamp) -> None:
    event = {"type": "in_answered", "cmiuuid": f"t-{stamp!s:.10}", "answered_time": stamp}
    before = time.time()
    assert client.post(hook_url("events"), json=event).status_code == 200
    listed = client.get("/api/v1/calls", headers=api_headers())
    assert listed.status_code == 200
    [call] = listed.get_json()["items"]
    assert call["answered_at"] is not None  # an unbelievable time is stored as "now"
    assert listed.get_json()["items"][0]["answered_at"] >= time.strftime("%Y-%m-%dT%H:%M", time.gmtime(before))


def test_a_believable_cdr_time_is_kept_in_seconds_or_milliseconds(client) -> None:
    client.post(hook_url("events"), json={"type": "in_answered", "cmiuuid": "s", "answered_time": 1700000000})
    client.post(hook_url("events"), json={"type": "in_answered", "cmiuuid": "ms", "answered_time": 1700000000123})
    items = client.get("/api/v1/calls", headers=api_headers()).get_json()["items"]
    assert sorted(c["answered_at"] for c in items) == ["2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.123Z"]


@pytest.mark.parametrize("stored", [None, math.inf, -math.inf, math.nan, 1e300, -1e300, 10**40, "x", True])
def test_stored_times_that_are_not_times_are_shown_as_null(stored) -> None:
    assert iso_time(stored) is None
    assert CallSchema().dump({"id": "c", "answered_at": stored})["answered_at"] is None


def test_a_bad_time_already_in_the_database_is_null_not_a_500(app, client) -> None:
    client.post(hook_url("events"), json={"type": "in_answered", "cmiuuid": "old-row"})
    with app.app_context():
        call_id = store().find_by_platform_id("old-row")["id"]
        bad = sa.update(calls).where(calls.c.id == call_id).values(answered_at=1e300, ended_at=-1e300)
        store().db.write(lambda conn: conn.execute(bad))
    assert client.get("/api/v1/calls", headers=api_headers()).get_json()["items"][0]["answered_at"] is None
    assert client.get(f"/api/v1/calls/{call_id}", headers=api_headers()).get_json()["ended_at"] is None


# -- 2. a rate-limited platform -----------------------------------------------------------------------------


def test_a_429_with_a_long_retry_after_is_a_quick_503_with_retry_after(make_app, platform: PlatformDouble) -> None:
    platform.answer_with((429, {"error": "slow down"}, 0, {"Retry-After": "120"}))
    client = make_app(PIOPIY_TIMEOUT=1.0, PIOPIY_RETRIES=5).test_client()
    started = time.monotonic()
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert time.monotonic() - started < 1.0 + 0.5  # PIOPIY_TIMEOUT + a small margin, never 120 s
    body = assert_error_shape(response, 503)
    assert body["code"] == "platform_busy" and "call_id" in body["errors"]
    assert response.headers["Retry-After"] == "60"  # passed on, capped
    assert len(platform.requests) == 1  # waiting 120 s would not fit in the budget: no retry


def test_retries_and_backoff_together_stay_within_piopiy_timeout(make_app, platform: PlatformDouble) -> None:
    platform.answer_with((503, {"error": "busy"}, 0.3))
    client = make_app(PIOPIY_TIMEOUT=1.0, PIOPIY_RETRIES=10, PIOPIY_BACKOFF=0.2).test_client()
    started = time.monotonic()
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert time.monotonic() - started < 1.0 + 0.5
    assert assert_error_shape(response, 502)["code"] == "platform_unavailable"
    assert 1 <= len(platform.requests) < 5


def test_a_short_retry_after_is_obeyed_then_the_call_is_placed(make_app, platform: PlatformDouble) -> None:
    platform.answer_with((429, {"error": "wait"}, 0, {"Retry-After": "1"}), (200, {"request_id": "r-3"}, 0))
    client = make_app(PIOPIY_TIMEOUT=3.0).test_client()
    started = time.monotonic()
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert response.status_code == 201 and 1.0 <= time.monotonic() - started < 3.0


def test_a_429_without_retry_after_is_retryable_not_a_refusal(client, platform: PlatformDouble) -> None:
    platform.answer_with((429, {"error": "slow down"}, 0))
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert assert_error_shape(response, 503)["code"] == "platform_busy"
    assert int(response.headers["Retry-After"]) >= 1


def test_a_legacy_200_with_code_429_is_busy_too(client, platform: PlatformDouble) -> None:
    platform.answer_with((200, {"code": 429, "msg": "Too many requests"}, 0))
    response = client.post("/api/v1/calls", json={"to": "919876543210"}, headers=api_headers())
    assert assert_error_shape(response, 503)["code"] == "platform_busy"
    assert response.headers["Retry-After"] == "1"


# -- 3. input that used to make 500s -----------------------------------------------------------------------

DEEP = "[" * 1000 + "]" * 1000
JSON_ENDPOINTS = [
    ("/api/v1/calls", api_headers()),
    ("/api/v1/pcmo", api_headers()),
    ("/api/v1/calls/nope/actions", api_headers()),
    (hook_url("answer"), {}),
    (hook_url("events"), {}),
    (hook_url("input/nope"), {}),
]


@pytest.mark.parametrize("path, headers", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        '{"a":' * 500 + "1" + "}" * 500,
        '{"to": "\\ud800", "from": "\\udfff", "cmiuuid": "\\ud800"}',
        '{"to": 1e999}',
        '{"to": NaN}',
        '{"to": ' + "9" * 5000 + "}",
    ],
    ids=["deep-list", "deep-object", "lone-surrogates", "inf", "nan", "huge-int"],
)
def test_unreadable_json_is_a_400_on_every_endpoint(client, path, headers, raw) -> None:
    response = client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})
    body = assert_error_shape(response, 400)
    assert body["errors"]


def test_lone_surrogates_never_reach_the_database_through_a_list_of_events(client) -> None:
    raw = '[{"type": "in_missed", "from": "\\ud800"}]'
    assert_error_shape(client.post(hook_url("events"), data=raw, content_type="application/json"), 400)
    assert client.get("/api/v1/calls", headers=api_headers()).get_json()["total"] == 0


def test_extra_params_that_are_unreadable_are_ignored(client) -> None:
    for extra in ('{"callstream_id": "\\ud800"}', "[" * 5000, '{"callstream_id": 1e999}'):
        response = client.post(hook_url("events"), data={"status": "answered", "cmiuuid": "x", "extra_params": extra})
        assert response.status_code == 200


def test_form_bodies_with_odd_bytes_are_stored_safely(client) -> None:
    raw = b"cmiuuid=f1&from=%ED%A0%80%00&to=919111111111&time=1"
    response = client.post(hook_url("answer"), data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert client.get("/api/v1/calls", headers=api_headers()).status_code == 200


@pytest.mark.parametrize(
    "query, field",
    [
        ({"page": str(10**30)}, "page"),
        ({"per_page": str(10**30)}, "per_page"),
        ({"page": "١٢"}, "page"),
        ({"page": "-1"}, "page"),
        ({"since": "1e400"}, "since"),
        ({"since": "nan"}, "since"),
        ({"since": "٣"}, "since"),
    ],
)
def test_bad_query_numbers_are_field_errors(client, query, field) -> None:
    body = assert_error_shape(client.get("/api/v1/calls", query_string=query, headers=api_headers()), 400)
    assert field in body["errors"]


@pytest.mark.parametrize("exp", ["\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", "9" * 5000, "²"])
def test_stream_url_expiry_takes_ascii_digits_only(exp) -> None:
    sig = signing.signature(SECRET_KEY, "c1", int(exp)) if exp.isdecimal() and len(exp) < 20 else "x"
    assert signing.verify(SECRET_KEY, "c1", exp, sig) == "bad signature"


# -- 4. size limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, headers", JSON_ENDPOINTS)
def test_bodies_over_max_content_length_are_a_413(make_app, path, headers) -> None:
    client = make_app(MAX_CONTENT_LENGTH=4096).test_client()
    big = json.dumps({"to": "919876543210", "pad": "x" * 5000})
    response = client.post(path, data=big, headers={**headers, "Content-Type": "application/json"})
    assert_error_shape(response, 413)
    form = client.post(path, data={"pad": "x" * 5000}, headers=headers)
    assert_error_shape(form, 413)


def test_max_content_length_defaults_to_one_mebibyte(app) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_405_carries_allow(client) -> None:
    response = client.delete("/api/v1/calls", headers=api_headers())
    assert_error_shape(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


# -- 5. logs and idempotence --------------------------------------------------------------------------------


def test_control_characters_from_callers_never_start_a_log_line(client, caplog) -> None:
    body = {"from": "919876543210\n2026-01-01 ERROR forged: admin logged in\r", "to": "9191\x1b[31m", "cmiuuid": "l1"}
    with caplog.at_level(logging.INFO):
        assert client.post(hook_url("answer"), json=body).status_code == 200
    lines = [r.getMessage() for r in caplog.records if "inbound from" in r.getMessage()]
    assert lines and all("\n" not in line and "\r" not in line and "\x1b" not in line for line in lines)
    assert "\\n2026-01-01 ERROR forged" in lines[0] and "\\x1b" in lines[0]
    assert "\nforged" not in caplog.text and "\n2026-01-01 ERROR forged" not in caplog.text


def test_an_event_without_any_id_posted_three_times_is_one_call(client) -> None:
    event = {"status": "in_missed", "from": "919876543210", "to": "919111111111"}
    results = [client.post(hook_url("events"), json=event).get_json()["results"][0] for _ in range(3)]
    assert [r["stored"] for r in results] == [True, False, False]
    assert len({r["call_id"] for r in results}) == 1
    assert client.get("/api/v1/calls", headers=api_headers()).get_json()["total"] == 1


@pytest.mark.service
def test_gunicorn_never_logs_the_query_string_of_a_malformed_request(tmp_path, platform: PlatformDouble) -> None:
    import socket
    from pathlib import Path

    from emulator.service import service_process
    from tests.conftest import base_config

    with service_process(base_config(tmp_path, platform.url)) as service:
        host, port = service.url.removeprefix("http://").split(":")
        for line in (
            b"GET /stream/c1?exp=1&sig=sig-secret&token=tok-secret<> HTTP/1.1\r\n\r\n",
            b"GET /webhooks/piopiy/events?token=tok-secret\x7f HTTP/1.1\r\n\r\n",
            b'GET /x?token=tok-secret"\x1b[2J HTTP/1.1\r\n\r\n',
            b"GET /x?a=1 token=tok-secret HTTP/1.1\r\n\r\n",  # a space in the query (#25.12)
            b"GET /x?a=1 b&sig=sig-secret&c HTTP/1.1\r\n\r\n",
        ):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(line)
                assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        deadline = time.monotonic() + 5
        while "Invalid request" not in Path(service.log_path).read_text(errors="replace"):
            assert time.monotonic() < deadline, "gunicorn logged no Invalid request line"
            time.sleep(0.05)
        time.sleep(0.2)
        logged = Path(service.log_path).read_text(errors="replace")
    assert "Invalid request" in logged and "[redacted]" in logged
    assert "tok-secret" not in logged and "sig-secret" not in logged


@pytest.mark.parametrize(
    "line",
    [
        "Invalid request from ip=127.0.0.1: Invalid HTTP Version: 'token=tok-secret HTTP/1.1'",
        'Invalid request from ip=::1: Invalid HTTP Version: "b&sig=tok-secret&c HTTP/1.1"',
        "Invalid request from ip=10.0.0.1: Invalid HTTP request line: 'GET /x?a=1 tok-secret'",
        "bad line GET /x?a=1 token=tok-secret HTTP/1.1",
    ],
)
def test_error_log_redaction_covers_the_whole_line(line: str) -> None:
    """A query with a space in it, or a piece of a request line without its "?", is redacted whole (#25.12)."""
    from app.logs import RedactQuery

    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, "%s", (line,), None)
    RedactQuery().filter(record)
    assert "tok-secret" not in record.getMessage() and "[redacted]" in record.getMessage()


# -- 7. the OpenAPI document says what the views accept -----------------------------------------------------


def test_openapi_documents_every_route_and_the_webhook_bodies(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/calls/{call_id}/recording", "/api/v1/runtime", "/metrics", "/healthz"):
        assert path in paths
    for hook in ("/webhooks/piopiy/answer", "/webhooks/piopiy/events", "/webhooks/piopiy/input/{call_id}"):
        content = paths[hook]["post"]["requestBody"]["content"]
        assert {"application/json", "application/x-www-form-urlencoded"} <= set(content)
    assert "503" in paths["/api/v1/calls"]["post"]["responses"]


def test_openapi_marks_nullable_fields_and_constraints(client) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    call = schemas["Call"]["properties"]
    for name in ("created_at", "answered_at", "ended_at", "from", "to", "platform_id"):
        assert call[name].get("nullable") is True, name
    create = schemas["CallCreate"]["properties"]
    assert create["to"]["pattern"] == r"^\+?[1-9][0-9]{6,15}$"
    assert (create["loop"]["minimum"], create["loop"]["maximum"]) == (1, 10)
    assert create["duration"]["minimum"] == 30 and create["agent"]["minLength"] == 1
    assert create["variables"]["maxProperties"] == 20
    say = schemas["CallActionSay"]["properties"]["text"]
    assert say["minLength"] == 1 and say["maxLength"] == 2000
    assert schemas["AnswerWebhook"]["required"] == ["cmiuuid", "from", "to"]
    assert "errors" in schemas["Error"]["required"]


def test_the_sqlite_file_and_its_wal_are_readable_by_this_user_only(tmp_path) -> None:
    """Call records are nobody else's business (#25, also noted): 0600, also for a file made before the rule."""
    import os
    import stat

    from app.storage.db import Database

    old = tmp_path / "old.db"
    old.write_bytes(b"")
    old.chmod(0o644)
    previous = os.umask(0o022)
    try:
        for path in (tmp_path / "new" / "callstream.db", old):
            db = Database(f"sqlite:///{path}")
            db.write(lambda conn: conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            made = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
            assert {p.name for p in made} >= {path.name, f"{path.name}-wal"}
            for file in made:
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        os.umask(previous)


def test_one_events_request_carries_a_bounded_number_of_events(make_app) -> None:
    """Thousands of events in one request were thousands of writes; now a 413 that names the limit."""
    client = make_app(MAX_EVENTS_PER_REQUEST=5).test_client()
    event = {"cmiuuid": "bound-1", "status": "answered", "direction": "inbound"}
    many = client.post(hook_url("events"), json=[{**event, "n": i} for i in range(6)])
    assert many.status_code == 413 and "5" in many.get_json()["message"] and "_schema" in many.get_json()["errors"]
    default = make_app().test_client().post(hook_url("events"), json=[{**event, "n": i} for i in range(2000)])
    assert default.status_code == 413 and "100" in default.get_json()["message"]
    assert client.post(hook_url("events"), json=[{**event, "n": i} for i in range(5)]).status_code == 200


def test_the_events_webhook_refuses_a_list_or_object_where_one_value_belongs(client) -> None:
    """Review D4: {"cmiuuid": ["x"]} was a 200 and a new call whose platform id was "['x']"."""
    from tests.conftest import WEBHOOK_TOKEN

    url = f"/webhooks/piopiy/events?token={WEBHOOK_TOKEN}"
    bad = client.post(url, json={"status": {"a": 1}, "cmiuuid": ["x"], "type": ["cdr"], "from": 919876543210})
    assert bad.status_code == 400
    assert set(bad.get_json()["errors"]) == {"status", "cmiuuid", "type"}
    many = client.post(url, json=[{"cmiuuid": "ok-1", "status": "in_answered"}, {"cmiuuid": True}])
    assert many.status_code == 400 and set(many.get_json()["errors"]) == {"1.cmiuuid"}
    assert client.get("/api/v1/calls", headers=api_headers()).get_json()["total"] == 0  # nothing stored


def test_a_signature_that_is_not_ascii_is_a_bad_signature_not_a_500(client) -> None:
    """hmac.compare_digest raises TypeError on non-ASCII text: /recordings/<id>.wav answered 500 (API fuzzer)."""
    assert signing.verify(SECRET_KEY, "c-1", "99999999999", "ñ\x9f") == "bad signature"
    assert signing.verify_recording(SECRET_KEY, "c-1", "99999999999", "𢝙") == "bad signature"
    answer = client.get("/recordings/c-1.wav", query_string={"exp": "99999999999", "sig": "Û.%Ï"})
    assert answer.status_code == 403 and answer.get_json()["code"] == "forbidden"
