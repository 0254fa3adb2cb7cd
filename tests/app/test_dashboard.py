"""The dashboard through the test client: sign-in, CSRF, pages, data endpoints."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from app.piopiy import signing
from app.services import store
from tests.conftest import ROOT, SECRET_KEY

PASSWORD = "operator-password"


@pytest.fixture
def dash_app(make_app, tmp_path: Path):
    folder = tmp_path / "agents"
    folder.mkdir()
    for path in (ROOT / "agents").glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    (folder / "broken.yaml").write_text(yaml.safe_dump({"name": "broken", "intents": [{"name": "x"}]}))
    return make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, AGENTS_DIR=str(folder))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def sign_in(client, password: str = PASSWORD) -> str:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "ops", "password": password, "csrf_token": token})
    return response


@pytest.mark.parametrize(
    "path", ["/dashboard/calls", "/dashboard/agents", "/dashboard/softphone", "/dashboard/calls/x"]
)
def test_pages_redirect_to_sign_in(dash_app, path: str) -> None:
    response = dash_app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/dashboard/events"),
        ("get", "/dashboard/api/calls/x"),
        ("post", "/dashboard/api/calls/x/actions"),
        ("post", "/dashboard/api/softphone"),
        ("get", "/dashboard/calls/x/recording"),
    ],
)
def test_data_endpoints_answer_401(dash_app, method: str, path: str) -> None:
    response = getattr(dash_app.test_client(), method)(path)
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"


def test_sign_in_and_out(dash_app) -> None:
    client = dash_app.test_client()
    wrong = sign_in(client, "nope")
    assert wrong.status_code == 401 and b"Wrong user name or password" in wrong.data
    ok = sign_in(client)
    assert ok.status_code == 302 and ok.headers["Location"] == "/dashboard/calls"
    page = client.get("/dashboard/calls")
    assert page.status_code == 200 and b"Live calls" in page.data
    token = csrf_of(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/calls").status_code == 302


def test_sign_in_needs_the_csrf_token(dash_app) -> None:
    client = dash_app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "ops", "password": PASSWORD})
    assert response.status_code == 401 and b"form expired" in response.data
    assert client.get("/dashboard/calls").status_code == 302


def test_state_changing_requests_need_csrf(dash_app) -> None:
    client = dash_app.test_client()
    sign_in(client)
    response = client.post("/dashboard/api/softphone", json={"agent": "demo-ko"})
    assert response.status_code == 403
    token = csrf_of(client.get("/dashboard/softphone").get_data(as_text=True))
    assert (
        client.post(
            "/dashboard/api/softphone", json={"agent": "demo-ko"}, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    assert (
        client.post("/dashboard/api/softphone", json={"agent": "demo-ko"}, headers={"X-CSRF-Token": token}).status_code
        == 201
    )


def test_softphone_gets_a_signed_stream_url(dash_app) -> None:
    client = dash_app.test_client()
    sign_in(client)
    token = csrf_of(client.get("/dashboard/softphone").get_data(as_text=True))
    answer = client.post("/dashboard/api/softphone", json={"agent": "demo-ko"}, headers={"X-CSRF-Token": token})
    body = answer.get_json()
    url = urlparse(body["ws_url"])
    query = dict(part.split("=") for part in url.query.split("&"))
    assert url.path == f"/stream/{body['call_id']}" and body["rate"] == 8000
    assert signing.verify(SECRET_KEY, body["call_id"], query["exp"], query["sig"]) is None
    with dash_app.app_context():
        call = store().get(body["call_id"])
    assert call["direction"] == "browser" and call["agent"] == "demo-ko"
    bad = client.post("/dashboard/api/softphone", json={"agent": "nobody"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "agent" in bad.get_json()["errors"]


def test_dashboard_actions_take_the_rest_path(dash_app) -> None:
    client = dash_app.test_client()
    sign_in(client)
    token = csrf_of(client.get("/dashboard/calls").get_data(as_text=True))
    with dash_app.app_context():
        call = store().create(direction="inbound", from_number="1", to_number="2", agent="demo-ko")
    url = f"/dashboard/api/calls/{call['id']}/actions"
    assert client.post(url, json={"action": "pause"}, headers={"X-CSRF-Token": token}).status_code == 409
    bad = client.post(url, json={"action": "dance"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "action" in bad.get_json()["errors"]
    assert (
        client.post(
            "/dashboard/api/calls/none/actions", json={"action": "pause"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 404
    )


def test_pages_render(dash_app) -> None:
    client = dash_app.test_client()
    sign_in(client)
    with dash_app.app_context():
        call = store().create(
            direction="inbound", from_number="919876543210", to_number="918000000002", agent="demo-ko"
        )
        store().add_transcript(call["id"], "caller", "네")
        store().add_timeline(call["id"], "reply", {"n": 1, "latency_ms": 321.5})
        store().set_state(call["id"], "connecting")
        turn = {"n": 1, "text": "네", "speech_ms": 300, "ended_by": "smart", "waited_ms": 150, "completeness": [0.9]}
        store().add_timeline(call["id"], "turn", turn)
        store().add_timeline(call["id"], "spoken", {"text": "안녕", "started_at": 1796065726.5, "cuts": [{"n": 1}]})
        store().set_state(call["id"], "ended", reason="hangup", at=call["created_at"] + 75)
    calls = client.get("/dashboard/calls").get_data(as_text=True)
    assert call["id"][:8] in calls and "네" in calls
    assert re.search(r'data-field="duration" data-ended="[0-9.]+">1:15</td>', calls)  # shown before any script runs
    chart = client.get("/dashboard/charts/hour.svg")
    assert chart.mimetype == "image/svg+xml" and "live now: 0" in chart.get_data(as_text=True)
    lanes = client.get(f"/dashboard/calls/{call['id']}/timeline.svg")
    picture = lanes.get_data(as_text=True)
    assert lanes.mimetype == "image/svg+xml" and picture.startswith("<svg")
    assert picture.index("322 ms</text>") > picture.index('fill="#bfdbfe"')  # the latency drawn over the pause
    detail = client.get(f"/dashboard/calls/{call['id']}").get_data(as_text=True)
    assert "Transcript" in detail and "322 ms" in detail and "919000000003" in detail  # transfer prefilled
    assert "text: 안녕, started_at: 19:08:46.500, cuts: [(n: 1)]" in detail  # read as text, times of day
    assert "recording is off" in detail and "Turn 1 at" not in detail  # no recording, no seek buttons
    assert "ended by the turn model after a 150 ms pause, model P(complete) 0.90" in detail
    agents = client.get("/dashboard/agents").get_data(as_text=True)
    assert "demo-ko" in agents and "broken.yaml" in agents and "Missing data for required field" in agents
    agent = client.get("/dashboard/agents/demo-ko").get_data(as_text=True)
    assert "상담원" in agent and "hold_message" in agent
    assert client.get("/dashboard/agents/nobody").status_code == 404
    assert client.get("/dashboard/calls?state=weird").status_code == 400
    soft = client.get("/dashboard/softphone").get_data(as_text=True)
    assert "Call my bot" in soft and "demo-ko" in soft


def test_missing_speech_model_and_broken_agents_are_shown(make_app, tmp_path: Path) -> None:
    folder = tmp_path / "agents2"
    folder.mkdir()
    (folder / "demo-ko.yaml").write_text((ROOT / "agents" / "demo-ko.yaml").read_text())
    (folder / "bad.yaml").write_text("name: [unclosed")
    app = make_app(DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, VOSK_MODEL_PATH="off", AGENTS_DIR=str(folder))
    client = app.test_client()
    sign_in(client)
    page = client.get("/dashboard/calls").get_data(as_text=True)
    assert "No speech recognition" in page and "bad.yaml" in page


def test_no_password_means_no_sign_in(make_app) -> None:
    client = make_app(DASHBOARD_PASSWORD="").test_client()
    response = sign_in(client, "")
    assert response.status_code == 401 and b"no password configured" in response.data


def test_the_hour_chart_counts_calls_live_in_each_minute_and_reply_latency() -> None:
    from app.dashboard.charts import per_minute

    now = 10_000 * 60 + 30.0  # half a minute into the current minute (row 59)
    minute = lambda i: now - 30 - (59 - i) * 60  # noqa: E731 - the start of row i
    calls = [
        {"created_at": minute(50) + 5, "ended_at": minute(52) + 1, "state": "ended"},  # rows 50..52
        {"created_at": minute(58), "ended_at": None, "state": "live"},  # still live: rows 58..59
        {"created_at": minute(55), "ended_at": None, "state": "created"},  # never streamed: started only
        {"created_at": minute(0) - 600, "ended_at": minute(1), "state": "ended"},  # began before the hour
    ]
    replies = [{"at": minute(51) + i, "detail": {"latency_ms": ms}} for i, ms in enumerate([300, 310, 900])]
    rows = per_minute(calls, replies, now=now)
    assert len(rows) == 60 and [r["live"] for r in rows[49:54]] == [0, 1, 1, 1, 0]
    assert rows[58]["live"] == rows[59]["live"] == 1 and rows[55] == {**rows[55], "calls": 1, "live": 0}
    assert rows[0]["live"] == rows[1]["live"] == 1 and rows[0]["calls"] == 0
    assert (rows[51]["p50"], rows[51]["p95"]) == (310.0, 900.0) and rows[52]["p50"] is None
