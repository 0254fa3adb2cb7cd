"""Many nodes through a real Redis: commands reach the node holding the call, feeds see every node, lost nodes end.

Two gunicorn services share one PostgreSQL database and one redis-server, as two
hosts behind one URL would (a socket on A, a command on B); then one service with
four workers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from pathlib import Path

import pytest
import redis
import requests
from simple_websocket import Client

from emulator.service import free_port, service_process
from emulator.wsclient import connect
from tests.conftest import WEBHOOK_TOKEN, base_config, shared_postgres
from tests.support.redis_server import redis_server
from tests.support.streaming import act, call_id_of, drain, get_call, stream_url, wait_for

FRAME = b"\x01\x00" * 160
PASSWORD = "cluster-pass-1"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> str:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def postgres_url() -> str:
    """A fresh database on the session's PostgreSQL: what several hosts share in production."""
    server = shared_postgres()
    return server.url(server.create_database())


def node_config(tmp: Path, redis_url: str, **extra) -> dict:
    return base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        VOICE_ENABLED=0,
        REDIS_URL=redis_url,
        CLUSTER_HEARTBEAT=0.5,
        CLUSTER_TTL=3,
        DASHBOARD_USER="ops",
        DASHBOARD_PASSWORD=PASSWORD,
        **extra,
    )


