"""Health that routers understand (#22.3): /livez the process answers, /readyz this node takes calls."""

from __future__ import annotations

from pathlib import Path

from app.runtime.shutdown import drain
from app.services import registry


def _codes(client) -> tuple[int, int, int]:
    return tuple(client.get(path).status_code for path in ("/livez", "/readyz", "/healthz"))  # type: ignore[return-value]


def test_a_node_that_takes_calls_is_live_and_ready(make_app) -> None:
    client = make_app(VOICE_ENABLED=0).test_client()  # voice off is a choice, not a fault: still ready
    assert _codes(client) == (200, 200, 200)
    ready = client.get("/readyz")
    assert ready.get_json()["ready"] is True and ready.get_json()["reason"] == "ready"
    assert ready.headers["Cache-Control"] == "no-store"
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["ready"] is True  # voice_off is listed, not blocking


def test_warming_is_alive_but_not_ready(make_app) -> None:
    app = make_app(VOICE_ENABLED=0)
    app.extensions["callstream"].warming = True  # what app.live.warmup sets until the caches are warm
    client = app.test_client()
    assert _codes(client) == (200, 503, 503)
    assert client.get("/readyz").get_json()["reason"] == "warming"
    assert client.get("/healthz").get_json()["status"] == "warming"  # /healthz keeps its body


def test_draining_turns_the_router_away(make_app) -> None:
    app = make_app(VOICE_ENABLED=0)
    assert drain(app.extensions["callstream"], timeout=1) == 0  # what SIGTERM runs
    client = app.test_client()
    assert _codes(client) == (200, 503, 503)
    body = client.get("/readyz").get_json()
    assert body["reason"] == "draining" and "Shutting down" in body["message"]
    assert client.get("/healthz").get_json()["status"] == "draining"


def test_a_full_node_is_not_ready(make_app, harness) -> None:
    app = make_app(VOICE_ENABLED=0, MAX_CALLS=1)
    client = app.test_client()
    call = harness(call_id="c-full").call
    with app.app_context():
        registry().add(call)
        try:
            body = client.get("/readyz")
            assert body.status_code == 503 and body.get_json()["reason"] == "full"
            assert body.get_json()["calls"] == {"live": 1, "max": 1}
            assert client.get("/livez").status_code == 200
        finally:
            registry().remove(call)
    assert client.get("/readyz").status_code == 200


def test_degraded_past_the_threshold_is_not_ready(tmp_path: Path, make_app) -> None:
    empty = tmp_path / "agents"
    empty.mkdir()
    client = make_app(VOICE_ENABLED=0, AGENTS_DIR=str(empty)).test_client()  # no agent: every caller apologised to
    assert _codes(client) == (200, 503, 503)
    body = client.get("/readyz").get_json()
    assert body["reason"] == "degraded" and "DEFAULT_AGENT" in body["message"]
    problems = {p["code"]: p for p in client.get("/healthz").get_json()["problems"]}
    assert problems["no_default_agent"]["blocking"] is True


def test_a_problem_of_one_agent_leaves_the_node_ready(tmp_path: Path, make_app) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "good.yaml").write_text("name: good\nlanguage: ko\nvoice: ko\ngreeting: hi\n")
    (agents / "broken.yaml").write_text("name: broken\nrate: fast\n")
    client = make_app(VOICE_ENABLED=0, AGENTS_DIR=str(agents), DEFAULT_AGENT="missing").test_client()
    assert _codes(client) == (200, 200, 200)  # every node shares it: refusing here would refuse everywhere


def test_an_agent_posting_its_brief_unsigned_is_named_but_the_node_stays_ready(tmp_path: Path, make_app) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    human = "human: {numbers: ['919000000077'], handoff_url: 'https://crm.example.test/handoff'}\n"
    (agents / "crm.yaml").write_text("name: crm\nlanguage: ko\nvoice: ko\n" + human)
    unsigned = make_app(VOICE_ENABLED=0, AGENTS_DIR=str(agents), DEFAULT_AGENT="crm").test_client()
    problems = {p["code"]: p for p in unsigned.get("/healthz").get_json()["problems"]}
    assert problems["handoff_unsigned"]["detail"]["agent"] == "crm"
    assert unsigned.get("/readyz").status_code == 200
    secret = "whsec_" + "A" * 43 + "="
    signed = make_app(VOICE_ENABLED=0, AGENTS_DIR=str(agents), DEFAULT_AGENT="crm", WEBHOOK_SIGNING_SECRET=secret)
    assert "handoff_unsigned" not in {p["code"] for p in signed.test_client().get("/healthz").get_json()["problems"]}


def test_no_speech_model_at_all_leaves_the_node_ready_as_it_still_takes_calls(tmp_path: Path, make_app) -> None:
    """The answer webhook answers such a node's callers (its agents' no_stt rule: a person), so /readyz must not
    turn routers away from it: a container HEALTHCHECK on /readyz would never pass on a deploy without a model."""
    app = make_app(DEFAULT_AGENT="demo-ko", VOSK_MODEL_PATH="off")  # as a node where no model was found
    client = app.test_client()
    problems = {p["code"]: p for p in client.get("/healthz").get_json()["problems"]}
    assert problems["no_speech_model"]["blocking"] is False
    assert _codes(client) == (200, 200, 200)
