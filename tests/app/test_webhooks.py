"""The webhooks Piopiy calls: answer, events, DTMF input."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from app.piopiy import signing
from app.services import store
from tests.conftest import PUBLIC_URL, ROOT, SECRET_KEY, WEBHOOK_TOKEN, hook_url

INBOUND = {"from": "919876543210", "to": "919111111111", "time": "2026-11-21 10:00:00", "cmiuuid": "c0ffee-1"}


def answer(client, body=None, **kwargs):
    return client.post(hook_url("answer"), json=body or INBOUND, **kwargs)


def stream_of(pcmo: list[dict]) -> dict:
    streams = [a for a in pcmo if a["action"] == "stream"]
    assert len(streams) == 1, pcmo
    return streams[0]


def test_answer_returns_a_signed_stream_to_us(app, client) -> None:
    response = answer(client)
    assert response.status_code == 200
    pcmo = response.get_json()
    assert [a["action"] for a in pcmo] == ["stream"]  # demo-en greets over the stream itself
    action = stream_of(pcmo)
    url = urlparse(action["ws_url"])
    assert f"{url.scheme}://{url.netloc}" == PUBLIC_URL.replace("https", "wss")
    call_id = url.path.rsplit("/", 1)[1]
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert signing.verify(SECRET_KEY, call_id, query["exp"], query["sig"]) is None
    assert signing.verify(SECRET_KEY, "another-call", query["exp"], query["sig"]) == "bad signature"
    assert action["listen_mode"] == "caller" and action["voice_quality"] == "8000"
    with app.app_context():
        call = store().get(call_id)
    assert call["direction"] == "inbound" and call["platform_id"] == "c0ffee-1" and call["agent"] == "demo-en"
    assert call["from_number"] == "919876543210" and call["state"] == "created"


def test_stream_options_come_from_config(make_app) -> None:
    client = make_app(STREAM_LISTEN_MODE="both", STREAM_VOICE_QUALITY=16000).test_client()
    action = stream_of(answer(client).get_json())
    assert action["listen_mode"] == "both" and action["voice_quality"] == "16000"


def test_signed_urls_expire() -> None:
    url = signing.stream_url(PUBLIC_URL, SECRET_KEY, "abc", ttl=60, now=1000)
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert signing.verify(SECRET_KEY, "abc", query["exp"], query["sig"], now=1059) is None
    assert signing.verify(SECRET_KEY, "abc", query["exp"], query["sig"], now=1061) == "expired"
    assert signing.verify("other-secret", "abc", query["exp"], query["sig"], now=1000) == "bad signature"
    assert signing.verify(SECRET_KEY, "abc", str(int(query["exp"]) + 1000), query["sig"], now=1000) == "bad signature"
    assert signing.verify(SECRET_KEY, "abc", None, None) == "bad signature"
    assert signing.verify(SECRET_KEY, "abc", "soon", query["sig"]) == "bad signature"


def test_answer_accepts_form_bodies_and_keeps_unknown_fields(app, client) -> None:
    body = {**INBOUND, "cmiuuid": "form-1", "circle": "KA", "extra_params": '{"a": 1}'}
    response = client.post(hook_url("answer"), data=body)
    assert response.status_code == 200
    call_id = urlparse(stream_of(response.get_json())["ws_url"]).path.rsplit("/", 1)[1]
    with app.app_context():
        call = store().get(call_id)
    assert call["extra"]["answer"]["circle"] == "KA" and call["extra"]["answer"]["extra_params"] == '{"a": 1}'


def test_numbers_may_arrive_as_integers(client) -> None:
    assert answer(client, {**INBOUND, "from": 919876543210, "to": 919111111111}).status_code == 200


def test_a_retried_answer_webhook_is_the_same_call(app, client) -> None:
    first = stream_of(answer(client).get_json())["ws_url"].split("?")[0]
    second = stream_of(answer(client).get_json())["ws_url"].split("?")[0]
    assert first == second
    with app.app_context():
        assert store().list()[1] == 1


@pytest.mark.parametrize("missing", ["cmiuuid", "from", "to"])
def test_answer_names_missing_fields(client, missing: str) -> None:
    body = {k: v for k, v in INBOUND.items() if k != missing}
    response = answer(client, body)
    assert response.status_code == 400
    assert missing in response.get_json()["errors"]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]"])
def test_unreadable_answer_bodies(client, body: bytes) -> None:
    response = client.post(hook_url("answer"), data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "validation_error"


@pytest.mark.parametrize("path", ["answer", "events", "input/abc"])
def test_webhooks_need_the_token(client, path: str) -> None:
    assert client.post(f"/webhooks/piopiy/{path}", json=INBOUND).status_code == 401
    assert client.post(hook_url(path, "wrong"), json=INBOUND).status_code == 401
    assert client.post(hook_url(path, ""), json=INBOUND).status_code == 401
    body = client.post(f"/webhooks/piopiy/{path}", json=INBOUND, headers={"X-Webhook-Token": "nope"}).get_json()
    assert body["code"] == "unauthorized"


def test_token_may_come_in_a_header(client) -> None:
    response = client.post("/webhooks/piopiy/answer", json=INBOUND, headers={"X-Webhook-Token": WEBHOOK_TOKEN})
    assert response.status_code == 200


def write_agent(folder: Path, **fields) -> None:
    folder.mkdir(exist_ok=True)
    agent = {"name": "custom", "numbers": ["919111111111"], "no_stt": "hangup", **fields}
    (folder / f"{agent['name']}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))


def test_greeting_record_and_stream_in_order(make_app, tmp_path: Path) -> None:
    write_agent(
        tmp_path / "agents",
        greeting="Welcome!",
        greeting_mode="speak",
        record=True,
        stream={"listen_mode": "both", "voice_quality": 16000},
    )
    client = make_app(AGENTS_DIR=str(tmp_path / "agents"), DEFAULT_AGENT="custom").test_client()
    pcmo = answer(client).get_json()
    assert [a["action"] for a in pcmo] == ["speak", "record", "stream"]
    assert pcmo[0]["text"] == "Welcome!"
    assert pcmo[2]["listen_mode"] == "both" and pcmo[2]["voice_quality"] == "16000"


def test_greeting_played_from_a_file(make_app, tmp_path: Path) -> None:
    write_agent(tmp_path / "agents", greeting_mode="play", greeting_file="https://cdn.example.test/hi.mp3")
    write_agent(
        tmp_path / "agents",
        name="uploaded",
        numbers=["919222222222"],
        greeting_mode="play",
        greeting_file="welcome.wav",
    )
    client = make_app(AGENTS_DIR=str(tmp_path / "agents"), DEFAULT_AGENT="custom").test_client()
    assert answer(client).get_json()[0] == {"action": "play", "file_url": "https://cdn.example.test/hi.mp3"}
    other = answer(client, {**INBOUND, "to": "919222222222", "cmiuuid": "c2"}).get_json()
    assert other[0] == {"action": "play", "file_name": "welcome.wav"}


def test_no_agent_at_all_apologises_and_hangs_up(make_app, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    client = make_app(AGENTS_DIR=str(tmp_path / "empty")).test_client()
    assert [a["action"] for a in answer(client).get_json()] == ["speak", "hangup"]


# -- DTMF menu -------------------------------------------------------------------------
def menu_call(client) -> tuple[str, dict]:
    pcmo = answer(client, {**INBOUND, "to": "918000000002", "cmiuuid": "menu-1"}).get_json()
    assert [a["action"] for a in pcmo] == ["play_get_input"]
    url = urlparse(pcmo[0]["action_url"])
    assert url.path.startswith("/webhooks/piopiy/input/") and parse_qs(url.query)["token"] == [WEBHOOK_TOKEN]
    return url.path.rsplit("/", 1)[1], pcmo[0]


def test_menu_digits_lead_to_the_bot_a_person_or_goodbye(app, client) -> None:
    call_id, prompt = menu_call(client)
    # We ship media/menu-ko.wav, so the platform fetches it from us.
    assert prompt["file_url"] == f"{PUBLIC_URL}/media/menu-ko.wav" and prompt["max_digit"] == 1
    bot = client.post(hook_url(f"input/{call_id}"), json={"dtmf": "1"}).get_json()
    assert [a["action"] for a in bot] == ["stream"] and f"/stream/{call_id}?" in bot[0]["ws_url"]
    human = client.post(hook_url(f"input/{call_id}"), data={"dtmf": "2"}).get_json()
    assert [a["action"] for a in human] == ["speak", "bridge"]
    assert human[1]["connect"] == [{"type": "pstn", "number": 919000000003}] and human[1]["ring_type"] == "group"
    assert human[1]["timeout"] == 30 and human[1]["from"] == 919000000000
    bye = client.post(hook_url(f"input/{call_id}"), json={"dtmf": 9}).get_json()
    assert [a["action"] for a in bye] == ["speak", "hangup"]
    again = client.post(hook_url(f"input/{call_id}"), json={"dtmf": "7"}).get_json()
    assert [a["action"] for a in again] == ["speak", "play_get_input"]
    nothing = client.post(hook_url(f"input/{call_id}"), json={"other": "x"}).get_json()
    assert [a["action"] for a in nothing] == ["speak", "play_get_input"]
    with app.app_context():
        choices = [e["detail"]["choice"] for e in store().timeline(call_id) if e["kind"] == "dtmf"]
    assert choices == ["bot", "transfer", "hangup", "invalid", "invalid"]


def test_menu_for_unknown_call_or_agent_without_menu(client) -> None:
    assert client.post(hook_url("input/nope"), json={"dtmf": "1"}).status_code == 404
    call_id = urlparse(stream_of(answer(client).get_json())["ws_url"]).path.rsplit("/", 1)[1]
    assert client.post(hook_url(f"input/{call_id}"), json={"dtmf": "1"}).status_code == 404


# -- events ----------------------------------------------------------------------------
def test_events_are_stored_once_however_often_retried(app, client) -> None:
    call_id = urlparse(stream_of(answer(client).get_json())["ws_url"]).path.rsplit("/", 1)[1]
    cdr = {
        "type": "in_answered",
        "cmiuuid": "c0ffee-1",
        "from": "919876543210",
        "to": "919111111111",
        "duration": 42,
        "answered_time": 1763719200000,
    }
    first = client.post(hook_url("events"), json=cdr).get_json()
    second = client.post(hook_url("events"), json=cdr).get_json()
    third = client.post(hook_url("events"), data={k: str(v) for k, v in cdr.items()}).get_json()
    assert {k: first["results"][0][k] for k in ("call_id", "kind", "stored")} == {
        "call_id": call_id,
        "kind": "in_answered",
        "stored": True,
    }
    assert second["results"][0]["stored"] is False
    assert third["results"][0]["stored"] is True  # a form body is a different payload (strings)
    with app.app_context():
        calls = store()
        assert len(calls.events(call_id)) == 2
        call = calls.get(call_id)
    assert call["state"] == "ended" and call["end_reason"] == "completed"
    assert call["answered_at"] == pytest.approx(1763719200.0)


def test_a_missed_call_ends_with_reason_missed(app, client) -> None:
    client.post(hook_url("events"), json={"type": "in_missed", "cmiuuid": "m-1", "from": "919876543210", "to": "9191"})
    with app.app_context():
        calls, total = store().list(state="ended")
    assert total == 1 and calls[0]["end_reason"] == "missed" and calls[0]["direction"] == "inbound"


def test_live_events_update_the_timeline_without_ending(app, client) -> None:
    call_id = urlparse(stream_of(answer(client).get_json())["ws_url"]).path.rsplit("/", 1)[1]
    events = [
        {"status": "stream_connected", "ws_status": "open", "cmiuuid": "c0ffee-1"},
        {"status": "out_bridged", "cmiuuid": "c0ffee-1", "number": "919000000003"},
    ]
    results = client.post(hook_url("events"), json=events).get_json()["results"]
    assert [r["stored"] for r in results] == [True, True]
    with app.app_context():
        kinds = [(e["kind"], e["detail"].get("kind")) for e in store().timeline(call_id)]
        assert store().get(call_id)["state"] == "created"
    assert ("stream", None) in kinds and ("event", "live.out_bridged") in kinds  # the stream's own leg is no ring


def test_events_find_outbound_calls_by_our_id_in_extra_params(app, client) -> None:
    with app.app_context():
        call = store().create(direction="outbound", from_number="919000000000", to_number="919876543210")
    event = {
        "type": "out_missed",
        "request_id": "unknown-to-us",
        "extra_params": f'{{"callstream_id": "{call["id"]}"}}',
    }
    result = client.post(hook_url("events"), json=event).get_json()["results"][0]
    assert result["call_id"] == call["id"]
    with app.app_context():
        assert store().get(call["id"])["end_reason"] == "missed"


@pytest.mark.parametrize("body", [[1, 2], ["x"], [{"type": "in_missed"}, 3]])
def test_events_must_be_objects(client, body) -> None:
    response = client.post(hook_url("events"), json=body)
    assert response.status_code == 400 and response.get_json()["errors"]


def test_unknown_event_shapes_are_kept(app, client) -> None:
    result = client.post(hook_url("events"), json={"whatever": True, "t": time.time()}).get_json()["results"][0]
    assert result["kind"] == "unknown" and result["stored"] is True


def test_the_shipped_agents_are_valid() -> None:
    from app.agents.book import load_agents

    book = load_agents(ROOT / "agents", "demo-en")
    assert book.errors == [] and {"demo-en", "demo-ko"} <= set(book.agents)


def test_no_digits_replays_the_menu_and_bad_digits_are_400(client) -> None:
    call_id, _ = menu_call(client)
    for body in ({"dtmf": ""}, {"dtmf": None}, {}):
        again = client.post(hook_url(f"input/{call_id}"), json=body)
        assert again.status_code == 200 and [a["action"] for a in again.get_json()] == ["speak", "play_get_input"]
    bad = client.post(hook_url(f"input/{call_id}"), json={"dtmf": "1; drop"})
    assert bad.status_code == 400 and "dtmf" in bad.get_json()["errors"]