def dashboard_session(url: str) -> requests.Session:
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{url}/login", timeout=5).text).group(1)
    session.post(f"{url}/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token}, timeout=10)
    return session


def feed_lines(session: requests.Session, url: str, out: list[str], stop: threading.Event) -> None:
    with session.get(f"{url}/dashboard/events", stream=True, timeout=30) as response:
        for line in response.iter_lines(decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("data: "):
                out.append(line[6:])


def test_a_command_on_node_b_reaches_the_call_on_node_a(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    config = node_config(tmp_path, redis_url, DATABASE_URL=postgres_url)
    with service_process(config) as a, service_process(config) as b:
        watcher = dashboard_session(b.url)
        seen: list[str] = []
        stop = threading.Event()
        threading.Thread(target=feed_lines, args=(watcher, b.url, seen, stop), daemon=True).start()
        url = stream_url(a.url)  # A answers and places the call on itself (equally loaded: itself)
        assert url.startswith(a.url.replace("http", "ws"))
        call_id = call_id_of(url)
        ws = connect(url)
        ws.send(FRAME)
        wait_for(lambda: get_call(b.url, call_id)["live"])  # B knows A holds it
        response = act(b.url, call_id, action="pause")
        assert response.status_code == 200, response.text
        assert {"action": "pause"} in drain(ws, 1)
        refused = act(b.url, call_id, action="say", text="hello")  # A has no TTS: its refusal, with its own code
        assert (refused.status_code, refused.json()["code"]) == (501, "not_available")
        wait_for(lambda: any(call_id in line and '"control"' in line for line in seen), timeout=10)  # B's feed
        assert call_id[:8] in watcher.get(f"{b.url}/dashboard/calls", timeout=5).text  # B lists A's live call
        cookie = "; ".join(f"{k}={v}" for k, v in watcher.cookies.items())
        listener = Client.connect(
            f"{b.url.replace('http', 'ws')}/dashboard/calls/{call_id}/listen",
            headers={"Cookie": cookie, "Origin": b.url},  # a browser socket: this service's own page only
        )
        assert json.loads(listener.receive(timeout=5)) == {"rate": 8000}
        for _ in range(5):
            ws.send(FRAME)
        heard = listener.receive(timeout=5)  # A's caller audio, through Redis, on B's listen-in socket
        assert isinstance(heard, bytes) and heard == b"c" + FRAME
        listener.close()
        stop.set()
        os.killpg(a.proc.pid, signal.SIGKILL)  # node A dies: no drain, no close frame
        lost = wait_for(lambda: (c := get_call(b.url, call_id))["state"] == "ended" and c, timeout=15)
        assert lost["end_reason"] == "node_lost"
        assert act(b.url, call_id, action="pause").json()["code"] == "call_not_live"


def test_four_workers_route_every_command_to_its_call(tmp_path: Path, redis_url: str) -> None:
    config = node_config(tmp_path, redis_url, WEB_CONCURRENCY=4)
    redis.Redis.from_url(redis_url).flushdb()  # an earlier test's killed node must not be picked for a call
    with service_process(config) as service:
        sockets = {}
        for _ in range(20):
            url = stream_url(service.url)
            sockets[call_id_of(url)] = ws = connect(url)
            ws.send(FRAME)
        wait_for(lambda: all(get_call(service.url, cid)["live"] for cid in sockets), timeout=20)
        for call_id in sockets:
            response = act(service.url, call_id, action="pause")
            assert response.status_code == 200, response.text
        for call_id, ws in sockets.items():
            assert {"action": "pause"} in drain(ws, 0.5), call_id
        for ws in sockets.values():
            ws.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_platform_set_web_concurrency_without_redis_runs_one_worker(tmp_path: Path) -> None:
    """Heroku's buildpack sets WEB_CONCURRENCY at dyno boot: the first deploy, without Redis, must still start."""
    config = base_config(tmp_path, "http://127.0.0.1:1", WEB_CONCURRENCY=2, VOICE_ENABLED=0)
    with service_process(config, startup=20) as service:
        assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 200
        assert len(_children(service.master_pid)) == 1
        logged = Path(service.log_path).read_text(errors="replace")
        assert "WEB_CONCURRENCY=2 without REDIS_URL: running 1 worker" in logged


def test_an_unreachable_redis_is_refused_without_showing_its_password(tmp_path: Path) -> None:
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    config = base_config(tmp_path, "http://127.0.0.1:1", REDIS_URL=url, VOICE_ENABLED=0)
    with pytest.raises(RuntimeError) as refused, service_process(config, startup=20):
        pass
    message = str(refused.value)
    assert "REDIS_URL redis://:***@127.0.0.1" in message and "hunter2secret" not in message


def test_losing_redis_mid_call_keeps_calls_and_fails_remote_commands_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder) as url:
        config = node_config(tmp_path, url)
        with service_process(config) as a, service_process(config) as b:
            ws_url = stream_url(a.url)
            call_id = call_id_of(ws_url)
            ws = connect(ws_url)
            ws.send(FRAME)
            wait_for(lambda: act(b.url, call_id, action="pause").status_code == 200)
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            redis_down = __import__("redis").Redis(port=port)
            redis_down.shutdown(nosave=True)  # Redis goes away mid-call
            refused = act(b.url, call_id, action="resume")
            assert (refused.status_code, refused.json()["code"]) == (503, "cluster_unavailable")
            for _ in range(10):  # A's call goes on: its socket still works, locally
                ws.send(FRAME)
            assert act(a.url, call_id, action="resume").status_code == 200
            assert {"action": "resume"} in drain(ws, 1)
            assert get_call(a.url, call_id)["state"] == "live"


def test_the_platform_word_on_a_ring_reaches_the_call_on_another_node(tmp_path: Path, redis_url: str) -> None:
    config = node_config(tmp_path, redis_url)
    with service_process(config) as a, service_process(config) as b:
        url = stream_url(a.url, cmiuuid="conv-cluster-1")  # A holds the call's socket
        call_id = call_id_of(url)
        ws = connect(url)
        ws.send(FRAME)
        wait_for(lambda: get_call(b.url, call_id)["live"])
        assert act(b.url, call_id, action="transfer", numbers=["919000000077"]).status_code == 200
        assert any(isinstance(m, list) and m[0]["action"] == "bridge" for m in drain(ws, 1))
        missed = {"type": "cdr", "leg": "b", "status": "missed", "hangup_reason": "recv_cancel",
                  "cmiuuid": "leg-b-1", "conversation_uuid": "conv-cluster-1"}  # fmt: skip
        hook = f"{b.url}/webhooks/piopiy/events"
        result = requests.post(hook, params={"token": WEBHOOK_TOKEN}, json=missed, timeout=10).json()["results"][0]
        assert (result["call_id"], result["applied"]) == (call_id, "unanswered")  # B handed it to A's call
        done = wait_for(lambda: (c := get_call(b.url, call_id))["state"] == "ended" and c, timeout=10)
        assert done["end_reason"] == "handoff_unanswered"  # no voice on these nodes: nobody to take the caller back
        assert done["handoff"]["state"] == "unanswered" and done["handoff"]["by"] == "platform"


def test_a_draining_node_leaves_the_rotation_at_once(redis_url: str) -> None:
    """SIGTERM's drain tells Redis straight away: no other node places a new call on a node that refuses it."""
    from app.runtime.cluster import Cluster
    from app.runtime.cluster import connect as connect_redis
    from streams.events import EventBus
    from streams.session.registry import CallRegistry

    client = connect_redis(redis_url)
    client.flushdb()
    a, b = (
        Cluster(client, node_url=f"http://{name}", calls=CallRegistry(10), bus=EventBus(), node_id=name)
        for name in ("a", "b")
    )
    a.announce()
    b.announce()
    assert {n["id"]: n["accepting"] for n in b.nodes()} == {"a": True, "b": True}
    b.leave_rotation()
    assert [a.pick_node() for _ in range(5)] == ["http://a"] * 5 and b.pick_node() == "http://a"
    a.leave_rotation()
    assert a.pick_node() is None  # every node drains: the answer is busy
    client.flushdb()
