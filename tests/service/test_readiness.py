"""/readyz on a real gunicorn (#22.3): 503 while warming, 200 once warm, 503 while draining after SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests
import yaml

from emulator.service import service_process
from tests.conftest import base_config
from tests.support.streaming import wait_for

AGENT = {
    "name": "ready",
    "numbers": ["918000000018"],
    "language": "ko",
    "voice": "ko",
    "greeting": "안녕하세요. 네 또는 아니요라고 말씀하세요.",
    "intents": [{"name": "yes", "phrases": ["네"], "reply": "네, 알겠습니다."}],
}


def test_readyz_is_503_while_warming_and_while_draining(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "ready.yaml").write_text(yaml.safe_dump(AGENT, allow_unicode=True))
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents))
    config["DEFAULT_AGENT"] = "ready"
    with service_process(config) as service, requests.Session() as session:
        seen: list[tuple[int, str]] = []

        def ready() -> bool:
            answer = session.get(f"{service.url}/readyz", timeout=5)
            seen.append((answer.status_code, answer.json()["reason"]))
            return answer.status_code == 200

        wait_for(ready, timeout=90, interval=0.1)
        assert seen[0] == (503, "warming") and seen[-1] == (200, "ready"), seen
        assert session.get(f"{service.url}/livez", timeout=5).status_code == 200

        # SIGTERM: gunicorn stops accepting connections, so ask on the kept-alive one, once the drain began.
        os.kill(service.master_pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while "shutting down: leaving" not in Path(service.log_path).read_text(errors="replace"):
            assert time.monotonic() < deadline, "the drain never started"
            time.sleep(0.05)
        draining = session.get(f"{service.url}/readyz", timeout=5)
        assert draining.status_code == 503 and draining.json()["reason"] == "draining"


def test_with_a_drain_notice_new_connections_hear_503_before_the_listener_closes(tmp_path: Path) -> None:
    """Without DRAIN_NOTICE gunicorn closes its listener on SIGTERM, so a load balancer polling /readyz on a new
    connection sees only a refused connection (review D7); with it, it sees the drain."""
    config = base_config(tmp_path, "http://127.0.0.1:1", VOICE_ENABLED="0", DRAIN_NOTICE="3")
    with service_process(config) as service:
        wait_for(lambda: requests.get(f"{service.url}/readyz", timeout=5).status_code == 200, timeout=30)
        os.kill(service.master_pid, signal.SIGTERM)
        deadline, answers = time.monotonic() + 2.0, []
        while time.monotonic() < deadline:  # fresh connections, not a kept-alive one
            answer = requests.get(f"{service.url}/readyz", timeout=5, headers={"Connection": "close"})
            answers.append((answer.status_code, answer.json()["reason"]))
            time.sleep(0.1)
        assert answers[-1] == (503, "draining") and (200, "ready") not in answers[3:], answers
        wait_for(lambda: service.proc.poll() is not None, timeout=30)  # and then it stops
