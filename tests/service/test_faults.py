"""Faults: the service stopped (SIGTERM) or killed (kill -9) mid-call, and replayed stream URLs.

Everything runs for real: gunicorn with the gevent worker, sockets over loopback.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import yaml

from app.storage.calls import CallStore
from app.storage.db import Database
from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import base_config, database_url
from tests.support.streaming import answer, call_id_of, closed_with, drain, get_call, runtime, stream_url, wait_for

FRAME = b"\x01\x00" * 160
AGENT = {
    "name": "shut",
    "numbers": ["918000000009"],
    "language": "ko",
    "voice": "ko",
    "greeting": "",
    "intents": [{"name": "yes", "phrases": ["네"], "reply": "네"}],
    "human": {"numbers": ["919000000077"]},
    "shutdown_message": "점검 때문에 통화를 종료합니다.",
}


def _stored(tmp_path: Path, call_id: str) -> dict:
    return CallStore(Database(database_url(tmp_path))).get(call_id)  # type: ignore[return-value]


def _keep_talking(ws, seconds: float) -> list:
    """Send caller frames for ``seconds`` and collect what the service sends."""
    return _all_keep_talking([ws], seconds)[0]


def _all_keep_talking(sockets: list, seconds: float) -> list[list]:
    """Every socket talks (a frame each 20 ms) until it closes or ``seconds`` pass; what each heard."""
    heard: list[list] = [[] for _ in sockets]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(ws.connected for ws in sockets):
        for ws, got in zip(sockets, heard, strict=True):
            if ws.connected:
                try:
                    ws.send(FRAME)
                except Exception:  # noqa: BLE001 - the service closed the socket
                    pass
            got += drain(ws, 0.005)
    for ws, got in zip(sockets, heard, strict=True):
        got += drain(ws, 0.05)  # what arrived just before the close
    return heard


def test_sigterm_tells_every_live_call_and_ends_it_properly(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "shut.yaml").write_text(yaml.safe_dump(AGENT, allow_unicode=True))
    config = base_config(
        tmp_path,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        AGENTS_DIR=str(agents),
        DEFAULT_AGENT="shut",
    )
    with service_process(config) as service:
        urls = [stream_url(service.url, to="918000000009") for _ in range(3)]
        sockets = [connect(url) for url in urls]
        for ws in sockets:
            _keep_talking(ws, 0.2)
        wait_for(lambda: all(get_call(service.url, call_id_of(u))["state"] == "live" for u in urls))
        os.killpg(service.proc.pid, signal.SIGTERM)  # as a PaaS stops a dyno: the whole process group
        heard = _all_keep_talking(sockets, 12)
        codes = [closed_with(ws, 5) for ws in sockets]
        assert service.proc.wait(timeout=30) == 0
    for url, got, code in zip(urls, heard, codes, strict=True):
        kinds = [m.get("type") if isinstance(m, dict) else m for m in got]
        assert "streamAudio" in kinds, (kinds, code, _stored(tmp_path, call_id_of(url)))  # the message was played
        assert got[-1] == [{"action": "hangup"}] and code == (1001, "shutdown")
        call = _stored(tmp_path, call_id_of(url))
        assert (call["state"], call["end_reason"]) == ("ended", "shutdown")
        said = CallStore(Database(database_url(tmp_path))).transcript(call["id"])
        assert [line["text"] for line in said if line["speaker"] == "bot"] == [AGENT["shutdown_message"]]


def test_a_killed_worker_leaves_no_call_live(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0)
    with service_process(config) as service:
        url = stream_url(service.url)
        ws = connect(url)
        _keep_talking(ws, 0.2)
        wait_for(lambda: get_call(service.url, call_id_of(url))["state"] == "live")
        worker = psutil.Process(service.proc.pid).children()[0]
        worker.kill()  # kill -9: no drain, no close frame
        _keep_talking(ws, 1)
        # gunicorn starts a new worker; on start it ends what the dead one held.
        ended = wait_for(lambda: (c := get_call(service.url, call_id_of(url)))["state"] == "ended" and c, timeout=30)
        assert ended["end_reason"] == "interrupted"


@pytest.mark.parametrize("voice", [0])
def test_a_replayed_stream_url_of_an_ended_call_is_refused(tmp_path: Path, voice: int) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=voice)
    with service_process(config) as service:
        url = stream_url(service.url)
        ws = connect(url)
        _keep_talking(ws, 0.2)
        ws.close()
        wait_for(lambda: get_call(service.url, call_id_of(url))["state"] == "ended")
        replay = connect(url)
        assert closed_with(replay) == (1008, "this call has ended")
        call = get_call(service.url, call_id_of(url))
        assert call["end_reason"] == "socket_closed" and not call["live"]
        assert [a["action"] for a in answer(service.url)] == ["stream"]  # new calls are still welcome


def test_a_login_flood_leaves_twenty_live_calls_audio_alone(tmp_path: Path) -> None:
    import re
    import threading

    import requests

    from tests.support.streaming import act

    config = base_config(
        tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, DASHBOARD_USER="ops",
        DASHBOARD_PASSWORD="right-password", LOGIN_LIMIT_PER_ADDRESS="off", LOGIN_LIMIT_PER_ACCOUNT="off",
    )  # fmt: skip
    with service_process(config) as service:
        urls = [stream_url(service.url) for _ in range(20)]
        sockets = [connect(u) for u in urls]
        for ws in sockets:
            ws.send(FRAME)
        wait_for(lambda: runtime(service.url)["sessions"] == 20)  # every call live before it is commanded
        arrivals: list[list[float]] = [[] for _ in sockets]

        def listen(ws, times: list[float]) -> None:  # noqa: ANN001
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                message = ws.receive(timeout=0.5)
                if isinstance(message, str) and "streamAudio" in message:
                    times.append(time.monotonic())

        readers = [threading.Thread(target=listen, args=pair) for pair in zip(sockets, arrivals, strict=True)]
        for thread in readers:
            thread.start()
        for url in urls:  # 3 s of hold music on every call, streamed by the service
            assert act(service.url, call_id_of(url), action="play", file="hold.wav").status_code == 200
        time.sleep(0.8)
        forms = []
        for _ in range(20):
            session = requests.Session()
            page = session.get(f"{service.url}/login", timeout=5).text
            forms.append((session, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)))

        def wrong(session: requests.Session, token: str) -> None:
            data = {"username": "ops", "password": "wrong", "csrf_token": token}
            session.post(f"{service.url}/login", data=data, timeout=30)

        flood = [threading.Thread(target=wrong, args=form) for form in forms]
        for thread in flood:
            thread.start()
        for thread in flood + readers:
            thread.join(timeout=15)
    gaps = [later - earlier for times in arrivals for earlier, later in zip(times, times[1:], strict=False)]
    assert all(len(times) >= 28 for times in arrivals)  # ~30 chunks of 100 ms each reached every caller
    # Twenty hashes on the event loop stall every call's audio ~2.2 s (measured); in the hash pool the worst gap
    # is ~0.12 s here. 0.5 s leaves room for one scheduling blip of a shared vCPU (CI saw 330 ms once).
    assert max(gaps) < 0.5, f"worst gap between audio chunks {max(gaps) * 1000:.0f} ms"
